/** Reader matching (--reader NAME) and the ATR check, without pcscd. */
import { describe, expect, it } from "vitest";
import { atrProblem } from "../../../src/backends/pcsc/atr-check.js";
import { RELAY_ERROR_CODE } from "../../../src/backends/pcsc/errors.js";
import { describeReaders, listReaders, matchReader } from "../../../src/backends/pcsc/readers.js";
import { PcscContext } from "../../../src/backends/pcsc/context.js";
import { fromHex } from "../../../src/core/bytes.js";
import { CAC_LIKE_ATR, FakePcsc } from "./fake-pcsc.js";

const NAMES = ["Virtual PCD 00 00", "Virtual PCD 00 01", "Yubico YubiKey OTP+FIDO+CCID 01 00"];

describe("matchReader", () => {
  it("takes an exact name first, then a unique case-insensitive substring", () => {
    expect(matchReader(NAMES, "Virtual PCD 00 01")).toBe("Virtual PCD 00 01");
    expect(matchReader(NAMES, "pcd 00 01")).toBe("Virtual PCD 00 01");
    expect(matchReader(NAMES, "yubikey")).toBe("Yubico YubiKey OTP+FIDO+CCID 01 00");
    expect(matchReader(["Reader", "Reader 2"], "Reader")).toBe("Reader");
  });

  it("refuses an ambiguous or unknown name and lists the candidates", () => {
    expect(() => matchReader(NAMES, "Virtual PCD")).toThrow(
      expect.objectContaining({ code: RELAY_ERROR_CODE.READER_AMBIGUOUS, message: expect.stringContaining('"Virtual PCD 00 00", "Virtual PCD 00 01"') }),
    );
    expect(() => matchReader(NAMES, "Gemalto")).toThrow(expect.objectContaining({ code: RELAY_ERROR_CODE.READER_NOT_FOUND }));
    expect(() => matchReader([], "x")).toThrow(expect.objectContaining({ message: expect.stringContaining("(none)") }));
    expect(() => matchReader(NAMES, "")).toThrow(expect.objectContaining({ code: RELAY_ERROR_CODE.READER_NOT_FOUND }));
  });
});

describe("listReaders", () => {
  it("reports card presence and the ATR per reader, on a context of its own", async () => {
    const f = new FakePcsc();
    f.addReader("A 00 00");
    f.addReader("B 00 00");
    f.insert("B 00 00");
    const readers = await listReaders(f.library);
    expect(readers.map((r) => [r.name, r.cardPresent])).toEqual([
      ["A 00 00", false],
      ["B 00 00", true],
    ]);
    expect(readers[1].atr).toEqual(CAC_LIKE_ATR);
    expect(readers[0].atr).toHaveLength(0);
    expect(f.calls.filter((c) => c === "establish")).toHaveLength(1);
    expect(f.calls.at(-1)).toBe("release");
  });

  it("gives an empty list when there are no readers", async () => {
    const f = new FakePcsc();
    const context = await PcscContext.establish(f.library);
    expect(await describeReaders(context)).toEqual([]);
    context.release();
  });
});

describe("atrProblem", () => {
  it("accepts well-formed ATRs (T=0 without TCK, T=1 with TCK)", () => {
    expect(atrProblem(CAC_LIKE_ATR)).toBeNull();
    // YubiKey 5 (T=1): 3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40
    expect(atrProblem(fromHex("3BFD1300008131FE158073C021C057597562694B657940"))).toBeNull();
    expect(atrProblem(fromHex("3B00"))).toBeNull();
  });

  it("refuses what QEMU or a guest would refuse, saying why", () => {
    // vsmartcard #129: ASCII digits as the ATR.
    expect(atrProblem(fromHex("35393234"))).toMatch(/TS=35, not 3B or 3F/);
    expect(atrProblem(fromHex("3B"))).toMatch(/shorter than 2/);
    expect(atrProblem(new Uint8Array(41).fill(0x3b))).toMatch(/longer than QEMU takes \(40\)/);
    expect(atrProblem(fromHex("3B7A1800007366746520636431"))).toMatch(/13 bytes but its structure announces 15/);
    expect(atrProblem(fromHex("3BFD1300008131FE158073C021C057597562694B657941"))).toMatch(/wrong check byte/);
    expect(atrProblem(fromHex("3B80"))).toMatch(/truncated/);
  });
});
