/**
 * The VSCard card provider around VscardSession: reaching QEMU's
 * ccid-card-passthru chardev over TCP, a unix socket or TLS, in either
 * direction, and keeping at it when QEMU goes away.
 *
 * - VscardClient: we connect (QEMU `-chardev socket,...,server=on`). On any
 *   disconnect or failed attempt it waits (exponential backoff, capped, with
 *   jitter) and connects again; every new connection repeats Init, ReaderAdd
 *   and ATR. The backoff resets once a host Init has been received.
 * - VscardListener: QEMU connects to us (`server=off`). One connection at a
 *   time; further ones are closed at once while one is active.
 *
 * Both stop cleanly when their AbortSignal fires: CardRemove + ReaderRemove
 * for attached readers, then the socket is ended.
 */
import net from "node:net";
import tls from "node:tls";
import type { VirtualReader } from "../../core/card/reader.js";
import { MAX_FRAME_LENGTH } from "./codec.js";
import { VscardSession, type VscardEvent } from "./session.js";
import { BusyPoll, busyPollWindowUs } from "./busy-poll.js";
import { runVerifyPeer, type TlsCredentials, type VerifyPeer } from "./tls.js";

export type Endpoint = { kind: "tcp"; host: string; port: number } | { kind: "unix"; path: string };

export interface BackoffOptions {
  /** First delay after a failure. */
  readonly initialMs?: number;
  /** Cap on the delay. */
  readonly maxMs?: number;
  readonly factor?: number;
  /** Fraction of the delay that is random (0 = none, 1 = full jitter). */
  readonly jitter?: number;
  readonly random?: () => number;
}

export const DEFAULT_BACKOFF = { initialMs: 250, maxMs: 10_000, factor: 2, jitter: 0.5 } as const;
/** TCP connect plus TLS handshake must finish within this. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Replies queued in the socket beyond this stop reading from the host until the kernel takes them. */
export const MAX_PENDING_OUTPUT = 4 * MAX_FRAME_LENGTH;
/** On stop, how long the goodbye messages may take before the socket is destroyed. */
export const STOP_GRACE_MS = 500;

/** Delay before retry number `attempt` (0-based): capped exponential with jitter. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initialMs ?? DEFAULT_BACKOFF.initialMs;
  const max = options.maxMs ?? DEFAULT_BACKOFF.maxMs;
  const factor = options.factor ?? DEFAULT_BACKOFF.factor;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? DEFAULT_BACKOFF.jitter));
  const random = options.random ?? Math.random;
  const base = Math.min(max, initial * Math.pow(factor, Math.max(0, attempt)));
  return Math.round(base * (1 - jitter) + base * jitter * random());
}

export function formatEndpoint(endpoint: Endpoint): string {
  if (endpoint.kind === "unix") return `unix:${endpoint.path}`;
  return endpoint.host.includes(":") ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

interface CommonOptions {
  readonly readers: readonly VirtualReader[];
  readonly endpoint: Endpoint;
  /** TLS credentials for our role (client when connecting, server when listening). */
  readonly tls?: TlsCredentials;
  /** Extra check of the peer's certificate after the TLS handshake. */
  readonly verifyPeer?: VerifyPeer;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: VscardEvent) => void;
  /** Also report every message and APDU to onEvent (default true); see SessionOptions.traceEvents. */
  readonly traceEvents?: boolean;
  readonly initTimeoutMs?: number;
  readonly replyTimeoutMs?: number;
  /** Send ReaderRemove(0) before adding readers (default true). */
  readonly cleanup?: boolean;
  /**
   * After answering, keep polling the connection this many µs before
   * sleeping, so that a host answering at once (on another CPU) does not
   * wait for our wake-up; adaptive, see busy-poll.ts. 0 = off. Default:
   * DEFAULT_BUSY_POLL_US (50).
   */
  readonly busyPollUs?: number;
}

export interface VscardClientOptions extends CommonOptions {
  readonly backoff?: BackoffOptions;
  readonly connectTimeoutMs?: number;
  /** Give up after this many consecutive failed connections (default: never). */
  readonly maxAttempts?: number;
}

export type VscardListenerOptions = CommonOptions & {
  readonly handshakeTimeoutMs?: number;
};

class ConnectError extends Error {
  override name = "ConnectError";
}

function tlsDescription(socket: tls.TLSSocket): string {
  const cipher = socket.getCipher();
  return `${socket.getProtocol() ?? "TLS"} ${cipher?.name ?? "?"}`;
}

/** Waits for one of a socket's events; rejects on error, timeout or abort. */
function waitFor(
  socket: net.Socket,
  event: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  what: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      socket.off(event, onOk);
      socket.off("error", onErr);
      socket.off("close", onClose);
      signal?.removeEventListener("abort", onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onOk = () => done();
    const onErr = (e: Error) => done(new ConnectError(`${what}: ${e.message}`));
    const onClose = () => done(new ConnectError(`${what}: connection closed`));
    const onAbort = () => done(new ConnectError(`${what}: stopped`));
    const timer = setTimeout(() => done(new ConnectError(`${what}: timed out after ${timeoutMs} ms`)), timeoutMs);
    socket.once(event, onOk);
    socket.once("error", onErr);
    socket.once("close", onClose);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

interface SessionOutcome {
  readonly hostInitSeen: boolean;
  readonly reason: string;
}

/** Runs one session over a connected socket until it closes or we stop. */
function runSession(
  socket: net.Socket,
  readers: readonly VirtualReader[],
  options: CommonOptions,
  hooks: { onSession?: (s: VscardSession | null) => void } = {},
): Promise<SessionOutcome> {
  return new Promise((resolve) => {
    let reason = "";
    const write = (data: Uint8Array) => {
      if (socket.destroyed || !socket.writable) return;
      socket.write(data);
      // A host that sends without reading the replies must not grow our memory:
      // stop reading from it until the kernel has taken what is queued.
      if (socket.writableLength > MAX_PENDING_OUTPUT && !socket.isPaused()) {
        socket.pause();
        socket.once("drain", () => socket.resume());
      }
    };
    // Replies to one incoming chunk are collected and written together, in
    // order, once the chunk is handled: one write() for a burst (100 readers'
    // APDUs arriving together) instead of one per frame. Frames are never
    // split. Outside a chunk (timers, reader events, start, stop) each frame
    // is written at once.
    let batch: Uint8Array[] | null = null;
    const busyPoll = new BusyPoll(busyPollWindowUs(options.busyPollUs), () => !socket.destroyed);
    const flush = () => {
      const frames = batch;
      batch = null;
      if (frames === null || frames.length === 0) return;
      write(frames.length === 1 ? frames[0] : Buffer.concat(frames));
    };
    const session = new VscardSession({
      readers,
      send: (frame) => {
        if (batch !== null) batch.push(frame);
        else write(frame);
      },
      onEvent: options.onEvent,
      traceEvents: options.traceEvents,
      onFatal: (e) => {
        reason ||= e.message;
        // What was answered before the failure still goes out, as before.
        flush();
        socket.destroy();
      },
      initTimeoutMs: options.initTimeoutMs,
      replyTimeoutMs: options.replyTimeoutMs,
      cleanup: options.cleanup,
    });
    hooks.onSession?.(session);
    const onAbort = () => {
      reason ||= "stopped";
      session.detachAll();
      socket.end();
      setTimeout(() => socket.destroy(), STOP_GRACE_MS).unref();
    };
    socket.on("data", (chunk: Buffer) => {
      busyPoll.arrived();
      batch = [];
      try {
        session.receive(chunk);
      } finally {
        flush();
      }
      busyPoll.replied();
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      reason ||= e.code ? `${e.code}: ${e.message}` : e.message;
    });
    socket.on("end", () => {
      reason ||= "closed by peer";
    });
    socket.once("close", () => {
      busyPoll.stop();
      options.signal?.removeEventListener("abort", onAbort);
      session.close();
      hooks.onSession?.(null);
      resolve({ hostInitSeen: session.hostInitCount > 0, reason: reason || "closed" });
    });
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener("abort", onAbort, { once: true });
    session.start();
  });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Base for the two roles: the reader set can change while running. */
abstract class ReaderHost {
  protected readonly readers: VirtualReader[];
  protected session: VscardSession | null = null;

  constructor(readers: readonly VirtualReader[]) {
    this.readers = [...readers];
  }

  addReader(reader: VirtualReader): void {
    if (this.readers.includes(reader)) return;
    this.readers.push(reader);
    this.session?.addReader(reader);
  }

  removeReader(reader: VirtualReader): void {
    const i = this.readers.indexOf(reader);
    if (i < 0) return;
    this.readers.splice(i, 1);
    this.session?.removeReader(reader);
  }

  /** The id the host gave a reader on the current connection, or null. */
  readerId(reader: VirtualReader): number | null {
    return this.session?.readerId(reader) ?? null;
  }
}

/** We connect to QEMU (its chardev has server=on). */
export class VscardClient extends ReaderHost {
  readonly #opts: VscardClientOptions;

  constructor(options: VscardClientOptions) {
    super(options.readers);
    if (options.tls && options.tls.role !== "client") throw new Error("VscardClient needs client TLS credentials");
    if (options.tls && options.endpoint.kind === "unix") throw new Error("TLS is only available over TCP");
    this.#opts = options;
  }

  /** Connects, serves, reconnects; resolves when the signal aborts (or maxAttempts is reached). */
  async run(): Promise<void> {
    const { signal, onEvent } = this.#opts;
    const address = formatEndpoint(this.#opts.endpoint);
    let failures = 0;
    while (!signal?.aborted) {
      onEvent?.({ type: "connecting", address });
      let socket: net.Socket;
      let tlsInfo: string | null;
      try {
        [socket, tlsInfo] = await this.#open();
      } catch (e) {
        if (signal?.aborted) break;
        onEvent?.({ type: "connect-failed", address, reason: (e as Error).message });
        failures++;
        if (this.#opts.maxAttempts !== undefined && failures >= this.#opts.maxAttempts) break;
        const delayMs = backoffDelay(failures - 1, this.#opts.backoff);
        onEvent?.({ type: "retry", delayMs, attempt: failures });
        await sleep(delayMs, signal);
        continue;
      }
      onEvent?.({ type: "connected", address, tls: tlsInfo });
      const outcome = await runSession(socket, this.readers, this.#opts, { onSession: (s) => (this.session = s) });
      let reason = outcome.reason;
      if (tlsInfo !== null && !outcome.hostInitSeen && !signal?.aborted) {
        // TLS 1.3 finishes on our side before the server checks our certificate.
        reason += "; closed before the host's Init: over TLS this usually means it refused our client certificate";
      }
      onEvent?.({ type: "disconnected", address, reason });
      if (signal?.aborted) break;
      // A connection that got as far as the host's Init worked: start over.
      failures = outcome.hostInitSeen ? 0 : failures + 1;
      if (this.#opts.maxAttempts !== undefined && failures >= this.#opts.maxAttempts) break;
      const delayMs = backoffDelay(Math.max(0, failures - 1), this.#opts.backoff);
      onEvent?.({ type: "retry", delayMs, attempt: failures });
      await sleep(delayMs, signal);
    }
    onEvent?.({ type: "stopped" });
  }

  async #open(): Promise<[net.Socket, string | null]> {
    const { endpoint, signal } = this.#opts;
    const timeout = this.#opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const raw =
      endpoint.kind === "tcp"
        ? net.connect({ host: endpoint.host, port: endpoint.port, noDelay: true })
        : net.connect({ path: endpoint.path });
    try {
      await waitFor(raw, "connect", timeout, signal, "connect");
    } catch (e) {
      raw.destroy();
      throw e;
    }
    raw.setNoDelay(true);
    const creds = this.#opts.tls;
    if (!creds || endpoint.kind !== "tcp") return [raw, null];
    const host = endpoint.host;
    const socket = tls.connect({
      socket: raw,
      secureContext: creds.secureContext,
      host,
      // SNI carries names only; for an IP the certificate needs an IP SAN.
      ...(net.isIP(host) ? {} : { servername: host }),
      rejectUnauthorized: creds.verifyPeer,
      ...(creds.verifyPeer ? {} : { checkServerIdentity: () => undefined }),
    });
    try {
      await waitFor(socket, "secureConnect", timeout, signal, "TLS handshake");
    } catch (e) {
      socket.destroy();
      raw.destroy();
      throw e;
    }
    const refused = runVerifyPeer(this.#opts.verifyPeer, socket.getPeerCertificate(true));
    if (refused !== null) {
      socket.destroy();
      throw new ConnectError(`TLS peer refused: ${refused}`);
    }
    return [socket, tlsDescription(socket)];
  }
}

/** QEMU connects to us (its chardev has server=off). */
export class VscardListener extends ReaderHost {
  readonly #opts: VscardListenerOptions;
  #active: net.Socket | null = null;
  #address: string | null = null;

  constructor(options: VscardListenerOptions) {
    super(options.readers);
    if (options.tls && options.tls.role !== "server") throw new Error("VscardListener needs server TLS credentials");
    if (options.tls && options.endpoint.kind === "unix") throw new Error("TLS is only available over TCP");
    this.#opts = options;
  }

  /** The bound address once listening (with the real port when 0 was asked). */
  get address(): string | null {
    return this.#address;
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
        server.close(() => resolve());
        // close() waits for the active connection, which the session ends politely.
        if (!this.#active) return;
        setTimeout(() => this.#active?.destroy(), STOP_GRACE_MS * 2).unref();
      };
      if (signal?.aborted) stop();
      else signal?.addEventListener("abort", stop, { once: true });
      if (!signal) server.once("close", () => resolve());
    });
    onEvent?.({ type: "stopped" });
  }

  #accept(raw: net.Socket): void {
    const { onEvent } = this.#opts;
    const peer = formatEndpoint(
      raw.remoteAddress ? { kind: "tcp", host: raw.remoteAddress, port: raw.remotePort ?? 0 } : this.#opts.endpoint,
    );
    if (this.#active || this.#opts.signal?.aborted) {
      onEvent?.({ type: "rejected-connection", address: peer, reason: "another host is already connected" });
      raw.destroy();
      return;
    }
    this.#active = raw;
    raw.setNoDelay(true);
    void this.#serve(raw, peer).finally(() => {
      this.#active = null;
    });
  }

  async #serve(raw: net.Socket, peer: string): Promise<void> {
    const { onEvent, signal } = this.#opts;
    let socket: net.Socket = raw;
    let tlsInfo: string | null = null;
    const creds = this.#opts.tls;
    if (creds) {
      // A tls.Server that never listens, fed our accepted socket: it sets
      // `authorized` / `authorizationError` the way Node's servers do.
      const tlsServer = tls.createServer({
        ...creds.contextOptions,
        requestCert: true,
        rejectUnauthorized: false, // checked below, so that the reason can be reported
        handshakeTimeout: this.#opts.handshakeTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      });
      let secure: tls.TLSSocket;
      try {
        secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
          const onAbort = () => reject(new Error("stopped"));
          signal?.addEventListener("abort", onAbort, { once: true });
          tlsServer.once("secureConnection", (s: tls.TLSSocket) => {
            signal?.removeEventListener("abort", onAbort);
            resolve(s);
          });
          tlsServer.once("tlsClientError", (e: Error) => {
            signal?.removeEventListener("abort", onAbort);
            reject(new Error(`TLS handshake: ${e.message}`));
          });
          raw.once("close", () => reject(new Error("TLS handshake: connection closed")));
          tlsServer.emit("connection", raw);
        });
      } catch (e) {
        onEvent?.({ type: "rejected-connection", address: peer, reason: (e as Error).message });
        raw.destroy();
        return;
      }
      let refused: string | null = null;
      if (creds.verifyPeer && !secure.authorized) {
        const err = secure.authorizationError;
        refused = `client certificate not accepted: ${err instanceof Error ? err.message : String(err ?? "none")}`;
      }
      refused ??= runVerifyPeer(this.#opts.verifyPeer, secure.getPeerCertificate(true));
      if (refused !== null) {
        onEvent?.({ type: "rejected-connection", address: peer, reason: refused });
        secure.destroy();
        return;
      }
      socket = secure;
      tlsInfo = tlsDescription(secure);
    }
    onEvent?.({ type: "connected", address: peer, tls: tlsInfo });
    const outcome = await runSession(socket, this.readers, this.#opts, { onSession: (s) => (this.session = s) });
    onEvent?.({ type: "disconnected", address: peer, reason: outcome.reason });
  }
}

/** Convenience: run a client until the signal aborts. */
export function runVscardClient(options: VscardClientOptions): Promise<void> {
  return new VscardClient(options).run();
}

/** Convenience: run a listener until the signal aborts. */
export function runVscardListener(options: VscardListenerOptions): Promise<void> {
  return new VscardListener(options).run();
}

export { VscardSession, type VscardEvent } from "./session.js";
