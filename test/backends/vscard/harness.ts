/**
 * What the VSCard backend tests share: per-test cleanups, the test PKI, a
 * listener on an ephemeral loopback port, and `cacard` run in-process (the CLI
 * tests), alone or against a fake QEMU host.
 */
import { afterAll, afterEach, beforeAll } from "vitest";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { main } from "../../../src/cli/main.js";
import { VirtualReader } from "../../../src/core/card/reader.js";
import { VscardListener, type VscardListenerOptions } from "../../../src/backends/vscard/listener.js";
import type { VscardEvent } from "../../../src/backends/vscard/session.js";
import { EchoCard, FakeHost } from "./fake-host.js";
import { makeTestPki, type TestPki } from "./pki.js";

export type Cleanups = Array<() => Promise<void> | void>;

/** A list the test pushes cleanups to; after each test they run, last first. */
export function useCleanups(): Cleanups {
  const cleanups: Cleanups = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return cleanups;
}

/** The test PKI (pki.ts), made before the file's tests and removed after them; filled in by beforeAll. */
export function useTestPki(): TestPki {
  const pki = {} as { -readonly [K in keyof TestPki]: TestPki[K] };
  beforeAll(() => {
    Object.assign(pki, makeTestPki());
  });
  afterAll(() => rmSync(pki.root, { recursive: true, force: true }));
  return pki;
}

/** File `f` of the PKI directory `dir`. */
export const read = (dir: string, f: string) => readFileSync(join(dir, f));

/** A VscardListener on 127.0.0.1:0 serving one EchoCard reader, once it listens; aborted by `cleanups`. */
export async function startListener(cleanups: Cleanups, extra: Partial<VscardListenerOptions> = {}) {
  const events: VscardEvent[] = [];
  const ac = new AbortController();
  const listener = new VscardListener({
    readers: [new VirtualReader("r", new EchoCard())],
    endpoint: { kind: "tcp", host: "127.0.0.1", port: 0 },
    signal: ac.signal,
    onEvent: (e) => events.push(e),
    ...extra,
  });
  const done = listener.run();
  cleanups.push(async () => {
    ac.abort();
    await done;
  });
  for (let i = 0; listener.address === null; i++) {
    if (i > 500) throw new Error("listener did not start");
    await new Promise((r) => setTimeout(r, 5));
  }
  return { listener, events, port: Number(listener.address!.split(":").at(-1)) };
}

/** `cacard ARGV` running in-process, its output collected. */
export interface CliRun {
  code: Promise<number>;
  out: () => string;
  err: () => string;
  abort: () => void;
  stdin: PassThrough;
}

export function startCli(argv: string[]): CliRun {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d) => (out += d));
  stderr.on("data", (d) => (err += d));
  const ac = new AbortController();
  const code = main(argv, { stdin, stdout, stderr, env: {}, signal: ac.signal });
  return { code, out: () => out, err: () => err, abort: () => ac.abort(), stdin };
}

/** Polls `pred` every 10 ms; throws "timed out: WHAT" after `ms`. */
export async function until(pred: () => boolean, ms = 8000, what = "condition"): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A fake QEMU host and `cacard vscard --connect` to it with ARGV added; both ended by `cleanups`. */
export async function hostAndRun(cleanups: Cleanups, argv: string[]): Promise<{ host: FakeHost; r: CliRun }> {
  const host = new FakeHost();
  await host.listen();
  cleanups.push(() => host.close());
  const r = startCli(["vscard", "--connect", `127.0.0.1:${host.port}`, ...argv]);
  cleanups.push(async () => {
    r.abort();
    await r.code;
  });
  return { host, r };
}
