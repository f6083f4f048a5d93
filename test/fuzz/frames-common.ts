/**
 * Shared pieces of the vpcd and VSCard frame fuzzers: the frame count, a fast
 * seeded byte generator, the APDU corpus, random split points, a card that a
 * test can swap per connection, and an RSS watch.
 */
import * as net from "node:net";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createCacCard } from "../../src/core/cac/cac-card.js";
import type { VirtualCard } from "../../src/core/card/card.js";
import type { SmartCard } from "../../src/core/card/reader.js";
import { memoryStore } from "../helpers/memory-store.js";

/**
 * Frames per fuzz file: FUZZ_FRAMES; if unset, FUZZ_APDUS / 10 (so `npm run fuzz`, which
 * sets FUZZ_APDUS=10M for the card fuzzer, sends 1M frames here too); otherwise 1M with
 * CI=true and 20k locally.
 */
export function frameBudget(env: NodeJS.ProcessEnv = process.env): number {
  if (env.FUZZ_FRAMES) return Math.max(1, Math.floor(Number(env.FUZZ_FRAMES)));
  if (env.FUZZ_APDUS) return Math.max(1, Math.floor(Number(env.FUZZ_APDUS) / 10));
  return env.CI === "true" ? 1_000_000 : 20_000;
}

export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);

/** RSS may grow this much over a run (allocator noise, socket churn), not with the frame count. */
export const RSS_SLACK = 64 * 1024 * 1024;

/** mulberry32: a tiny seeded PRNG, [0, 2^32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** n bytes from a seed (fast: fast-check draws the seed, not every byte). */
export function seededBytes(n: number, seed: number): Uint8Array {
  const next = prng(seed);
  const out = new Uint8Array(n);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = next();
    out[i] = v;
    out[i + 1] = v >>> 8;
    out[i + 2] = v >>> 16;
    out[i + 3] = v >>> 24;
  }
  for (let v = next(); i < n; i++, v >>>= 8) out[i] = v;
  return out;
}

/** Every command APDU of the golden transcripts (the same corpus as the card fuzzer). */
export function loadApduCorpus(): Uint8Array[] {
  const dir = resolve(__dirname, "../vectors");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".txt"))
    .flatMap((f) => readFileSync(join(dir, f), "utf8").split("\n"))
    .filter((l) => l.startsWith(">> "))
    .map((l) => Uint8Array.from(Buffer.from(l.slice(3).trim(), "hex")));
}

/**
 * Cut points for a stream of `length` bytes: mostly tiny pieces (1-4 bytes,
 * vpcd 3.3 writes the length prefix alone), medium ones, and a few large.
 * Returns chunk sizes summing to length.
 */
export function randomChunks(length: number, seed: number, maxLarge = 70_000): number[] {
  const next = prng(seed ^ 0x9e3779b9);
  const sizes: number[] = [];
  let left = length;
  let style = next() % 4; // per stream: 0 bytewise-ish, 1 small, 2 mixed, 3 large
  // Byte-sized pieces only for streams of up to 8 KiB: a 64 KiB frame in 1-byte reads
  // costs FrameDecoder ~0.5-2 s: its #take shifts the chunk array once per chunk.
  if (style === 0 && length > 8192) style = 1;
  while (left > 0) {
    const r = next() % 100;
    let n: number;
    if (style === 0) n = 1 + (next() % 3);
    else if (style === 1 || r < 40) n = 1 + (next() % 16);
    else if (style === 2 || r < 90) n = 1 + (next() % 512);
    else n = 1 + (next() % maxLarge);
    n = Math.min(n, left);
    sizes.push(n);
    left -= n;
  }
  return sizes;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(parts as Uint8Array[]);
}

export const hex = (u: Uint8Array, max = 64): string => {
  const h = Buffer.from(u.subarray(0, max)).toString("hex");
  return u.length > max ? `${h}…(${u.length} bytes)` : h;
};

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/**
 * The CAC card behind the fuzzed transport, replaced by a fresh one for each
 * connection, so that an identical "twin" card can predict every response.
 */
export class SwappableCard implements SmartCard {
  inner: VirtualCard;
  /** APDUs the transport handed to the card. */
  transmits = 0;
  readonly #make: () => VirtualCard;

  constructor(make: () => VirtualCard) {
    this.#make = make;
    this.inner = make();
  }

  /** A fresh card inside, and a twin for the test's model. */
  fresh(): VirtualCard {
    this.inner = this.#make();
    return this.#make();
  }

  get atr(): Uint8Array {
    return this.inner.atr;
  }
  powerOn(): Promise<Uint8Array> {
    return this.inner.powerOn();
  }
  powerOff(): Promise<void> {
    return this.inner.powerOff();
  }
  reset(): Promise<Uint8Array> {
    return this.inner.reset();
  }
  transmit(command: Uint8Array): Promise<Uint8Array> {
    this.transmits++;
    return this.inner.transmit(command);
  }
}

/** Cards over the sample keys without a password (so SIGN works without VERIFY). */
export function sampleCardFactory(): () => VirtualCard {
  const store = memoryStore();
  return () => createCacCard(store);
}

/**
 * Whether a card response matches the twin's: byte for byte, except GET CHALLENGE
 * (INS 84), whose data is random: there only length and status word must match.
 */
export function sameResponse(command: Uint8Array, got: Uint8Array, want: Uint8Array): boolean {
  if (command.length >= 2 && command[1] === 0x84 && got.length === want.length && got.length >= 2) {
    return got[got.length - 2] === want[want.length - 2] && got[got.length - 1] === want[want.length - 1];
  }
  return sameBytes(got, want);
}

/**
 * RSS after a warm-up, compared with the end of the run. With node --expose-gc
 * (NODE_OPTIONS=--expose-gc) it also tracks the live heap after a full GC, which
 * shows a leak far more precisely than RSS.
 */
export class RssWatch {
  #base = 0;
  #heapBase = 0;
  mark(): void {
    if (this.#base !== 0) return;
    this.#heapBase = liveHeap();
    this.#base = process.memoryUsage().rss;
  }
  growth(): number {
    return this.#base === 0 ? 0 : process.memoryUsage().rss - this.#base;
  }
  /** Live heap growth after a full GC, or NaN without --expose-gc. */
  heapGrowth(): number {
    return this.#base === 0 ? 0 : liveHeap() - this.#heapBase;
  }
}

function liveHeap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return NaN;
  gc();
  return process.memoryUsage().heapUsed;
}

/** Rejects after ms with a message; the timer never keeps the process alive. */
export function deadline<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  return new Promise<T>((resolvePromise, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what()}`)), ms);
    t.unref();
    p.then(
      (v) => {
        clearTimeout(t);
        resolvePromise(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/** Accepted sockets of a server, handed out in order. */
export class Acceptor<S> {
  readonly #queue: S[] = [];
  readonly #waiters: ((s: S) => void)[] = [];

  push(s: S): void {
    const w = this.#waiters.shift();
    if (w) w(s);
    else this.#queue.push(s);
  }

  next(): Promise<S> {
    const s = this.#queue.shift();
    if (s !== undefined) return Promise.resolve(s);
    return new Promise((r) => this.#waiters.push(r));
  }
}

/** Counts exceptions that escape to the process while a fuzz run is going on. */
export function escapeCounter(): { readonly errors: unknown[]; dispose(): void } {
  const errors: unknown[] = [];
  const onError = (e: unknown) => errors.push(e);
  process.on("uncaughtException", onError);
  process.on("unhandledRejection", onError);
  return {
    errors,
    dispose() {
      process.off("uncaughtException", onError);
      process.off("unhandledRejection", onError);
    },
  };
}

/** GET CHALLENGE for 256 bytes: a 5-byte command, a 258-byte answer (the best amplification). */
export const GET_CHALLENGE_256 = Uint8Array.of(0x00, 0x84, 0x00, 0x00, 0x00);

/** Resolves once pred() holds (polling), or rejects after ms. */
export async function until(pred: () => boolean, ms: number, what: () => string): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms: ${what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A fake peer's listening socket on 127.0.0.1 (OS-chosen port) whose connections queue in an Acceptor. */
export async function listenLoopback(
  options: net.ServerOpts = {},
): Promise<{ server: net.Server; acceptor: Acceptor<net.Socket>; port: number }> {
  const server = net.createServer(options);
  const acceptor = new Acceptor<net.Socket>();
  server.on("connection", (s) => acceptor.push(s));
  await new Promise<void>((r) => server.listen({ host: "127.0.0.1", port: 0 }, () => r()));
  return { server, acceptor, port: (server.address() as net.AddressInfo).port };
}
