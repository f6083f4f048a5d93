/**
 * TCP_QUICKACK on the vpcd connection (src/backends/vpcd/quick-ack.ts and the
 * native helper built by `npm run build`). The latency test reproduces what
 * Debian's vpcd does (length and payload in two writes, Nagle on) with the
 * fake vpcd, so it measures the real kernel behaviour on loopback.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { VirtualReader } from "../../../src/core/card/reader.js";
import { VpcdClient, type VpcdClientOptions } from "../../../src/backends/vpcd/client.js";
import { quickAckSupport } from "../../../src/backends/vpcd/quick-ack.js";
import { FakeVpcd, MockCard, withTimeout } from "./fake-vpcd.js";

const FAST = { initialMs: 20, maxMs: 80, factor: 2, jitter: 0 };
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function connected(options: Partial<VpcdClientOptions>) {
  const vpcd = await FakeVpcd.listen();
  const client = new VpcdClient({ reader: new VirtualReader("t", new MockCard()), port: vpcd.port, backoff: FAST, ...options });
  cleanups.push(() => vpcd.close());
  cleanups.push(() => client.stop());
  const up = withTimeout(new Promise<void>((r) => client.once("connected", () => r())), 3000, "connected");
  client.start();
  await up;
  return { vpcd, client, conn: await vpcd.connection(0) };
}

/** Median time of `n` APDU round trips sent as vpcd sends them, after `warmUp` unmeasured ones. */
async function medianRoundTripMs(conn: Awaited<ReturnType<typeof connected>>["conn"], n: number, warmUp: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < warmUp + n; i++) {
    const t = performance.now();
    await conn.request(Uint8Array.of(0x00, 0xa4, 0x04, 0x00, 0x00), "split");
    if (i >= warmUp) times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

describe("the native TCP_QUICKACK helper", () => {
  it("is built by npm run build on Linux (required under CI=true; optional elsewhere)", (ctx) => {
    const support = quickAckSupport();
    if (process.platform !== "linux") return ctx.skip();
    if (support.set === null && process.env.CI !== "true") return ctx.skip();
    expect(support.set, support.why).not.toBeNull();
  });

  it("answers false, never throws, for a socket that is not open", () => {
    const set = quickAckSupport().set;
    if (set === null) return;
    expect(set(new Socket())).toBe(false);
  });
});

describe("VpcdClient and TCP_QUICKACK", () => {
  it("sets it once connected and after every chunk read", async () => {
    const calls: Socket[] = [];
    const { conn } = await connected({ quickAck: (s) => (calls.push(s), true) });
    await conn.request(Uint8Array.of(0x00, 0xb0, 0x00, 0x00, 0x00), "whole");
    await conn.request(Uint8Array.of(0x00, 0xb0, 0x00, 0x00, 0x00), "whole");
    expect(calls.length).toBeGreaterThanOrEqual(3);
    expect(new Set(calls).size).toBe(1);
  });

  it("never touches the socket with quickAck: false", async () => {
    const { client, conn } = await connected({ quickAck: false });
    expect(client.quickAck).toBe(false);
    expect(await conn.request(Uint8Array.of(0x00, 0xb0, 0x00, 0x00, 0x00))).toHaveLength(3);
  });

  it("takes vpcd's split writes from ~40 ms (delayed ACK) to well under 10 ms per APDU", async () => {
    if (quickAckSupport().set === null) return; // the test above fails in that case
    const on = await connected({});
    expect(on.client.quickAck).toBe(true);
    const fast = await medianRoundTripMs(on.conn, 20, 20);
    const off = await connected({ quickAck: false });
    const slow = await medianRoundTripMs(off.conn, 8, 20);
    // Linux's delayed-ACK timer is 40 ms minimum (TCP_DELACK_MIN); 20 ms apart is unmistakable.
    expect(slow, `without TCP_QUICKACK: ${slow.toFixed(2)} ms`).toBeGreaterThan(20);
    expect(fast, `with TCP_QUICKACK: ${fast.toFixed(2)} ms`).toBeLessThan(10);
  }, 30_000);
});
