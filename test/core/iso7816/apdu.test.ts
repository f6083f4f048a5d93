import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { parseCommandApdu, ClassKind } from "../../../src/core/iso7816/apdu.js";
import { CardError } from "../../../src/core/iso7816/card-error.js";
import { fromHex } from "../../../src/core/bytes.js";

function sw(hex: string): number | undefined {
  try {
    parseCommandApdu(fromHex(hex));
    return undefined;
  } catch (e) {
    if (e instanceof CardError) return e.sw;
    throw e;
  }
}

describe("parseCommandApdu (libcacard vcard_apdu_set_length)", () => {
  it("case 1: header only", () => {
    const a = parseCommandApdu(fromHex("00A40400"));
    expect(a).toMatchObject({ cla: 0, ins: 0xa4, p1: 4, p2: 0, le: 0, hasLe: false, extended: false });
    expect(a.data.length).toBe(0);
  });

  it("case 2S: Le 00 means 256", () => {
    expect(parseCommandApdu(fromHex("00C0000000")).le).toBe(256);
    expect(parseCommandApdu(fromHex("00C000000D")).le).toBe(13);
    // 00 20 00 00 00 is case 2 (Lc = 0), the VERIFY status query
    expect(parseCommandApdu(fromHex("0020000000")).data.length).toBe(0);
  });

  it("case 3S and 4S", () => {
    const c3 = parseCommandApdu(fromHex("00A4040007A000000116DB00"));
    expect(c3.le).toBe(0);
    expect(c3.hasLe).toBe(false);
    expect(Buffer.from(c3.data).toString("hex")).toBe("a000000116db00");
    const c4 = parseCommandApdu(fromHex("00A4040007A000000116DB0000"));
    expect(c4.le).toBe(256);
    expect(parseCommandApdu(fromHex("00A4040007A000000116DB000D")).le).toBe(13);
  });

  it("extended cases 2E, 3E, 4E", () => {
    expect(parseCommandApdu(fromHex("00C00000000000")).le).toBe(65536);
    expect(parseCommandApdu(fromHex("00C00000000102")).le).toBe(258);
    const e3 = parseCommandApdu(fromHex("00A40400000007A000000116DB00"));
    expect(e3).toMatchObject({ extended: true, le: 0 });
    expect(e3.data.length).toBe(7);
    const e4 = parseCommandApdu(fromHex("00A40400000007A000000116DB000100"));
    expect(e4.le).toBe(256);
    expect(parseCommandApdu(fromHex("00A40400000007A000000116DB000000")).le).toBe(65536);
  });

  it("answers 6700 for every length the rules do not explain (as measured on libcacard 2.8, vcard_apdu_set_length)", () => {
    for (const bad of [
      "",
      "00",
      "00A404",
      "00A4040005A00000",
      "00A404000000",
      "00A4040000000000",
      "00A40400000007A000000116DB0001",
      "00A4040007A000000116DB000000",
    ]) {
      expect(sw(bad), bad).toBe(0x6700);
    }
  });

  it("2E with an empty AID is a valid APDU (SELECT then finds nothing)", () => {
    expect(sw("00A40400000100")).toBeUndefined();
  });

  it("decodes the class byte like libcacard, SM bit 0x02 quirk included", () => {
    const cls = (cla: number) => parseCommandApdu(Uint8Array.of(cla, 0xa4, 4, 0));
    expect(cls(0x00)).toMatchObject({ classKind: ClassKind.Iso, channel: 0, secureMessaging: 0 });
    expect(cls(0x01)).toMatchObject({ channel: 1, secureMessaging: 0 });
    expect(cls(0x81)).toMatchObject({ channel: 1, secureMessaging: 0 });
    expect(cls(0x02)).toMatchObject({ channel: 2, secureMessaging: 2 });
    expect(cls(0x0c)).toMatchObject({ channel: 0, secureMessaging: 0x0c });
    expect(cls(0xb0)).toMatchObject({ classKind: ClassKind.Iso, channel: 0, secureMessaging: 0 });
    expect(cls(0x10).classKind).toBe(ClassKind.Rfu);
    expect(cls(0xe0).classKind).toBe(ClassKind.Proprietary);
    expect(cls(0xff).classKind).toBe(ClassKind.Proprietary);
  });

  it("never throws anything but CardError(6700), whatever the bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        try {
          const a = parseCommandApdu(bytes);
          expect(a.data.length).toBeLessThanOrEqual(bytes.length);
        } catch (e) {
          expect(e).toBeInstanceOf(CardError);
          expect((e as CardError).sw).toBe(0x6700);
        }
      }),
      { numRuns: 5000 },
    );
  });
});
