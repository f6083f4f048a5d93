/**
 * A fake QEMU ccid-card-passthru host for the VSCard benchmark: a TCP server
 * on 127.0.0.1:0 that answers the card's Init with its own, every ReaderAdd
 * with Error(SUCCESS) carrying a fresh reader id, every ATR / ReaderRemove /
 * CardRemove with Error(SUCCESS), then keeps exactly one APDU outstanding per
 * reader (as QEMU does: the guest's CCID driver waits for each answer) and
 * counts the answers.
 */
import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import net from "node:net";
import { performance } from "node:perf_hooks";
import { ErrorCode, HEADER_LENGTH, MsgType, encodeFrame, encodeMessage, initMessage } from "../../src/backends/vscard/codec.js";
import { toHex } from "../../src/core/bytes.js";
import { sleep } from "./stats.js";

function errorFrame(readerId: number, code: number): Uint8Array {
  return encodeMessage({ type: MsgType.Error, readerId, code });
}

export class FakeQemu {
  readonly server = net.createServer({ noDelay: true });
  #socket: net.Socket | null = null;
  #nextId = 0;
  #atrs = new Set<number>();
  #apduFrames = new Map<number, Uint8Array>();
  #idle = new Set<number>();
  #running = false;
  #count = 0;
  #errors = 0;
  #firstReply: string | null = null;
  #onReady: (() => void) | null = null;
  #onIdle: (() => void) | null = null;
  #buf: Buffer = Buffer.alloc(0);

  constructor(
    readonly readers: number,
    readonly apdu: Uint8Array,
  ) {
    this.server.on("connection", (s) => this.#accept(s));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen({ host: "127.0.0.1", port: 0 }, resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Resolves once every reader has announced its card (ATR). */
  ready(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`VSCard card side: ${this.#atrs.size}/${this.readers} readers ready after ${timeoutMs} ms`)), timeoutMs);
      this.#onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      if (this.#atrs.size >= this.readers) this.#onReady();
    });
  }

  #accept(socket: net.Socket): void {
    if (this.#socket) {
      socket.destroy();
      return;
    }
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#data(chunk));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      if (this.#socket === socket) this.#socket = null;
    });
  }

  #data(chunk: Buffer): void {
    let buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    let off = 0;
    while (buf.length - off >= HEADER_LENGTH) {
      const type = buf.readUInt32BE(off);
      const id = buf.readUInt32BE(off + 4);
      const len = buf.readUInt32BE(off + 8);
      if (buf.length - off < HEADER_LENGTH + len) break;
      const payloadStart = off + HEADER_LENGTH;
      off = payloadStart + len;
      this.#message(type, id, buf, payloadStart, len);
    }
    this.#buf = off === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(off));
  }

  #message(type: number, id: number, buf: Buffer, start: number, len: number): void {
    const s = this.#socket!;
    switch (type) {
      case MsgType.APDU:
      case MsgType.Error: {
        if (type === MsgType.Error && !this.#apduFrames.has(id)) {
          // not an APDU failure: a stray Error, ignore
          return;
        }
        if (type === MsgType.APDU) {
          this.#count++;
          if (this.#firstReply === null) this.#firstReply = toHex(buf.subarray(start, start + len));
        } else this.#errors++;
        if (this.#running) s.write(this.#apduFrames.get(id)!);
        else {
          this.#idle.add(id);
          if (this.#idle.size === this.#apduFrames.size) this.#onIdle?.();
        }
        return;
      }
      case MsgType.Init:
        s.write(encodeMessage(initMessage()));
        return;
      case MsgType.ReaderAdd: {
        const rid = this.#nextId++;
        s.write(errorFrame(rid, ErrorCode.Success));
        return;
      }
      case MsgType.ATR:
        s.write(errorFrame(id, ErrorCode.Success));
        this.#atrs.add(id);
        this.#apduFrames.set(id, encodeFrame(MsgType.APDU, id, this.apdu));
        this.#idle.add(id);
        if (this.#atrs.size >= this.readers) this.#onReady?.();
        return;
      case MsgType.ReaderRemove:
      case MsgType.CardRemove:
        s.write(errorFrame(id, ErrorCode.Success));
        return;
      default:
        return;
    }
  }

  /** One timed run: every reader busy for `seconds`; returns round trips per second. */
  async run(seconds: number): Promise<{ rate: number; errors: number; firstReply: string | null }> {
    const s = this.#socket;
    if (!s) throw new Error("VSCard card side not connected");
    this.#count = 0;
    this.#errors = 0;
    this.#running = true;
    this.#idle.clear();
    const start = performance.now();
    for (const frame of this.#apduFrames.values()) s.write(frame);
    await sleep(seconds * 1000);
    const counted = this.#count;
    const elapsed = performance.now() - start;
    this.#running = false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      this.#onIdle = () => {
        clearTimeout(timer);
        resolve();
      };
      if (this.#idle.size === this.#apduFrames.size) this.#onIdle();
    });
    this.#onIdle = null;
    return { rate: (counted * 1000) / elapsed, errors: this.#errors, firstReply: this.#firstReply };
  }

  close(): void {
    this.#socket?.destroy();
    this.server.close();
  }
}

/** bench/vscard/fake-qemu.c driven over its stdin/stdout. */
class NativeQemu {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;
  #stderr = "";

  constructor(binary: string, readers: number, apdu: Uint8Array, cpu: string | null) {
    const argv = [binary, String(readers), toHex(apdu)];
    const [cmd, ...args] = cpu === null ? argv : ["taskset", "-c", cpu, ...argv];
    this.#child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    this.#child.stderr.setEncoding("utf8").on("data", (d: string) => (this.#stderr += d));
    this.#lines = createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();
  }

  async #next(): Promise<string> {
    const r = await this.#lines.next();
    if (r.done) throw new Error(`fake-qemu: ${this.#stderr.trim() || "exited"}`);
    return r.value;
  }

  async listen(): Promise<number> {
    const line = await this.#next();
    if (!line.startsWith("port ")) throw new Error(`fake-qemu: ${line}`);
    return Number(line.slice(5));
  }

  async ready(_timeoutMs?: number): Promise<void> {
    const line = await this.#next();
    if (!line.startsWith("ready")) throw new Error(`fake-qemu: ${line}`);
  }

  async run(seconds: number): Promise<{ rate: number; errors: number; firstReply: string | null }> {
    this.#child.stdin.write(`run ${seconds}\n`);
    const [, rate, , errors, , first] = (await this.#next()).split(" ");
    return { rate: Number(rate), errors: Number(errors), firstReply: first === "-" ? null : first };
  }

  close(): void {
    if (this.#child.exitCode !== null) return;
    this.#child.stdin.end("quit\n");
    setTimeout(() => this.#child.kill("SIGKILL"), 3000).unref();
  }
}

export interface VscardResult {
  readonly runs: number[];
  readonly errors: number;
  readonly firstReply: string | null;
}

/**
 * Starts a fake host (bench/vscard/fake-qemu.c when `hostBinary` is given,
 * else the FakeQemu above, in this process) and the card side
 * (dist/bench/vscard-card.js) against it, then measures.
 */
export async function measureVscard(options: {
  readonly node: string;
  readonly script: string;
  readonly hostBinary: string | null;
  /** V8/Node flags for the Node card side (the CLI's, so that it runs as `cacard vscard` would). */
  nodeFlags?: readonly string[];
  /** cac/null/raw: dist/bench/vscard-card.js in that mode; echo: bench/vscard/echo-card.c (`echoBinary`). */
  readonly mode: "cac" | "null" | "raw" | "echo";
  readonly echoBinary?: string | null;
  readonly db: string;
  readonly readers: number;
  readonly apdu: Uint8Array;
  readonly runs: number;
  readonly seconds: number;
  /** CPU lists for taskset (native host only); null = wherever the scheduler puts them. */
  readonly cpus: { readonly host: string; readonly card: string } | null;
}): Promise<VscardResult> {
  const host = options.hostBinary
    ? new NativeQemu(options.hostBinary, options.readers, options.apdu, options.cpus?.host ?? null)
    : new FakeQemu(options.readers, options.apdu);
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  try {
    const port = await host.listen();
    const argv =
      options.mode === "echo"
        ? [options.echoBinary ?? "echo-card", String(port), String(options.readers)]
        : [options.node, ...(options.nodeFlags ?? []), options.script, options.mode, options.db, String(port), String(options.readers)];
    const [cmd, ...args] = options.cpus && options.hostBinary ? ["taskset", "-c", options.cpus.card, ...argv] : argv;
    child = spawn(cmd, args, { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const c = child;
    exited = new Promise<void>((resolve) => c.once("exit", () => resolve()));
    await Promise.race([
      host.ready(120_000),
      exited.then(() => {
        throw new Error(`VSCard card side exited: ${stderr.trim().split("\n").slice(-3).join(" / ")}`);
      }),
    ]);
    await host.run(Math.min(0.3, options.seconds)); // warm-up
    const runs: number[] = [];
    let errors = 0;
    let firstReply: string | null = null;
    for (let r = 0; r < options.runs; r++) {
      const res = await host.run(options.seconds);
      runs.push(res.rate);
      errors += res.errors;
      firstReply = res.firstReply;
    }
    return { runs, errors, firstReply };
  } finally {
    host.close();
    if (child && child.exitCode === null) {
      child.kill("SIGTERM");
      const c = child;
      const timer = setTimeout(() => c.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    }
  }
}
