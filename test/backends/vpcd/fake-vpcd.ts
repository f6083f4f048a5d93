/**
 * A stand-in for vpcd's listening side: accepts the card's connection on
 * 127.0.0.1, sends frames the way vpcd 3.3 does (length and payload in two
 * writes) and collects the card's replies.
 */
import { createServer, type Server, type Socket } from "node:net";
import type { SmartCard } from "../../../src/core/card/reader.js";
import { FrameDecoder, encodeFrame } from "../../../src/backends/vpcd/protocol.js";

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

export class FakeConnection {
  readonly frames: Uint8Array[] = [];
  /** Lengths announced by the card, including any invalid 0. */
  readonly announcedLengths: number[] = [];
  readonly closed: Promise<void>;
  #decoder = new FrameDecoder();
  #waiters: ((f: Uint8Array) => void)[] = [];
  #raw = Buffer.alloc(0);
  #isClosed = false;

  constructor(readonly socket: Socket) {
    this.closed = new Promise((resolve) => socket.on("close", () => resolve()));
    socket.on("close", () => (this.#isClosed = true));
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  #onData(chunk: Buffer): void {
    // Track announced lengths independently of the decoder so a 0 is seen, not just rejected.
    this.#raw = Buffer.concat([this.#raw, chunk]);
    while (this.#raw.length >= 2) {
      const n = this.#raw.readUInt16BE(0);
      if (n !== 0 && this.#raw.length < 2 + n) break;
      this.announcedLengths.push(n);
      this.#raw = this.#raw.subarray(2 + n);
    }
    let frames: Uint8Array[];
    try {
      frames = this.#decoder.feed(chunk);
    } catch {
      return; // zero-length frame: recorded in announcedLengths, the test fails on it
    }
    for (const f of frames) {
      const w = this.#waiters.shift();
      if (w) w(f);
      else this.frames.push(f);
    }
  }

  /** Sends a frame as vpcd 3.3 does: the 2-byte length, then the payload, in separate writes. */
  send(payload: Uint8Array, mode: "split" | "whole" | "bytewise" = "split"): void {
    const frame = encodeFrame(payload);
    if (mode === "whole") this.socket.write(frame);
    else if (mode === "split") {
      this.socket.write(frame.subarray(0, 2));
      this.socket.write(frame.subarray(2));
    } else for (const b of frame) this.socket.write(Uint8Array.of(b));
  }

  sendRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  nextFrame(ms = 2000): Promise<Uint8Array> {
    const queued = this.frames.shift();
    if (queued) return Promise.resolve(queued);
    return withTimeout(new Promise<Uint8Array>((resolve) => this.#waiters.push(resolve)), ms, "a frame from the card");
  }

  async request(payload: Uint8Array, mode: "split" | "whole" | "bytewise" = "split"): Promise<Uint8Array> {
    this.send(payload, mode);
    return this.nextFrame();
  }

  /** Resolves true if nothing arrives within ms. */
  async quietFor(ms: number): Promise<boolean> {
    const before = this.frames.length;
    await new Promise((r) => setTimeout(r, ms));
    return this.frames.length === before && this.#waiters.length === 0;
  }

  close(): void {
    this.socket.destroy();
  }
}

export class FakeVpcd {
  readonly connections: FakeConnection[] = [];
  #waiters: ((c: FakeConnection) => void)[] = [];
  #sockets = new Set<Socket>();

  private constructor(
    readonly server: Server,
    readonly port: number,
  ) {}

  static async listen(port = 0): Promise<FakeVpcd> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    const fake = new FakeVpcd(server, address.port);
    server.on("connection", (socket) => fake.#accept(socket));
    return fake;
  }

  /** Sockets accepted by this server, to tell them apart from the client's in spies. */
  owns(socket: unknown): boolean {
    return this.#sockets.has(socket as Socket);
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    const conn = new FakeConnection(socket);
    this.connections.push(conn);
    const w = this.#waiters.shift();
    if (w) w(conn);
  }

  /** The connection number `index` (0-based), waiting for it if needed. */
  connection(index: number, ms = 3000): Promise<FakeConnection> {
    if (this.connections[index]) return Promise.resolve(this.connections[index]);
    return withTimeout(
      new Promise<FakeConnection>((resolve) => {
        const check = (c: FakeConnection) => {
          if (this.connections.indexOf(c) >= index) resolve(this.connections[index]);
          else this.#waiters.push(check);
        };
        this.#waiters.push(check);
      }),
      ms,
      `connection #${index}`,
    );
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A scripted card: records power calls and answers APDUs with `respond`. */
export class MockCard implements SmartCard {
  readonly calls: string[] = [];
  atr = Uint8Array.of(0x3b, 0x7a, 0x18, 0x00, 0x00, 0x73, 0x66, 0x74, 0x65, 0x20, 0x63, 0x64, 0x31, 0x34, 0x34);
  /** The answer to a command; may throw (a card failure) or take its time (a promise). */
  respond: (command: Uint8Array) => Uint8Array | Promise<Uint8Array> = (c) => Uint8Array.of(c[1] ?? 0, 0x90, 0x00);

  async powerOn(): Promise<Uint8Array> {
    this.calls.push("powerOn");
    return this.atr;
  }
  async powerOff(): Promise<void> {
    this.calls.push("powerOff");
  }
  async reset(): Promise<Uint8Array> {
    this.calls.push("reset");
    return this.atr;
  }
  async transmit(command: Uint8Array): Promise<Uint8Array> {
    this.calls.push(`apdu:${Buffer.from(command).toString("hex")}`);
    return this.respond(command);
  }
}
