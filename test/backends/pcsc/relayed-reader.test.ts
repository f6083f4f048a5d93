/**
 * The reader monitor and RelayedReader over a scripted pcsc-lite: host card
 * events become the slot's insert/remove (which the VSCard session turns
 * into ATR / CardRemove), a reader that goes and comes back is picked up
 * again, a card reset by another application is shown to the guest as a new
 * card, and a card this process serves is never relayed.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ReaderMonitor } from "../../../src/backends/pcsc/reader-monitor.js";
import { RelayedReader, type RelayEvent } from "../../../src/backends/pcsc/relayed-reader.js";
import { PcscError } from "../../../src/backends/pcsc/errors.js";
import { SCARD_RV } from "../../../src/backends/pcsc/constants.js";
import { createServer, type AddressInfo } from "node:net";
import { isServedAtr, markServed } from "../../../src/backends/served-cards.js";
import { VpcdClient } from "../../../src/backends/vpcd/client.js";
import { VirtualReader } from "../../../src/core/card/reader.js";
import { fromHex } from "../../../src/core/bytes.js";
import type { SmartCard } from "../../../src/core/card/reader.js";
import { CAC_LIKE_ATR, FakePcsc, eventually } from "./fake-pcsc.js";

const READER = "Fake Reader 00 00";
const FAST = { initialMs: 10, maxMs: 40 };
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

function relay(f: FakePcsc, query = "fake reader") {
  const events: RelayEvent[] = [];
  const slot: string[] = [];
  const relayed = new RelayedReader({ query, library: f.library, backoff: FAST, onEvent: (e) => events.push(e) });
  relayed.reader.on("insert", (card) => slot.push(`insert ${Buffer.from(card.atr).toString("hex")}`));
  relayed.reader.on("remove", () => slot.push("remove"));
  closers.push(() => relayed.close());
  return { relayed: relayed.start(), events, slot };
}

describe("ReaderMonitor", () => {
  it("reports the reader, card insert and remove, and a reader that goes and comes back", async () => {
    const f = new FakePcsc();
    f.addReader(READER);
    const seen: string[] = [];
    const monitor = new ReaderMonitor({ reader: "fake", library: f.library, backoff: FAST });
    monitor.on("reader-back", (e) => seen.push(`back ${e.reader} ${e.initial}`));
    monitor.on("card-inserted", (e) => seen.push(`in ${e.atr.length}`));
    monitor.on("card-removed", () => seen.push("out"));
    monitor.on("reader-gone", (e) => seen.push(`gone ${e.code}`));
    closers.push(() => monitor.close());
    monitor.start();
    await eventually(() => seen.length === 1);
    f.insert(READER);
    await eventually(() => seen.includes("in 15"));
    f.remove(READER);
    await eventually(() => seen.includes("out"));
    f.insert(READER);
    await eventually(() => seen.filter((s) => s === "in 15").length === 2);
    f.removeReader(READER);
    await eventually(() => seen.some((s) => s.startsWith("gone")));
    f.addReader(READER, CAC_LIKE_ATR);
    await eventually(() => seen.filter((s) => s.startsWith("back")).length === 2);
    await eventually(() => seen.filter((s) => s === "in 15").length === 3);
    expect(seen).toEqual([
      `back ${READER} true`,
      "in 15",
      "out",
      "in 15",
      "out",
      "gone PCSC_READER_GONE",
      `back ${READER} false`,
      "in 15",
    ]);
  });

  it("survives pcscd going away (PCSC_NO_SERVICE) and picks the reader up again", async () => {
    const f = new FakePcsc();
    f.addReader(READER, CAC_LIKE_ATR);
    const seen: string[] = [];
    const monitor = new ReaderMonitor({ reader: READER, library: f.library, backoff: FAST });
    monitor.on("card-inserted", () => seen.push("in"));
    monitor.on("card-removed", () => seen.push("out"));
    monitor.on("reader-gone", (e) => seen.push(`gone ${e.code}`));
    closers.push(() => monitor.close());
    monitor.start();
    await eventually(() => seen.includes("in"));
    f.serviceUp = false;
    f.remove(READER); // wakes the pending wait, which now sees the daemon gone
    await eventually(() => seen.includes("gone PCSC_NO_SERVICE"));
    f.insert(READER);
    f.serviceUp = true;
    await eventually(() => seen.filter((s) => s === "in").length === 2);
    expect(seen).toEqual(["in", "out", "gone PCSC_NO_SERVICE", "in"]);
  });

  it("reports a missing reader once, then waits quietly", async () => {
    const f = new FakePcsc();
    const gone: string[] = [];
    const monitor = new ReaderMonitor({ reader: "No Such Reader", library: f.library, backoff: FAST });
    monitor.on("reader-gone", (e) => gone.push(e.code));
    closers.push(() => monitor.close());
    monitor.start();
    await new Promise((r) => setTimeout(r, 200));
    expect(gone).toEqual(["RELAY_READER_NOT_FOUND"]);
    f.addReader("No Such Reader 00 00");
    await eventually(() => monitor.reader === "No Such Reader 00 00");
  });
});

describe("RelayedReader", () => {
  it("puts the host card in the slot with its own ATR, and takes it out on removal", async () => {
    const f = new FakePcsc();
    f.addReader(READER, CAC_LIKE_ATR);
    const { relayed, events, slot } = relay(f);
    await eventually(() => slot.length === 1);
    expect(slot).toEqual([`insert ${Buffer.from(CAC_LIKE_ATR).toString("hex")}`]);
    const card = relayed.reader.card as SmartCard;
    // Power-on only reports the ATR: the host's card is not reset.
    expect(await card.powerOn()).toEqual(CAC_LIKE_ATR);
    expect(f.calls.some((c) => c.startsWith("reconnect"))).toBe(false);
    expect(await card.transmit(Uint8Array.of(0x00, 0xa4, 0x04, 0x00))).toEqual(Uint8Array.of(0x90, 0x00));
    f.remove(READER);
    await eventually(() => slot.length === 2);
    f.insert(READER);
    await eventually(() => slot.length === 3);
    expect(slot.slice(1)).toEqual(["remove", `insert ${Buffer.from(CAC_LIKE_ATR).toString("hex")}`]);
    expect(events.map((e) => e.type)).toEqual(["reader-found", "card-present", "card-absent", "card-present"]);
    expect(events[1]).toMatchObject({ reader: READER, protocol: "T=0" });
  });

  it("shows a card reset by another application as a new card", async () => {
    const f = new FakePcsc();
    f.addReader(READER, CAC_LIKE_ATR);
    let reset = true;
    f.answer = () => {
      if (!reset) return Uint8Array.of(0x90, 0x00);
      reset = false;
      return new PcscError("SCardTransmit", SCARD_RV.W_RESET_CARD);
    };
    const { relayed, events, slot } = relay(f);
    await eventually(() => slot.length === 1);
    await expect(relayed.reader.card!.transmit(Uint8Array.of(0x00, 0xa4, 0x04, 0x00))).rejects.toMatchObject({ code: "PCSC_CARD_RESET" });
    await eventually(() => slot.length === 3);
    expect(slot.slice(1, 2)).toEqual(["remove"]);
    expect(events.map((e) => e.type)).toContain("card-reset");
  });

  it("refuses a card with a malformed ATR and one this process serves itself", async () => {
    const f = new FakePcsc();
    f.addReader(READER, fromHex("35393234"));
    const { events, slot } = relay(f);
    await eventually(() => events.some((e) => e.type === "card-refused"));
    expect(slot).toEqual([]);

    const g = new FakePcsc();
    g.addReader(READER, CAC_LIKE_ATR);
    const served: SmartCard = {
      atr: CAC_LIKE_ATR,
      powerOn: async () => CAC_LIKE_ATR,
      powerOff: async () => undefined,
      reset: async () => CAC_LIKE_ATR,
      transmit: async () => Uint8Array.of(0x90, 0x00),
    };
    const unmark = markServed({ card: served });
    try {
      const second = relay(g);
      await eventually(() => second.events.some((e) => e.type === "card-refused"));
      expect(second.events.find((e) => e.type === "card-refused")).toMatchObject({ why: expect.stringMatching(/serves that card itself/) });
      expect(second.slot).toEqual([]);
      expect(g.calls.some((c) => c.startsWith("connect"))).toBe(false);
    } finally {
      unmark();
    }
  });

  it("empties the slot while the reader is gone and fills it when it is back", async () => {
    const f = new FakePcsc();
    f.addReader(READER, CAC_LIKE_ATR);
    const { events, slot } = relay(f);
    await eventually(() => slot.length === 1);
    f.removeReader(READER);
    await eventually(() => slot.length === 2);
    f.addReader(READER, CAC_LIKE_ATR);
    await eventually(() => slot.length === 3);
    expect(slot[1]).toBe("remove");
    expect(events.map((e) => e.type)).toEqual(["reader-found", "card-present", "reader-gone", "card-absent", "reader-found", "card-present"]);
    // A new connection for the reader that came back.
    expect(f.calls.filter((c) => c.startsWith("connect"))).toHaveLength(2);
  });
});

describe("cards served by this process", () => {
  it("a vpcd client marks its reader's card as served while it runs", async () => {
    const server = createServer((socket) => socket.on("error", () => undefined));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const card: SmartCard = {
      atr: CAC_LIKE_ATR,
      powerOn: async () => CAC_LIKE_ATR,
      powerOff: async () => undefined,
      reset: async () => CAC_LIKE_ATR,
      transmit: async () => Uint8Array.of(0x90, 0x00),
    };
    const client = new VpcdClient({ reader: new VirtualReader("served", card), port: (server.address() as AddressInfo).port, quickAck: false });
    try {
      expect(isServedAtr(CAC_LIKE_ATR)).toBe(false);
      client.start();
      expect(isServedAtr(CAC_LIKE_ATR)).toBe(true);
      expect(isServedAtr(fromHex("3B00"))).toBe(false);
    } finally {
      await client.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    expect(isServedAtr(CAC_LIKE_ATR)).toBe(false);
  });
});
