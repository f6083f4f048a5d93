/**
 * PcscCard without pcscd: transactions per guest exchange, exclusive mode,
 * a card reset by another application, the exchange bound. Over a scripted
 * library (fake-pcsc.ts).
 */
import { describe, expect, it } from "vitest";
import { PCSC_ERROR_CODE, PcscError, RELAY_ERROR_CODE, isServiceLoss } from "../../../src/backends/pcsc/errors.js";
import { SCARD_RV, scardName } from "../../../src/backends/pcsc/constants.js";
import { PcscCard } from "../../../src/backends/pcsc/pcsc-card.js";
import { splitMultiString } from "../../../src/backends/pcsc/library.js";
import { isSafePoint, releaseDelay } from "../../../src/backends/pcsc/transaction-policy.js";
import { CacardError } from "../../../src/core/errors.js";
import { FakePcsc, sleep } from "./fake-pcsc.js";

const READER = "Fake Reader 00 00";
const SELECT = Uint8Array.of(0x00, 0xa4, 0x04, 0x00, 0x01, 0x00);
const GET_RESPONSE = Uint8Array.of(0x00, 0xc0, 0x00, 0x00, 0x0d);

function fake(answer?: (command: Uint8Array) => Uint8Array | PcscError): FakePcsc {
  const f = new FakePcsc();
  f.addReader(READER);
  f.insert(READER);
  if (answer) f.answer = answer;
  return f;
}

describe("transaction policy", () => {
  it("is unsafe after 61xx, 6Cxx and ISO command chaining", () => {
    expect(isSafePoint(SELECT, Uint8Array.of(0x90, 0x00))).toBe(true);
    expect(isSafePoint(SELECT, Uint8Array.of(0x61, 0x0d))).toBe(false);
    expect(isSafePoint(SELECT, Uint8Array.of(0x6c, 0x20))).toBe(false);
    expect(isSafePoint(Uint8Array.of(0x10, 0x2a, 0x9e, 0x9a), Uint8Array.of(0x90, 0x00))).toBe(false);
    expect(isSafePoint(Uint8Array.of(0xff, 0x00, 0x00, 0x00), Uint8Array.of(0x90, 0x00))).toBe(true);
  });

  it("waits idleMs at a safe point and maxHoldMs at an unsafe one", () => {
    const timing = { idleMs: 500, maxHoldMs: 4000 };
    expect(releaseDelay(timing, 100, true)).toBe(400);
    expect(releaseDelay(timing, 600, true)).toBe(0);
    expect(releaseDelay(timing, 600, false)).toBe(3400);
  });
});

describe("PC/SC helpers", () => {
  it("splits multi-strings and names return codes", () => {
    const bytes = new TextEncoder().encode("Virtual PCD 00 00\0Virtual PCD 00 01\0\0");
    expect(splitMultiString(bytes)).toEqual(["Virtual PCD 00 00", "Virtual PCD 00 01"]);
    expect(scardName(SCARD_RV.W_REMOVED_CARD)).toBe("SCARD_W_REMOVED_CARD");
    expect(scardName(0x80100099)).toBe("0x80100099");
  });

  it("maps return codes to stable error codes, on CacardError", () => {
    const removed = new PcscError("SCardTransmit", SCARD_RV.W_REMOVED_CARD);
    expect(removed).toBeInstanceOf(CacardError);
    expect(removed.code).toBe(PCSC_ERROR_CODE.CARD_REMOVED);
    expect(removed.rvName).toBe("SCARD_W_REMOVED_CARD");
    expect(removed.message).toBe("SCardTransmit: SCARD_W_REMOVED_CARD");
    expect(new PcscError("x", SCARD_RV.E_NO_SMARTCARD).code).toBe(PCSC_ERROR_CODE.CARD_REMOVED);
    expect(new PcscError("x", SCARD_RV.W_RESET_CARD).code).toBe(PCSC_ERROR_CODE.CARD_RESET);
    expect(new PcscError("x", SCARD_RV.F_COMM_ERROR).code).toBe(PCSC_ERROR_CODE.NO_SERVICE);
    expect(new PcscError("x", SCARD_RV.E_UNKNOWN_READER).code).toBe(PCSC_ERROR_CODE.READER_GONE);
    expect(new PcscError("x", SCARD_RV.E_SHARING_VIOLATION).code).toBe(PCSC_ERROR_CODE.SHARING_VIOLATION);
    expect(isServiceLoss(new PcscError("x", SCARD_RV.E_INVALID_HANDLE))).toBe(true);
    expect(new PcscError("x", 0x80100099).code).toBe(PCSC_ERROR_CODE.FAILED);
  });
});

describe("PcscCard", () => {
  it("connects without resetting the card and reports its ATR", async () => {
    const f = fake();
    const card = await PcscCard.open({ reader: READER, library: f.library });
    expect(card.protocolName).toBe("T=0");
    expect(card.atr[0]).toBe(0x3b);
    expect(f.calls.some((c) => c.startsWith("reconnect"))).toBe(false);
    await card.close();
  });

  it("passes 61xx back untouched: no GET RESPONSE of its own", async () => {
    const f = fake((c) => (c[1] === 0xa4 ? Uint8Array.of(0x61, 0x0d) : Uint8Array.of(0x90, 0x00)));
    const card = await PcscCard.open({ reader: READER, library: f.library });
    expect(await card.transmit(SELECT)).toEqual(Uint8Array.of(0x61, 0x0d));
    expect(f.calls.filter((c) => c.startsWith("transmit"))).toEqual(["transmit:a4"]);
    await card.close();
  });

  it("begins once per burst and ends after the idle time at a safe point", async () => {
    const f = fake((c) => (c[1] === 0xa4 ? Uint8Array.of(0x61, 0x0d) : Uint8Array.of(0x90, 0x00)));
    const card = await PcscCard.open({ reader: READER, library: f.library, transactionTiming: { idleMs: 50, maxHoldMs: 300 } });
    const start = f.calls.length;
    await card.transmit(SELECT);
    await card.transmit(GET_RESPONSE);
    expect(f.calls.slice(start)).toEqual(["begin", "transmit:a4", "transmit:c0"]);
    await sleep(150);
    expect(f.calls.at(-1)).toBe("end");
    expect(card.inTransaction).toBe(false);
    await card.close();
    expect(f.calls.slice(-2)).toEqual(["disconnect:0", "release"]);
  });

  it("keeps the transaction through a pending 61xx until maxHoldMs", async () => {
    const f = fake(() => Uint8Array.of(0x61, 0x0d));
    const card = await PcscCard.open({ reader: READER, library: f.library, transactionTiming: { idleMs: 30, maxHoldMs: 250 } });
    await card.transmit(SELECT);
    await sleep(100);
    expect(card.inTransaction, "still held 100 ms after a 61xx").toBe(true);
    await sleep(300);
    expect(card.inTransaction).toBe(false);
    expect(f.calls.filter((c) => c === "end")).toHaveLength(1);
    await card.close();
  });

  it("never holds a transaction in exclusive mode", async () => {
    const f = fake();
    const card = await PcscCard.open({ reader: READER, library: f.library, share: "exclusive" });
    await card.transmit(SELECT);
    await card.close();
    expect(f.calls).not.toContain("begin");
  });

  it("re-attaches (LEAVE_CARD) after SCARD_W_RESET_CARD and reports PCSC_CARD_RESET", async () => {
    let first = true;
    const f = fake(() => {
      if (!first) return Uint8Array.of(0x90, 0x00);
      first = false;
      return new PcscError("SCardTransmit", SCARD_RV.W_RESET_CARD);
    });
    const card = await PcscCard.open({ reader: READER, library: f.library });
    await expect(card.transmit(SELECT)).rejects.toMatchObject({ code: PCSC_ERROR_CODE.CARD_RESET });
    expect(f.calls).toContain("reconnect:0");
    expect(await card.transmit(SELECT)).toEqual(Uint8Array.of(0x90, 0x00));
    await card.close();
  });

  it("refuses commands shorter than a header without sending them", async () => {
    const f = fake();
    const card = await PcscCard.open({ reader: READER, library: f.library });
    await expect(card.transmit(Uint8Array.of(0x00, 0xa4))).rejects.toMatchObject({ code: RELAY_ERROR_CODE.BAD_APDU });
    expect(f.calls.some((c) => c.startsWith("transmit"))).toBe(false);
    await card.close();
  });

  it("bounds an exchange with PCSC_TIMEOUT, then refuses more until the card answers", async () => {
    const f = fake();
    let release: (() => void) | null = null;
    f.library.transmit = () =>
      new Promise((resolve) => {
        release = () => resolve(Uint8Array.of(0x90, 0x00));
      });
    const card = await PcscCard.open({ reader: READER, library: f.library, exchangeTimeoutMs: 50 });
    await expect(card.transmit(SELECT)).rejects.toMatchObject({ code: PCSC_ERROR_CODE.TIMEOUT });
    await expect(card.transmit(SELECT)).rejects.toMatchObject({ code: RELAY_ERROR_CODE.BUSY });
    release!();
    await sleep(10);
    // The late answer came with a transaction that nobody wants any more: it is given back.
    expect(f.calls.at(-1)).toBe("end");
    f.library.transmit = async () => Uint8Array.of(0x90, 0x00);
    expect(await card.transmit(SELECT)).toEqual(Uint8Array.of(0x90, 0x00));
    await card.close();
  });

  it("reports PCSC_CARD_REMOVED when the reader is empty", async () => {
    const f = new FakePcsc();
    f.addReader(READER);
    await expect(PcscCard.open({ reader: READER, library: f.library })).rejects.toMatchObject({ code: PCSC_ERROR_CODE.CARD_REMOVED });
    expect(f.calls.at(-1)).toBe("release");
  });
});
