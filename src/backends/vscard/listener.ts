/**
 * The VSCard card provider QEMU connects to (its chardev has server=off), over
 * TCP, a unix socket or TLS. One host is served at a time; on stop the active
 * session says goodbye (CardRemove + ReaderRemove) before the socket is ended.
 *
 * Who gets the host slot. A connection is first *pending*: it must finish, in
 * handshakeTimeoutMs from its accept, the TLS handshake with an accepted
 * client certificate (when TLS is on) and then the VSCard handshake: we send
 * our Init, the host answers with its Init (QEMU always does). Only then may
 * it take the slot; a connection that sends nothing, trickles bytes or fails
 * either step never holds it, and is closed at its deadline. A pending
 * connection that finished its handshake while another host is served waits
 * for the slot until its deadline, so that a host reconnecting at once after
 * a close (QEMU does) is served as soon as the old connection is gone. At most
 * maxPendingConnections are pending: a newcomer past the limit closes the
 * pending connection that has made the least progress (the oldest of those
 * that sent nothing, then of those that have not finished TLS, ...).
 */
import net from "node:net";
import tls from "node:tls";
import { formatEndpoint } from "./address.js";
import { ReaderHost, runSession, STOP_GRACE_MS, type ConnectionOptions } from "./connection.js";
import { runVerifyPeer, tlsDescription, TlsConfigError } from "./tls.js";
import { MINIMAL_READER_ID, MsgType, VscFramer, checkInit, encodeMessage, initMessage, msgTypeName } from "./codec.js";
import { WarningLimiter } from "../../util/rate-limit.js";

/**
 * How long a connection has, from its accept, to finish the TLS handshake
 * and the VSCard Init exchange (and, if another host is being served, to
 * wait for the slot). QEMU does both in a few milliseconds.
 */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 2_000;
/**
 * Connections in their handshake at once. Each holds a socket, at most one
 * partial frame (64 KiB) and TLS state; past this the least advanced one is
 * closed to make room.
 */
export const MAX_PENDING_CONNECTIONS = 128;
/** Complete messages a host may send before its Init (QEMU sends none); more is a protocol error. */
export const MAX_MESSAGES_BEFORE_INIT = 4;

export type VscardListenerOptions = ConnectionOptions & {
  /** Deadline for a connection's TLS + VSCard handshake; default DEFAULT_HANDSHAKE_TIMEOUT_MS. */
  readonly handshakeTimeoutMs?: number;
  /** Default MAX_PENDING_CONNECTIONS. */
  readonly maxPendingConnections?: number;
};

/** How far a pending connection got; the lowest is closed first when there are too many. */
const Progress = {
  /** Nothing received yet (or, with TLS, the handshake not done). */
  Silent: 0,
  /** Some VSCard bytes arrived, no Init yet. */
  Talking: 1,
  /** TLS done and the client certificate accepted. */
  Authenticated: 2,
  /** The host's Init arrived: may take the slot. */
  Ready: 3,
} as const;
type Progress = (typeof Progress)[keyof typeof Progress];

interface Pending {
  readonly raw: net.Socket;
  readonly peer: string;
  socket: net.Socket;
  progress: Progress;
  tlsInfo: string | null;
  readonly received: Buffer[];
  messages: number;
  timer: NodeJS.Timeout | null;
  done: boolean;
}

/** QEMU connects to us (its chardev has server=off). */
export class VscardListener extends ReaderHost {
  readonly #opts: VscardListenerOptions;
  readonly #handshakeMs: number;
  readonly #maxPending: number;
  /** Pending connections in accept order. */
  readonly #pending = new Set<Pending>();
  /** Pending connections whose handshake is done, in the order they finished. */
  readonly #ready: Pending[] = [];
  readonly #warnings: WarningLimiter;
  #active: net.Socket | null = null;
  #address: string | null = null;

  constructor(options: VscardListenerOptions) {
    super(options.readers);
    if (options.tls && options.tls.role !== "server") throw new TlsConfigError("VscardListener needs server TLS credentials");
    if (options.tls && options.endpoint.kind === "unix") throw new TlsConfigError("TLS is only available over TCP");
    this.#opts = options;
    this.#handshakeMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.#maxPending = Math.max(1, options.maxPendingConnections ?? MAX_PENDING_CONNECTIONS);
    this.#warnings = new WarningLimiter((message) => options.onEvent?.({ type: "warning", message }));
  }

  /** The bound address once listening (with the real port when 0 was asked). */
  get address(): string | null {
    return this.#address;
  }

  /** Connections in their handshake now (tests, diagnostics). */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Listens and serves until the signal aborts. Rejects if the address cannot be bound. */
  async run(): Promise<void> {
    const { endpoint, signal, onEvent } = this.#opts;
    if (signal?.aborted) return;
    const server = net.createServer({ noDelay: true });
    server.on("connection", (raw) => this.#accept(raw));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      const onListening = () => {
        server.off("error", reject);
        resolve();
      };
      if (endpoint.kind === "tcp") server.listen({ host: endpoint.host, port: endpoint.port, exclusive: true }, onListening);
      else server.listen({ path: endpoint.path, exclusive: true }, onListening);
    });
    const bound = server.address();
    this.#address =
      endpoint.kind === "tcp" && bound && typeof bound === "object"
        ? formatEndpoint({ kind: "tcp", host: bound.address, port: bound.port })
        : formatEndpoint(endpoint);
    onEvent?.({ type: "listening", address: this.#address });
    await new Promise<void>((resolve) => {
      const stop = () => {
        for (const p of [...this.#pending]) this.#close(p);
        server.close(() => resolve());
        // close() waits for the active connection, which the session ends politely.
        if (!this.#active) return;
        setTimeout(() => this.#active?.destroy(), STOP_GRACE_MS * 2).unref();
      };
      if (signal?.aborted) stop();
      else signal?.addEventListener("abort", stop, { once: true });
      if (!signal) server.once("close", () => resolve());
    });
    this.#warnings.flush();
    onEvent?.({ type: "stopped" });
  }

  #accept(raw: net.Socket): void {
    raw.on("error", () => undefined); // reported through close and the reason we give
    const peer = formatEndpoint(
      raw.remoteAddress ? { kind: "tcp", host: raw.remoteAddress, port: raw.remotePort ?? 0 } : this.#opts.endpoint,
    );
    if (this.#opts.signal?.aborted) {
      raw.destroy();
      return;
    }
    if (this.#pending.size >= this.#maxPending) this.#evict();
    const p: Pending = {
      raw,
      peer,
      socket: raw,
      progress: Progress.Silent,
      tlsInfo: null,
      received: [],
      messages: 0,
      timer: null,
      done: false,
    };
    this.#pending.add(p);
    p.timer = setTimeout(() => this.#reject(p, this.#timeoutReason(p)), this.#handshakeMs);
    raw.once("close", () => this.#close(p));
    raw.setNoDelay(true);
    if (this.#opts.tls) this.#tlsHandshake(p);
    else this.#vscardHandshake(p);
  }

  #timeoutReason(p: Pending): string {
    if (p.progress === Progress.Ready) return "another host is already connected";
    if (this.#opts.tls && p.socket === p.raw) return `TLS handshake not done within ${this.#handshakeMs} ms`;
    return `no VSCard Init within ${this.#handshakeMs} ms`;
  }

  /** Makes room: closes the pending connection that got least far, the oldest first. */
  #evict(): void {
    let victim: Pending | null = null;
    for (const p of this.#pending) if (victim === null || p.progress < victim.progress) victim = p;
    if (victim) this.#reject(victim, `more than ${this.#maxPending} connections in their handshake; closing the least advanced`);
  }

  #tlsHandshake(p: Pending): void {
    const creds = this.#opts.tls!;
    // A tls.Server that never listens, fed our accepted socket: it sets
    // `authorized` / `authorizationError` the way Node's servers do.
    const tlsServer = tls.createServer({
      ...creds.contextOptions,
      requestCert: true,
      rejectUnauthorized: false, // checked below, so that the reason can be reported
      handshakeTimeout: this.#handshakeMs,
    });
    tlsServer.once("secureConnection", (secure: tls.TLSSocket) => {
      secure.on("error", () => undefined);
      if (p.done) {
        secure.destroy();
        return;
      }
      let refused: string | null = null;
      if (creds.verifyPeer && !secure.authorized) {
        const err = secure.authorizationError;
        refused = `client certificate not accepted: ${err instanceof Error ? err.message : String(err ?? "none")}`;
      }
      refused ??= runVerifyPeer(this.#opts.verifyPeer, secure.getPeerCertificate(true));
      p.socket = secure;
      if (refused !== null) {
        this.#reject(p, refused);
        return;
      }
      p.progress = Progress.Authenticated;
      p.tlsInfo = tlsDescription(secure);
      this.#vscardHandshake(p);
    });
    tlsServer.once("tlsClientError", (e: Error) => this.#reject(p, `TLS handshake: ${e.message}`));
    tlsServer.emit("connection", p.raw);
  }

  /** Sends our Init and waits for the host's (the messages before it are kept for the session). */
  #vscardHandshake(p: Pending): void {
    const socket = p.socket;
    const framer = new VscFramer();
    const onData = (chunk: Buffer) => {
      if (p.done) return;
      if (p.progress < Progress.Talking) p.progress = Progress.Talking;
      p.received.push(chunk);
      let messages;
      try {
        messages = framer.push(chunk);
      } catch (e) {
        this.#reject(p, `protocol error: ${(e as Error).message}`);
        return;
      }
      for (const msg of messages) {
        if (msg.type !== MsgType.Init) {
          if (++p.messages > MAX_MESSAGES_BEFORE_INIT) {
            this.#reject(p, `protocol error: ${p.messages} messages before the host's Init (last: ${msgTypeName(msg.type === "unknown" ? msg.rawType : msg.type)})`);
            return;
          }
          continue;
        }
        try {
          checkInit(msg);
        } catch (e) {
          this.#reject(p, `protocol error: ${(e as Error).message}`);
          return;
        }
        // Handshake done: hold the bytes until the session takes over.
        socket.off("data", onData);
        socket.pause();
        p.progress = Progress.Ready;
        this.#ready.push(p);
        this.#promote();
        return;
      }
    };
    socket.on("data", onData);
    socket.write(encodeMessage(initMessage(MINIMAL_READER_ID)));
  }

  /** Gives the free slot to the first connection that finished its handshake. */
  #promote(): void {
    if (this.#active !== null || this.#opts.signal?.aborted) return;
    const p = this.#ready.shift();
    if (p === undefined) return;
    this.#settle(p);
    const { onEvent } = this.#opts;
    const socket = p.socket;
    this.#active = socket;
    onEvent?.({ type: "connected", address: p.peer, tls: p.tlsInfo });
    const received = p.received.length === 1 ? p.received[0] : Buffer.concat(p.received);
    p.received.length = 0;
    void runSession(socket, this.readers, this.#opts, {
      onSession: (s) => (this.session = s),
      warnings: this.#warnings,
      handshake: { received },
    }).then((outcome) => {
      onEvent?.({ type: "disconnected", address: p.peer, reason: outcome.reason });
      this.#active = null;
      this.#promote();
    });
  }

  /** The connection leaves the pending set (promoted or closed). */
  #settle(p: Pending): void {
    p.done = true;
    if (p.timer) clearTimeout(p.timer);
    p.timer = null;
    this.#pending.delete(p);
    const i = this.#ready.indexOf(p);
    if (i >= 0) this.#ready.splice(i, 1);
  }

  /** Closes a pending connection, reporting why (rate-limited: a flood of them is one line per window). */
  #reject(p: Pending, reason: string): void {
    if (p.done) return;
    if (this.#warnings.admit("rejected connections")) {
      this.#opts.onEvent?.({ type: "rejected-connection", address: p.peer, reason });
    }
    this.#close(p);
  }

  #close(p: Pending): void {
    if (p.done) return;
    this.#settle(p);
    p.received.length = 0;
    p.socket.destroy();
    p.raw.destroy();
  }
}

/** Convenience: run a listener until the signal aborts. */
export function runVscardListener(options: VscardListenerOptions): Promise<void> {
  return new VscardListener(options).run();
}
