import { describe, expect, it, vi } from "vitest";
import net from "node:net";
import { VirtualReader } from "../../../src/core/card/reader.js";
import {
  ErrorCode,
  MsgType,
  UNDEFINED_READER_ID,
  encodeFrame,
  type VscMessage,
} from "../../../src/backends/vscard/codec.js";
import { VscardClient, type VscardClientOptions } from "../../../src/backends/vscard/client.js";
import type { VscardEvent } from "../../../src/backends/vscard/session.js";
import { formatEvent } from "../../../src/cli/vscard-events.js";
import { encodeMessage, initMessage } from "../../../src/backends/vscard/codec.js";
import { EchoCard, FakeHost, type FakeHostOptions } from "./fake-host.js";
import { startListener, useCleanups } from "./harness.js";
import { toHex } from "../../../src/core/bytes.js";

const cleanups = useCleanups();

interface Running {
  host: FakeHost;
  client: VscardClient;
  events: VscardEvent[];
  done: Promise<void>;
  stop: () => Promise<void>;
  waitEvent: (pred: (e: VscardEvent) => boolean, what?: string, timeoutMs?: number) => Promise<VscardEvent>;
}

function eventWaiter(events: VscardEvent[]) {
  return async (pred: (e: VscardEvent) => boolean, what = "event", timeoutMs = 5000): Promise<VscardEvent> => {
    const start = Date.now();
    for (;;) {
      const found = events.find(pred);
      if (found) return found;
      if (Date.now() - start > timeoutMs) {
        throw new Error(`timed out waiting for ${what}; got: ${events.map((e) => formatEvent(e, true)).join(" | ")}`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  };
}

async function start(
  readers: VirtualReader[],
  hostOptions: FakeHostOptions = {},
  clientOptions: Partial<VscardClientOptions> = {},
): Promise<Running> {
  const host = new FakeHost(hostOptions);
  await host.listen();
  const events: VscardEvent[] = [];
  const ac = new AbortController();
  const client = new VscardClient({
    readers,
    endpoint: { kind: "tcp", host: "127.0.0.1", port: host.port },
    signal: ac.signal,
    onEvent: (e) => events.push(e),
    initTimeoutMs: 300,
    backoff: { initialMs: 20, maxMs: 200, jitter: 0 },
    ...clientOptions,
  });
  const done = client.run();
  const stop = async () => {
    ac.abort();
    await done;
    await host.close();
  };
  cleanups.push(stop);
  return { host, client, events, done, stop, waitEvent: eventWaiter(events) };
}

const isType = <T extends VscMessage["type"]>(t: T) => (m: VscMessage) => m.type === t;
const types = (msgs: VscMessage[]) => msgs.map((m) => m.type);

describe("VSCard client against a fake QEMU", () => {
  it("sends Init first, cleans up reader 0, adds the reader and announces the card", async () => {
    const card = new EchoCard();
    const reader = new VirtualReader("r0", card);
    const r = await start([reader]);
    await r.waitEvent((e) => e.type === "card-inserted", "card inserted");
    const got = r.host.current.received;
    expect(types(got)).toEqual([MsgType.Init, MsgType.ReaderRemove, MsgType.ReaderAdd, MsgType.ATR]);
    expect(got[0]).toMatchObject({ readerId: 0, version: 2, capabilities: [0] });
    expect(got[1]).toMatchObject({ readerId: 0 });
    expect(got[2]).toMatchObject({ readerId: UNDEFINED_READER_ID, name: "r0" });
    expect(got[3]).toMatchObject({ readerId: 0 });
    expect(toHex((got[3] as { atr: Uint8Array }).atr)).toBe("3B7A18000073667465206364313434");
    expect(card.powerOns).toBe(1);
    expect(r.client.readerId(reader)).toBe(0);
    expect(r.events.map((e) => formatEvent(e)).filter(Boolean)).toEqual(
      expect.arrayContaining([
        `reader 0 attached name="r0"`,
        "card inserted reader=0 atr=3B7A18000073667465206364313434",
      ]),
    );
  });

  it("writes each message in one piece (one chunk per frame on loopback)", async () => {
    const r = await start([new VirtualReader("r", new EchoCard())]);
    await r.waitEvent((e) => e.type === "card-inserted");
    const sizes = r.host.current.received.map((m) => encodeMessage(m).length);
    // Nagle is off and each frame is one write; chunks may coalesce but never split a frame.
    let acc = 0;
    const boundaries = new Set(sizes.map((s) => (acc += s)));
    let pos = 0;
    for (const c of r.host.current.chunks) {
      pos += c;
      expect(boundaries.has(pos)).toBe(true);
    }
  });

  it.each([
    ["zero (host never sends Init)", { replyInit: false, realizeInit: false }, 0],
    ["one (reply to ours)", { replyInit: true, realizeInit: false }, 1],
    ["two (realize Init + reply)", { replyInit: true, realizeInit: true }, 2],
  ])("tolerates %s host Inits", async (_name, opts, count) => {
    const r = await start([new VirtualReader("r", new EchoCard())], opts);
    await r.waitEvent((e) => e.type === "card-inserted", "card inserted", 3000);
    await new Promise((res) => setTimeout(res, 50));
    const got = r.host.current.received;
    // setup is done exactly once whatever the number of Inits
    expect(got.filter(isType(MsgType.ReaderAdd))).toHaveLength(1);
    expect(got.filter(isType(MsgType.ATR))).toHaveLength(1);
    expect(r.events.some((e) => e.type === "no-host-init")).toBe(count === 0);
    expect(r.events.filter((e) => e.type === "host-init-ignored")).toHaveLength(count === 2 ? 1 : 0);
  });

  it("answers short and extended APDUs on the host's reader id, in one frame each", async () => {
    const card = new EchoCard(0x42);
    const r = await start([new VirtualReader("r", card)]);
    await r.waitEvent((e) => e.type === "card-inserted");
    r.host.send({ type: MsgType.APDU, readerId: 0, apdu: Uint8Array.of(0x00, 0xa4, 0x04, 0x00, 0x02, 0x01, 0x02) });
    const short = await r.host.next(isType(MsgType.APDU), "short response");
    expect(toHex((short as { apdu: Uint8Array }).apdu)).toBe("0201429000");
    expect(short.readerId).toBe(0);
    // extended: 00 2A 00 00 | 00 01 00 | 256 data bytes
    const data = Uint8Array.from({ length: 256 }, (_, i) => i);
    const ext = Uint8Array.from([0x00, 0x2a, 0x00, 0x00, 0x00, 0x01, 0x00, ...data]);
    r.host.send({ type: MsgType.APDU, readerId: 0, apdu: ext });
    await r.host.waitFor(() => r.host.current.received.filter(isType(MsgType.APDU)).length === 2);
    const long = r.host.current.received.filter(isType(MsgType.APDU))[1] as { apdu: Uint8Array; readerId: number };
    expect(card.transmits[1]).toEqual(ext);
    expect(long.apdu.length).toBe(ext.length - 5 + 3); // body after 5 bytes reversed, tag, SW
    expect(long.readerId).toBe(0);
  });

  it("answers a burst of APDUs from one chunk with one write, in order, never splitting a frame", async () => {
    const card = new EchoCard(0x42);
    const r = await start([new VirtualReader("r", card)]);
    await r.waitEvent((e) => e.type === "card-inserted");
    const before = r.host.current.received.length;
    const burst = Buffer.concat(
      Array.from({ length: 50 }, (_, i) =>
        encodeFrame(MsgType.APDU, i === 7 ? 3 : 0, Uint8Array.of(0x00, 0xa4, 0x04, 0x00, 0x02, i, 0xff - i)),
      ),
    );
    const spy = vi.spyOn(net.Socket.prototype, "write");
    r.host.sendRaw(burst);
    await r.host.waitFor(() => r.host.current.received.length === before + 50, 5000, "50 answers");
    const ours = spy.mock.contexts.filter((c) => c !== r.host.current.socket);
    spy.mockRestore();
    // On loopback 50 small frames written at once arrive as one chunk; however
    // TCP cut them, there is one write per chunk received, not one per frame.
    expect(ours.length).toBeGreaterThanOrEqual(1);
    expect(ours.length).toBeLessThan(50);
    const got = r.host.current.received.slice(before);
    expect(got.map((m) => m.readerId)).toEqual(Array.from({ length: 50 }, (_, i) => (i === 7 ? 3 : 0)));
    got.forEach((m, i) => {
      if (i === 7) expect(m).toEqual({ type: MsgType.Error, readerId: 3, code: ErrorCode.GeneralError });
      else expect(toHex((m as { apdu: Uint8Array }).apdu)).toBe(toHex(Uint8Array.of(0xff - i, i, 0x42, 0x90, 0x00)));
    });
  });

  it("serves the same without an event listener (no event or description is built)", async () => {
    const card = new EchoCard(0x42);
    const reader = new VirtualReader("r", card);
    const r = await start([reader], { readerIds: "multi" }, { onEvent: undefined, busyPollUs: 0 });
    await r.host.waitFor(() => r.host.connections.length > 0 && r.host.current.received.some(isType(MsgType.ATR)), 5000, "ATR");
    const verify = Uint8Array.of(0x00, 0x20, 0x00, 0x80, 0x08, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38);
    r.host.sendRaw(
      Buffer.concat([
        encodeFrame(MsgType.APDU, 0, verify),
        encodeFrame(MsgType.APDU, 1, Uint8Array.of(0, 0xb0, 0, 0, 0)),
        encodeFrame(MsgType.Flush, 0),
      ]),
    );
    await r.host.waitFor(() => r.host.current.received.some(isType(MsgType.FlushComplete)), 5000, "FlushComplete");
    const tail = r.host.current.received.slice(-3);
    expect(tail).toEqual([
      { type: MsgType.APDU, readerId: 0, apdu: Uint8Array.of(0x38, 0x37, 0x36, 0x35, 0x34, 0x33, 0x32, 0x31, 0x42, 0x90, 0x00) },
      { type: MsgType.Error, readerId: 1, code: ErrorCode.GeneralError },
      { type: MsgType.FlushComplete, readerId: 0 },
    ]);
    // the card saw the PIN itself (redaction is only for events)
    expect(toHex(card.transmits[0])).toBe(toHex(verify));
    expect(r.events).toEqual([]);
  });

  it("traceEvents: false keeps the lifecycle events and drops the per-message and per-APDU ones", async () => {
    const r = await start([new VirtualReader("r", new EchoCard(0x42))], {}, { traceEvents: false });
    await r.waitEvent((e) => e.type === "card-inserted");
    r.host.send({ type: MsgType.APDU, readerId: 0, apdu: Uint8Array.of(0x00, 0xa4, 0x04, 0x00, 0x01, 0x07) });
    r.host.send({ type: MsgType.APDU, readerId: 9, apdu: Uint8Array.of(0x00, 0xa4, 0x04, 0x00, 0x01, 0x07) });
    await r.host.waitFor(() => r.host.current.received.some(isType(MsgType.Error)), 5000, "answers");
    expect(r.host.current.received.filter(isType(MsgType.APDU))).toEqual([
      { type: MsgType.APDU, readerId: 0, apdu: Uint8Array.of(0x07, 0x42, 0x90, 0x00) },
    ]);
    const kinds = new Set(r.events.map((e) => e.type));
    expect(kinds.has("message")).toBe(false);
    expect(kinds.has("apdu")).toBe(false);
    expect([...kinds]).toEqual(expect.arrayContaining(["connecting", "connected", "host-init", "reader-attached", "card-inserted"]));
  });

  it("still sends the answers that preceded a fatal message in the same chunk", async () => {
    const r = await start([new VirtualReader("r", new EchoCard(0x42))]);
    await r.waitEvent((e) => e.type === "card-inserted");
    const conn = r.host.current;
    r.host.sendRaw(
      Buffer.concat([
        encodeFrame(MsgType.APDU, 0, Uint8Array.of(0x00, 0xa4, 0x04, 0x00, 0x01, 0x07)),
        // well framed, but fatal once handled: an Init with a bad magic
        encodeFrame(MsgType.Init, UNDEFINED_READER_ID, Uint8Array.of(0x58, 0x58, 0x58, 0x58, 0, 0, 0, 2)),
      ]),
    );
    await r.waitEvent((e) => e.type === "protocol-error", "protocol error");
    await r.host.waitFor(() => conn.socket.destroyed || conn.socket.readableEnded, 3000, "close");
    expect(conn.received.filter(isType(MsgType.APDU))).toEqual([
      { type: MsgType.APDU, readerId: 0, apdu: Uint8Array.of(0x07, 0x42, 0x90, 0x00) },
    ]);
  });

  it("answers an APDU for an empty reader or unknown id with VSC_Error code 1 (big-endian)", async () => {
    const reader = new VirtualReader("r", new EchoCard());
    const r = await start([reader]);
    await r.waitEvent((e) => e.type === "card-inserted");
    r.host.send({ type: MsgType.APDU, readerId: 5, apdu: Uint8Array.of(0, 0xb0, 0, 0, 0) });
    const err = await r.host.next(isType(MsgType.Error), "error for unknown reader");
    expect(err).toEqual({ type: MsgType.Error, readerId: 5, code: ErrorCode.GeneralError });
    reader.remove();
    await r.waitEvent((e) => e.type === "card-removed");
    r.host.send({ type: MsgType.APDU, readerId: 0, apdu: Uint8Array.of(0, 0xb0, 0, 0, 0) });
    await r.host.waitFor(() => r.host.current.received.filter(isType(MsgType.Error)).length === 2);
    const wire = encodeMessage(r.host.current.received.filter(isType(MsgType.Error))[1]);
    expect(toHex(wire)).toBe("00000002" + "00000000" + "00000004" + "00000001");
  });

  it("answers Flush with FlushComplete", async () => {
    const r = await start([new VirtualReader("r", new EchoCard())]);
    await r.waitEvent((e) => e.type === "card-inserted");
    r.host.send({ type: MsgType.Flush, readerId: 0 });
    expect(await r.host.next(isType(MsgType.FlushComplete))).toEqual({ type: MsgType.FlushComplete, readerId: 0 });
  });

  it("follows card remove and insert events", async () => {
    const card = new EchoCard();
    const reader = new VirtualReader("r", card);
    const r = await start([reader]);
    await r.waitEvent((e) => e.type === "card-inserted");
    reader.remove();
    await r.waitEvent((e) => e.type === "card-removed", "card removed");
    reader.insert();
    await r.host.waitFor(() => r.host.current.received.filter(isType(MsgType.ATR)).length === 2, 3000, "second ATR");
    await r.waitEvent((e) => e.type === "card-inserted" && r.events.filter((x) => x.type === "card-inserted").length === 2);
    expect(types(r.host.current.received).slice(-3)).toEqual([MsgType.ATR, MsgType.CardRemove, MsgType.ATR]);
    expect(card.powerOns).toBe(2); // the guest sees a freshly powered card
  });

  it("starts with an empty reader and announces the card when it arrives", async () => {
    const reader = new VirtualReader("r", new EchoCard());
    reader.remove();
    const r = await start([reader]);
    await r.waitEvent((e) => e.type === "reader-attached");
    await new Promise((res) => setTimeout(res, 30));
    expect(r.host.current.received.filter(isType(MsgType.ATR))).toHaveLength(0);
    reader.insert();
    await r.waitEvent((e) => e.type === "card-inserted");
  });

  it("serves two readers over one connection with the ids the host gives", async () => {
    const a = new EchoCard(0xaa);
    const b = new EchoCard(0xbb);
    const ra = new VirtualReader("a", a);
    const rb = new VirtualReader("b", b);
    const r = await start([ra, rb], { readerIds: "multi" });
    await r.waitEvent((e) => e.type === "card-inserted" && e.id === 1, "second card");
    expect(r.client.readerId(ra)).toBe(0);
    expect(r.client.readerId(rb)).toBe(1);
    r.host.send({ type: MsgType.APDU, readerId: 1, apdu: Uint8Array.of(0, 0xca, 0, 0, 0) });
    r.host.send({ type: MsgType.APDU, readerId: 0, apdu: Uint8Array.of(0, 0xca, 0, 0, 0) });
    await r.host.waitFor(() => r.host.current.received.filter(isType(MsgType.APDU)).length === 2);
    const apdus = r.host.current.received.filter(isType(MsgType.APDU)) as Array<{ readerId: number; apdu: Uint8Array }>;
    expect(apdus.map((m) => [m.readerId, toHex(m.apdu)])).toEqual([
      [1, "BB9000"],
      [0, "AA9000"],
    ]);
    rb.remove();
    await r.waitEvent((e) => e.type === "card-removed" && e.id === 1);
    expect(r.host.current.received.at(-1)).toEqual({ type: MsgType.CardRemove, readerId: 1 });
  });

  it("a card that takes its time: later messages wait their turn, frames leave in order", async () => {
    const release: (() => void)[] = [];
    const slow = new EchoCard(0xbb);
    const answer = slow.transmit.bind(slow);
    slow.transmit = (c) => new Promise((resolve) => release.push(() => resolve(answer(c))));
    const ra = new VirtualReader("a", new EchoCard(0xaa));
    const rb = new VirtualReader("b", slow);
    const r = await start([ra, rb], { readerIds: "multi" });
    await r.waitEvent((e) => e.type === "card-inserted" && e.id === 1, "second card");
    const before = r.host.current.received.length;
    r.host.send({ type: MsgType.APDU, readerId: 1, apdu: Uint8Array.of(0, 0xca, 0, 0, 0) });
    r.host.send({ type: MsgType.APDU, readerId: 0, apdu: Uint8Array.of(0, 0xca, 0, 0, 0) });
    r.host.send({ type: MsgType.Flush, readerId: 0 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(release).toHaveLength(1); // the slow card was asked
    expect(r.host.current.received.length).toBe(before); // nothing overtakes the slow answer
    rb.remove(); // pulled while answering: the answer still goes out, CardRemove after it
    release.shift()!();
    await r.host.waitFor(() => r.host.current.received.length === before + 4, 5000, "four frames");
    expect(r.host.current.received.slice(before)).toEqual([
      { type: MsgType.APDU, readerId: 1, apdu: Uint8Array.of(0xbb, 0x90, 0x00) },
      { type: MsgType.APDU, readerId: 0, apdu: Uint8Array.of(0xaa, 0x90, 0x00) },
      { type: MsgType.FlushComplete, readerId: 0 },
      { type: MsgType.CardRemove, readerId: 1 },
    ]);
  });

  it("a card that fails asynchronously gets the same VSC_Error and warning as one that throws", async () => {
    const card = new EchoCard();
    card.transmit = () => Promise.reject(new Error("token gone"));
    const r = await start([new VirtualReader("r", card)]);
    await r.waitEvent((e) => e.type === "card-inserted");
    r.host.send({ type: MsgType.APDU, readerId: 0, apdu: Uint8Array.of(0, 0xb0, 0, 0, 0) });
    expect(await r.host.next(isType(MsgType.Error))).toMatchObject({ readerId: 0, code: 1 });
    await r.waitEvent((e) => e.type === "warning" && e.message === "card failed on an APDU: token gone");
  });

  it("adds and removes a reader at run time", async () => {
    const ra = new VirtualReader("a", new EchoCard());
    const r = await start([ra], { readerIds: "multi" });
    await r.waitEvent((e) => e.type === "card-inserted");
    const rb = new VirtualReader("b", new EchoCard());
    r.client.addReader(rb);
    await r.waitEvent((e) => e.type === "card-inserted" && e.id === 1);
    r.client.removeReader(rb);
    await r.waitEvent((e) => e.type === "reader-detached" && e.id === 1);
    expect(types(r.host.current.received).slice(-2)).toEqual([MsgType.CardRemove, MsgType.ReaderRemove]);
  });

  it("refuses a second reader when the host reuses id 0 (QEMU has one slot)", async () => {
    const r = await start([new VirtualReader("a", new EchoCard()), new VirtualReader("b", new EchoCard())]);
    await r.waitEvent((e) => e.type === "reader-refused", "second reader refused");
    await r.waitEvent((e) => e.type === "card-inserted");
    expect(r.host.current.received.filter(isType(MsgType.ATR))).toHaveLength(1);
  });

  it("reports a refused reader and a rejected ATR", async () => {
    const r1 = await start([new VirtualReader("a", new EchoCard())], { refuseAdd: ErrorCode.CannotAddMoreReaders });
    const ev = await r1.waitEvent((e) => e.type === "reader-refused");
    expect(formatEvent(ev)).toBe(`reader refused name="a" code=2 reason="host cannot add more readers"`);
    const r2 = await start([new VirtualReader("a", new EchoCard())], { rejectAtr: true });
    expect(await r2.waitEvent((e) => e.type === "atr-rejected")).toMatchObject({ id: 0, code: 1 });
  });

  it("reconnects with backoff when the host goes away, redoing Init/ReaderAdd/ATR", async () => {
    const reader = new VirtualReader("r", new EchoCard());
    const r = await start([reader]);
    await r.waitEvent((e) => e.type === "card-inserted");
    const port = r.host.port;
    await new Promise<void>((res) => {
      r.host.dropAll();
      r.host.server.close(() => res());
    });
    // Host is down: attempts fail and delays grow (jitter 0: 20, 40, 80 ... capped at 200).
    await r.waitEvent((e) => e.type === "retry" && e.attempt >= 4, "several retries", 5000);
    const delays = r.events.filter((e): e is Extract<VscardEvent, { type: "retry" }> => e.type === "retry").map((e) => e.delayMs);
    expect(delays.slice(0, 5)).toEqual([20, 20, 40, 80, 160].slice(0, delays.slice(0, 5).length));
    // QEMU comes back on the same port
    const host2 = new FakeHost();
    await host2.listen(port);
    cleanups.push(() => host2.close());
    await host2.waitFor(
      () => host2.connections[0]?.received.some((m) => m.type === MsgType.ATR) ?? false,
      5000,
      "ATR on the new connection",
    );
    expect(types(host2.connections[0].received)).toEqual([MsgType.Init, MsgType.ReaderRemove, MsgType.ReaderAdd, MsgType.ATR]);
  });

  it("closes the connection on a protocol error and reconnects", async () => {
    const r = await start([new VirtualReader("r", new EchoCard())]);
    await r.waitEvent((e) => e.type === "card-inserted");
    r.host.sendRaw(Uint8Array.from([0, 0, 0, 7, 0, 0, 0, 0, 0, 1, 0, 0])); // 65536-byte payload: too large
    await r.waitEvent((e) => e.type === "protocol-error", "protocol error");
    await r.waitEvent((e) => e.type === "disconnected");
    await r.host.waitFor(() => r.host.connections.length === 2, 3000, "reconnect");
  });

  it("closes on a bad Init magic", async () => {
    const r = await start([new VirtualReader("r", new EchoCard())], { replyInit: false });
    await r.host.waitFor(() => r.host.connections.length === 1);
    r.host.sendRaw(encodeFrame(MsgType.Init, UNDEFINED_READER_ID, Uint8Array.of(0x58, 0x58, 0x58, 0x58, 0, 0, 0, 2)));
    const ev = await r.waitEvent((e) => e.type === "protocol-error");
    expect(formatEvent(ev)).toMatch(/magic/);
  });

  it("gives up waiting for a silent host and reconnects", async () => {
    const r = await start([new VirtualReader("r", new EchoCard())], {}, { replyTimeoutMs: 100 });
    await r.waitEvent((e) => e.type === "card-inserted");
    r.host.current.socket.pause(); // host stops reading: our next request goes unanswered
    r.client.addReader(new VirtualReader("late", new EchoCard()));
    const ev = await r.waitEvent((e) => e.type === "disconnected", "disconnect after silence", 3000);
    expect(formatEvent(ev)).toMatch(/did not answer/);
  });

  it("stops cleanly on abort: CardRemove, ReaderRemove, then close", async () => {
    const r = await start([new VirtualReader("r", new EchoCard())]);
    await r.waitEvent((e) => e.type === "card-inserted");
    const conn = r.host.current;
    await r.stop();
    expect(types(conn.received).slice(-2)).toEqual([MsgType.CardRemove, MsgType.ReaderRemove]);
    expect(r.events.at(-1)).toEqual({ type: "stopped" });
  });

  it("never sends a frame above the limit: an oversized response becomes an Error", async () => {
    const reader = new VirtualReader("r", {
      atr: new EchoCard().atr,
      powerOn: async () => new EchoCard().atr,
      powerOff: async () => undefined,
      reset: async () => new EchoCard().atr,
      transmit: async () => new Uint8Array(70000),
    });
    const r = await start([reader]);
    await r.waitEvent((e) => e.type === "card-inserted");
    r.host.send({ type: MsgType.APDU, readerId: 0, apdu: Uint8Array.of(0, 0xb0, 0, 0, 0) });
    expect(await r.host.next(isType(MsgType.Error))).toMatchObject({ readerId: 0, code: 1 });
  });
});

describe("VSCard listener (QEMU connects to us)", () => {
  it("serves one host at a time and turns away a second one", async () => {
    const { events, port } = await startListener(cleanups, { initTimeoutMs: 300, handshakeTimeoutMs: 500 });
    const waitEvent = eventWaiter(events);
    // act as QEMU with server=off: connect, send the realize Init
    const sock = net.connect({ host: "127.0.0.1", port });
    cleanups.push(() => void sock.destroy());
    const seen: Buffer[] = [];
    sock.on("data", (d) => {
      seen.push(d);
      const all = Buffer.concat(seen);
      // answer everything like QEMU: Init → Init, ReaderAdd/ATR/ReaderRemove → Error(0, SUCCESS)
      let off = 0;
      while (all.length - off >= 12) {
        const type = all.readUInt32BE(off);
        const len = all.readUInt32BE(off + 8);
        if (all.length - off < 12 + len) break;
        off += 12 + len;
        if (type === MsgType.Init) sock.write(encodeMessage(initMessage(UNDEFINED_READER_ID)));
        if ([3, 4, 5, 6].includes(type)) sock.write(encodeMessage({ type: MsgType.Error, readerId: 0, code: 0 }));
      }
      seen.splice(0, seen.length, all.subarray(off));
    });
    sock.write(encodeMessage(initMessage(UNDEFINED_READER_ID)));
    await waitEvent((e) => e.type === "card-inserted", "card inserted via listener");
    // A second host that never finishes the handshake is closed at its deadline.
    const second = net.connect({ host: "127.0.0.1", port }).resume();
    await new Promise<void>((res) => second.on("close", () => res()).on("error", () => undefined));
    expect(events.some((e) => e.type === "rejected-connection")).toBe(true);
    // after the first host leaves, a new one is served
    sock.destroy();
    await waitEvent((e) => e.type === "disconnected");
  });
});
