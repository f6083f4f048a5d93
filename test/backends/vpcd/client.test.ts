import { afterEach, describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import { createServer, Socket } from "node:net";
import { VirtualReader } from "../../../src/core/card/reader.js";
import { VpcdClient, type VpcdClientOptions } from "../../../src/backends/vpcd/client.js";
import { encodeFrame } from "../../../src/backends/vpcd/protocol.js";
import { FakeVpcd, MockCard, withTimeout } from "./fake-vpcd.js";

const b = (...x: number[]) => Uint8Array.from(x);
const hex = (u: Uint8Array) => Buffer.from(u).toString("hex");
const FAST = { initialMs: 20, maxMs: 80, factor: 2, jitter: 0 };

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
  vi.restoreAllMocks();
});

async function rig(options: Partial<VpcdClientOptions> = {}, cardIn = true) {
  const vpcd = await FakeVpcd.listen();
  const card = new MockCard();
  const reader = new VirtualReader("test", cardIn ? card : undefined);
  const client = new VpcdClient({ reader, port: vpcd.port, backoff: FAST, ...options });
  cleanups.push(() => vpcd.close());
  cleanups.push(() => client.stop());
  return { vpcd, card, reader, client };
}

function once<T extends unknown[]>(client: VpcdClient, event: "connected" | "stopped" | "disconnected" | "retry"): Promise<T> {
  return withTimeout(new Promise<T>((resolve) => client.once(event, (...a: unknown[]) => resolve(a as T))), 3000, event);
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("VpcdClient against a fake vpcd", () => {
  it("answers GET ATR with the ATR and nothing else for power off/on/reset", async () => {
    const { vpcd, card, client } = await rig();
    client.start();
    const conn = await vpcd.connection(0);
    conn.send(b(0x01));
    conn.send(b(0x00));
    conn.send(b(0x02));
    const atr = await conn.request(b(0x04));
    expect(hex(atr)).toBe(hex(card.atr));
    expect(card.calls).toEqual(["powerOn", "powerOff", "reset"]);
    expect(await conn.quietFor(100)).toBe(true);
    expect(conn.frames).toEqual([]);
    expect(client.state).toBe("connected");
  });

  it("a card that takes its time: the frames behind its answer wait, replies keep their order", async () => {
    const { vpcd, card, client } = await rig();
    const pending: (() => void)[] = [];
    card.respond = (c) =>
      c[1] === 0x42 ? new Promise((resolve) => pending.push(() => resolve(b(0x5a, 0x90, 0x00)))) : b(c[1], 0x90, 0x00);
    client.start();
    const conn = await vpcd.connection(0);
    // vpcd itself waits for each reply; a peer that does not still gets them in order.
    conn.send(b(0x80, 0x42, 0x00, 0x00));
    conn.send(b(0x00, 0xa4, 0x04, 0x00));
    conn.send(b(0x02));
    expect(await conn.quietFor(100)).toBe(true);
    expect(card.calls).toEqual(["apdu:80420000"]); // the SELECT waits in the decoder
    pending.shift()!();
    expect(hex(await conn.nextFrame())).toBe("5a9000");
    expect(hex(await conn.nextFrame())).toBe("a49000");
    expect(await conn.quietFor(50)).toBe(true);
    expect(card.calls).toEqual(["apdu:80420000", "apdu:00a40400", "reset"]);
  });

  it("a card that fails asynchronously drops the connection like one that throws", async () => {
    const { vpcd, card, client } = await rig();
    card.respond = () => Promise.reject(new Error("token gone"));
    const disconnected = once<[string, Error?]>(client, "disconnected");
    client.start();
    const conn = await vpcd.connection(0);
    conn.send(b(0x00, 0xa4, 0x04, 0x00));
    const [reason, error] = await disconnected;
    expect(reason).toBe("card failure");
    expect(error?.message).toBe("token gone");
  });

  it("answers APDUs in order, whatever the write pattern of vpcd", async () => {
    const { vpcd, card, client } = await rig();
    card.respond = (c) => b(...c.subarray(0, 2), 0x61, c.length);
    client.start();
    const conn = await vpcd.connection(0);
    expect(hex(await conn.request(b(0x00, 0xa4, 0x04, 0x00), "split"))).toBe("00a46104");
    expect(hex(await conn.request(b(0x00, 0xc0, 0x00, 0x00, 0x0d), "bytewise"))).toBe("00c06105");
    expect(hex(await conn.request(b(0x80, 0x52, 0x00, 0x00, 0x02, 0x01, 0x02), "whole"))).toBe("80526107");
    // Several frames in one segment are answered one by one.
    conn.sendRaw(Buffer.concat([encodeFrame(b(0x04)), encodeFrame(b(0, 1, 2, 3)), encodeFrame(b(0x01))]));
    expect(hex(await conn.nextFrame())).toBe(hex(card.atr));
    expect(hex(await conn.nextFrame())).toBe("00016104");
    expect(await conn.quietFor(50)).toBe(true);
    expect(conn.announcedLengths.every((n) => n > 0)).toBe(true);
  });

  it("writes each reply with one write() and turns Nagle off", async () => {
    const writes: number[] = [];
    const noDelay: (boolean | undefined)[] = [];
    const { vpcd, client } = await rig();
    const origWrite = Socket.prototype.write;
    vi.spyOn(Socket.prototype, "write").mockImplementation(function (this: Socket, ...args: unknown[]) {
      if (!vpcd.owns(this)) writes.push((args[0] as Uint8Array).length);
      return (origWrite as (...a: unknown[]) => boolean).apply(this, args);
    });
    const origNoDelay = Socket.prototype.setNoDelay;
    vi.spyOn(Socket.prototype, "setNoDelay").mockImplementation(function (this: Socket, on?: boolean) {
      if (!vpcd.owns(this)) noDelay.push(on);
      return origNoDelay.call(this, on);
    });
    client.start();
    const conn = await vpcd.connection(0);
    await conn.request(b(0x04));
    await conn.request(b(0x00, 0x84, 0x00, 0x00, 0x08));
    expect(writes).toEqual([2 + 15, 2 + 3]);
    expect(noDelay.length).toBeGreaterThan(0);
    expect(noDelay.every((x) => x === true)).toBe(true);
  });

  it("emits redacted APDU events: VERIFY PIN bytes never leave the client", async () => {
    const { vpcd, client } = await rig();
    const seen: string[] = [];
    client.on("apdu", (c, r) => seen.push(`${hex(c)}/${hex(r)}`));
    client.start();
    const conn = await vpcd.connection(0);
    await conn.request(b(0x00, 0x20, 0x00, 0x00, 0x08, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38));
    await conn.request(b(0x00, 0x84, 0x00, 0x00, 0x08));
    expect(seen[0]).toBe("00200000082a2a2a2a2a2a2a2a/209000");
    expect(seen[0]).not.toContain("3132");
    expect(seen[1]).toBe("0084000008/849000");
  });

  it("closes the connection when the card is removed and reconnects on insert", async () => {
    const { vpcd, reader, client } = await rig();
    const reasons: string[] = [];
    client.on("disconnected", (r) => reasons.push(r));
    client.start();
    const first = await vpcd.connection(0);
    await first.request(b(0x04));
    reader.remove();
    await withTimeout(first.closed, 2000, "close after removal");
    expect(first.frames).toEqual([]);
    expect(first.announcedLengths.every((n) => n > 0)).toBe(true);
    await new Promise((r) => setTimeout(r, 150));
    expect(vpcd.connections.length).toBe(1); // no reconnect while removed
    expect(client.state).toBe("idle");
    expect(reasons).toEqual(["card removed"]);
    reader.insert();
    const second = await vpcd.connection(1);
    expect((await second.request(b(0x04))).length).toBe(15);
  });

  it("reconnects at once when the card is put back while the old connection is closing", async () => {
    const { vpcd, reader, client } = await rig({ backoff: { ...FAST, initialMs: 5000, maxMs: 5000 } });
    client.start();
    const first = await vpcd.connection(0);
    await first.request(b(0x04));
    reader.remove();
    expect(client.state).toBe("closing");
    reader.insert();
    await withTimeout(first.closed, 2000, "old connection closed");
    const second = await vpcd.connection(1, 1000); // well before the 5 s backoff
    expect((await second.request(b(0x04))).length).toBe(15);
  });

  it("does not connect until a card is inserted", async () => {
    const { vpcd, reader, client } = await rig({}, false);
    client.start();
    await new Promise((r) => setTimeout(r, 100));
    expect(vpcd.connections.length).toBe(0);
    reader.insert(new MockCard());
    await vpcd.connection(0);
  });

  it("backs off exponentially while vpcd refuses, then connects", async () => {
    const port = await freePort();
    const reader = new VirtualReader("t", new MockCard());
    const client = new VpcdClient({ reader, port, backoff: FAST });
    cleanups.push(() => client.stop());
    const delays: number[] = [];
    const reasons: string[] = [];
    client.on("retry", (ms) => delays.push(ms));
    client.on("disconnected", (r) => reasons.push(r));
    client.start();
    await withTimeout(
      new Promise<void>((resolve) => client.on("retry", () => delays.length >= 4 && resolve())),
      3000,
      "four retries",
    );
    expect(delays.slice(0, 4)).toEqual([20, 40, 80, 80]);
    expect(reasons[0]).toMatch(/connect failed.*ECONNREFUSED/);
    const vpcd = await FakeVpcd.listen(port);
    cleanups.push(() => vpcd.close());
    const conn = await vpcd.connection(0);
    expect((await conn.request(b(0x04))).length).toBe(15);
    // After a good exchange the backoff starts from the beginning again.
    const next = once<[number]>(client, "retry");
    conn.close();
    expect((await next)[0]).toBe(20);
    await vpcd.connection(1);
  });

  it("reconnects when vpcd drops the connection (pcscd restart)", async () => {
    const { vpcd, client } = await rig();
    client.start();
    const first = await vpcd.connection(0);
    await first.request(b(0x04));
    const gone = once<[string]>(client, "disconnected");
    first.close();
    expect((await gone)[0]).toBe("closed by vpcd");
    const second = await vpcd.connection(1);
    expect((await second.request(b(0x00, 0xa4, 0x04, 0x00))).length).toBe(3);
  });

  it("closes (never answers with 0 bytes) on a zero-length frame from vpcd", async () => {
    const { vpcd, client } = await rig();
    client.start();
    const conn = await vpcd.connection(0);
    const gone = once<[string, Error?]>(client, "disconnected");
    conn.sendRaw(b(0x00, 0x00));
    const [reason, error] = await gone;
    expect(reason).toBe("protocol error");
    expect(error?.message).toMatch(/zero-length/);
    await withTimeout(conn.closed, 2000, "close");
    expect(conn.announcedLengths).toEqual([]);
    await vpcd.connection(1); // and comes back with backoff
  });

  it("closes instead of replying when the card fails or answers with fewer than 2 bytes", async () => {
    const { vpcd, card, client } = await rig();
    client.start();
    let conn = await vpcd.connection(0);
    card.respond = () => new Uint8Array(0);
    conn.send(b(0x00, 0xa4, 0x04, 0x00));
    await withTimeout(conn.closed, 2000, "close on empty response");
    expect(conn.announcedLengths).toEqual([]);

    conn = await vpcd.connection(1);
    card.respond = () => b(0x90);
    conn.send(b(0x00, 0xa4, 0x04, 0x00));
    await withTimeout(conn.closed, 2000, "close on 1-byte response");
    expect(conn.announcedLengths).toEqual([]);

    conn = await vpcd.connection(2);
    card.respond = () => {
      throw new Error("boom");
    };
    const gone = once<[string, Error?]>(client, "disconnected");
    conn.send(b(0x00, 0xa4, 0x04, 0x00));
    const [reason, error] = await gone;
    expect(reason).toBe("card failure");
    expect(error?.message).toBe("boom");
    expect(conn.announcedLengths).toEqual([]);
  });

  it("stops cleanly on abort: closes, emits stopped, never reconnects", async () => {
    const controller = new AbortController();
    const { vpcd, reader, client } = await rig({ signal: controller.signal });
    client.start();
    const conn = await vpcd.connection(0);
    await conn.request(b(0x04));
    const stopped = once(client, "stopped");
    controller.abort();
    await stopped;
    await withTimeout(conn.closed, 2000, "close on stop");
    await client.stopped;
    expect(client.state).toBe("stopped");
    reader.remove();
    reader.insert();
    await new Promise((r) => setTimeout(r, 150));
    expect(vpcd.connections.length).toBe(1);
  });

  it("stops while waiting to retry", async () => {
    const port = await freePort();
    const client = new VpcdClient({ reader: new VirtualReader("t", new MockCard()), port, backoff: FAST });
    client.start();
    await once(client, "retry");
    await withTimeout(client.stop(), 1000, "stop");
    expect(client.state).toBe("stopped");
  });

  it("survives random frame streams: never throws, never writes a zero-length frame (property)", async () => {
    const vpcd = await FakeVpcd.listen();
    cleanups.push(() => vpcd.close());
    const errors: unknown[] = [];
    const onUncaught = (e: unknown) => errors.push(e);
    process.on("uncaughtException", onUncaught);
    cleanups.push(() => process.off("uncaughtException", onUncaught));
    let n = 0;
    const frame = fc.oneof(
      fc.constantFrom(0, 1, 2, 4).map((c) => encodeFrame(b(c))),
      fc.uint8Array({ minLength: 1, maxLength: 300 }).map((p) => encodeFrame(p)),
      fc.uint8Array({ maxLength: 8 }).map((raw) => Buffer.from(raw)), // garbage, incl. zero lengths
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(frame, { minLength: 1, maxLength: 15 }),
        fc.integer({ min: 1, max: 64 }),
        fc.array(fc.integer({ min: 0, max: 260 }), { minLength: 1, maxLength: 5 }),
        async (frames, chunk, responseLengths) => {
          const card = new MockCard();
          let i = 0;
          card.respond = () => new Uint8Array(responseLengths[i++ % responseLengths.length]).fill(0x90);
          const reader = new VirtualReader("fuzz", card);
          const client = new VpcdClient({ reader, port: vpcd.port, backoff: { ...FAST, initialMs: 1000 } });
          client.start();
          const conn = await vpcd.connection(n++);
          const stream = Buffer.concat(frames);
          for (let off = 0; off < stream.length; off += chunk) conn.sendRaw(stream.subarray(off, off + chunk));
          await new Promise((r) => setTimeout(r, 15));
          await client.stop();
          await withTimeout(conn.closed, 2000, "close");
          expect(conn.announcedLengths.filter((x) => x === 0)).toEqual([]);
          for (const f of conn.frames) expect(f.length).toBeGreaterThanOrEqual(2);
        },
      ),
      { numRuns: process.env.CI ? 150 : 60 },
    );
    expect(errors).toEqual([]);
  });
});
