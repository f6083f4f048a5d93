/**
 * An in-process stand-in for QEMU's ccid-card-passthru: a TCP server on
 * 127.0.0.1:0 that speaks VSCard the way QEMU 7.2's ccid-card-passthru does
 * (hw/usb/ccid-card-passthru.c), with switches for what the tests vary.
 */
import net from "node:net";
import tls from "node:tls";
import type { SmartCard } from "../../../src/core/card/reader.js";
import { CAC_ATR } from "../../../src/core/card/atr.js";
import {
  ErrorCode,
  MsgType,
  UNDEFINED_READER_ID,
  VscFramer,
  encodeMessage,
  initMessage,
  type VscMessage,
} from "../../../src/backends/vscard/codec.js";

export interface FakeHostOptions {
  /** Send an Init as soon as a client connects (QEMU's realize Init when wait=on). */
  realizeInit?: boolean;
  /** Answer the client's Init with an Init (QEMU always does). */
  replyInit?: boolean;
  /** "qemu": every ReaderAdd gets id 0; "multi": 0, 1, 2, ... */
  readerIds?: "qemu" | "multi";
  /** Refuse ReaderAdd with this code (reader id 0xffffffff). */
  refuseAdd?: number;
  /** Answer ATR with GENERAL_ERROR. */
  rejectAtr?: boolean;
  /** Serve TLS with these options (QEMU's tls-creds-x509 endpoint=server). */
  tls?: tls.TlsOptions;
}

export interface HostConnection {
  readonly socket: net.Socket;
  readonly received: VscMessage[];
  /** Frame boundaries as they arrived (chunk sizes), to check one write per message. */
  readonly chunks: number[];
}

export class FakeHost {
  readonly server: net.Server;
  readonly connections: HostConnection[] = [];
  options: FakeHostOptions;
  #nextId = 0;
  #waiters: Array<() => void> = [];

  constructor(options: FakeHostOptions = {}) {
    this.options = { realizeInit: false, replyInit: true, readerIds: "qemu", ...options };
    this.server = options.tls
      ? tls.createServer(options.tls, (socket) => this.#onConnection(socket))
      : net.createServer((socket) => this.#onConnection(socket));
    if (options.tls) this.server.on("tlsClientError", () => undefined);
  }

  async listen(port = 0): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen({ host: "127.0.0.1", port }, () => resolve());
    });
    return (this.server.address() as net.AddressInfo).port;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get current(): HostConnection {
    const c = this.connections[this.connections.length - 1];
    if (!c) throw new Error("no connection yet");
    return c;
  }

  /** All messages received on every connection, in order. */
  get all(): VscMessage[] {
    return this.connections.flatMap((c) => c.received);
  }

  send(msg: VscMessage, conn = this.current): void {
    conn.socket.write(encodeMessage(msg));
  }

  sendRaw(bytes: Uint8Array, conn = this.current): void {
    conn.socket.write(bytes);
  }

  /** Resolves when the predicate holds (checked after every message and connection). */
  async waitFor(predicate: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
    if (predicate()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== check);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== check);
        resolve();
      };
      this.#waiters.push(check);
    });
  }

  /** Waits for a message on the current connection matching the predicate; returns it. */
  async next(match: (m: VscMessage) => boolean, what = "message", conn?: () => HostConnection): Promise<VscMessage> {
    let found: VscMessage | undefined;
    await this.waitFor(
      () => {
        const c = conn ? conn() : this.connections[this.connections.length - 1];
        found = c?.received.find(match);
        return found !== undefined;
      },
      5000,
      what,
    );
    return found as VscMessage;
  }

  dropAll(): void {
    for (const c of this.connections) c.socket.destroy();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #notify(): void {
    for (const w of [...this.#waiters]) w();
  }

  #onConnection(socket: net.Socket): void {
    const conn: HostConnection = { socket, received: [], chunks: [] };
    this.connections.push(conn);
    const framer = new VscFramer();
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => {
      conn.chunks.push(chunk.length);
      let msgs: VscMessage[];
      try {
        msgs = framer.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const m of msgs) {
        conn.received.push(m);
        this.#answer(conn, m);
      }
      this.#notify();
    });
    socket.on("close", () => this.#notify());
    if (this.options.realizeInit) this.send(initMessage(UNDEFINED_READER_ID), conn);
    this.#notify();
  }

  #answer(conn: HostConnection, m: VscMessage): void {
    const reply = (readerId: number, code: number) =>
      this.send({ type: MsgType.Error, readerId, code }, conn);
    switch (m.type) {
      case MsgType.Init:
        if (this.options.replyInit) this.send(initMessage(UNDEFINED_READER_ID), conn);
        return;
      case MsgType.ReaderAdd:
        if (this.options.refuseAdd !== undefined) return reply(UNDEFINED_READER_ID, this.options.refuseAdd);
        return reply(this.options.readerIds === "multi" ? this.#nextId++ : 0, ErrorCode.Success);
      case MsgType.ReaderRemove:
      case MsgType.CardRemove:
        return reply(m.readerId, ErrorCode.Success);
      case MsgType.ATR:
        return reply(m.readerId, this.options.rejectAtr ? ErrorCode.GeneralError : ErrorCode.Success);
      case MsgType.APDU:
      case MsgType.Error:
        return;
      default:
        return reply(m.readerId, ErrorCode.GeneralError);
    }
  }
}

/** A card that answers data = reversed command body + 9000, and counts power-ons. */
export class EchoCard implements SmartCard {
  readonly atr = CAC_ATR;
  powerOns = 0;
  transmits: Uint8Array[] = [];
  constructor(readonly tag = 0) {}
  async powerOn(): Promise<Uint8Array> {
    this.powerOns++;
    return this.atr;
  }
  async powerOff(): Promise<void> {}
  async reset(): Promise<Uint8Array> {
    return this.atr;
  }
  async transmit(command: Uint8Array): Promise<Uint8Array> {
    this.transmits.push(command);
    const body = command.length > 5 ? command.slice(5) : new Uint8Array(0);
    return Uint8Array.from([...body.reverse(), this.tag, 0x90, 0x00]);
  }
}
