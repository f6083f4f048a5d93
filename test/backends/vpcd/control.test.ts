import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { VpcdCardSet, cardIdentity, deriveSerial } from "../../../src/backends/vpcd/index.js";
import { CCC_CARD_ID_LENGTH } from "../../../src/core/cac/ccc.js";
import { ControlSyntaxError, parseControlLine } from "../../../src/cli/vpcd-control.js";
import { FakeVpcd, MockCard } from "./fake-vpcd.js";

describe("parseControlLine", () => {
  it("parses remove/insert with and without an index, status and help", () => {
    expect(parseControlLine("remove", 2)).toEqual({ op: "remove", index: undefined });
    expect(parseControlLine("  INSERT 1 ", 2)).toEqual({ op: "insert", index: 1 });
    expect(parseControlLine("status", 2)).toEqual({ op: "status" });
    expect(parseControlLine("help", 1)).toEqual({ op: "help" });
    expect(parseControlLine("", 1)).toEqual({ op: "none" });
    expect(parseControlLine("   # comment", 1)).toEqual({ op: "none" });
    expect(parseControlLine("remove 0 # the first", 1)).toEqual({ op: "remove", index: 0 });
  });

  it("rejects unknown commands, bad and out-of-range indices, extra words", () => {
    for (const bad of ["eject", "remove x", "remove -1", "insert 2", "remove 1 2", "status 1", "insert 1.0"]) {
      expect(() => parseControlLine(bad, 2), bad).toThrow(ControlSyntaxError);
    }
  });
});

describe("card identities", () => {
  const base = new Uint8Array(createHash("sha256").update("cert0").digest());

  it("card 0 keeps libcacard's serial and CCC id; others get their own", () => {
    const first = cardIdentity(base, 0);
    expect(first.serial).toBe(base);
    expect(first.cccCardId).toBeUndefined();
    const second = cardIdentity(base, 1);
    const third = cardIdentity(base, 2);
    expect(second.serial).toHaveLength(32);
    expect(Buffer.from(second.serial).equals(Buffer.from(base))).toBe(false);
    expect(Buffer.from(second.serial).equals(Buffer.from(third.serial))).toBe(false);
    expect(second.cccCardId).toHaveLength(CCC_CARD_ID_LENGTH);
    // OpenSC's pkcs11 serial is the last 8 bytes of the CCC id: they must differ too.
    expect(Buffer.from(second.cccCardId!.subarray(6)).equals(Buffer.from(third.cccCardId!.subarray(6)))).toBe(false);
  });

  it("is deterministic, and a salt changes every card including card 0", () => {
    expect(deriveSerial(base, 3)).toEqual(deriveSerial(base, 3));
    const salted = deriveSerial(base, 0, "lab-a");
    expect(Buffer.from(salted).equals(Buffer.from(base))).toBe(false);
    expect(deriveSerial(base, 0, "lab-b")).not.toEqual(salted);
    expect(deriveSerial(base, 1, "lab-a")).not.toEqual(deriveSerial(base, 1));
    expect(cardIdentity(base, 0, "lab-a").cccCardId).toHaveLength(CCC_CARD_ID_LENGTH);
    expect(() => deriveSerial(base, -1)).toThrow(RangeError);
  });
});

describe("VpcdCardSet", () => {
  it("puts card i on basePort + i and removes/inserts by index or all at once", async () => {
    const a = await FakeVpcd.listen();
    let b: FakeVpcd | null = null;
    try {
      b = await FakeVpcd.listen(a.port + 1);
    } catch {
      await a.close();
      return; // the neighbouring port is taken on this machine; nothing to learn here
    }
    const set = new VpcdCardSet([new MockCard(), new MockCard()], { basePort: a.port }).start();
    try {
      const c0 = await a.connection(0);
      const c1 = await b.connection(0);
      expect(set.slots.map((s) => s.client.port)).toEqual([a.port, a.port + 1]);
      expect(set.remove(1)).toEqual([1]);
      await c1.closed;
      expect(set.remove(1)).toEqual([]);
      expect(set.status()[1]).toBe(`card 1: port ${a.port + 1} removed idle`);
      expect(c0.isClosed).toBe(false);
      expect(set.remove()).toEqual([0]);
      await c0.closed;
      expect(set.insert()).toEqual([0, 1]);
      await a.connection(1);
      await b.connection(1);
      expect(() => set.insert(5)).toThrow(RangeError);
    } finally {
      await set.stop();
      await a.close();
      await b.close();
    }
  });
});
