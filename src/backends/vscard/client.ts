/**
 * The VSCard card provider connecting to QEMU's ccid-card-passthru chardev
 * (QEMU `-chardev socket,...,server=on`), over TCP, a unix socket or TLS, and
 * keeping at it when QEMU goes away: on any disconnect or failed attempt it
 * waits (exponential backoff, capped, with jitter) and connects again; every
 * new connection repeats Init, ReaderAdd and ATR. The backoff resets once a
 * host Init has been received. The other direction is listener.ts.
 *
 * It stops cleanly when its AbortSignal fires: CardRemove + ReaderRemove for
 * attached readers, then the socket is ended.
 */
import net from "node:net";
import tls from "node:tls";
import { CacardError } from "../../core/errors.js";
import { backoffDelay, type BackoffPolicy } from "../backoff.js";
import { formatEndpoint } from "./address.js";
import { ReaderHost, runSession, type ConnectionOptions } from "./connection.js";
import { WarningLimiter } from "../../util/rate-limit.js";
import { runVerifyPeer, tlsDescription, TlsConfigError } from "./tls.js";

/** Reconnect delays: QEMU restarting takes seconds, so start at 250 ms and wait up to 10 s. */
export const VSCARD_DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 250, maxMs: 10_000, factor: 2, jitter: 0.5 };
/** TCP connect plus TLS handshake must finish within this. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export interface VscardClientOptions extends ConnectionOptions {
  /** Any of VSCARD_DEFAULT_BACKOFF's fields to change. */
  readonly backoff?: Partial<BackoffPolicy>;
  /** Source of jitter, [0, 1). */
  readonly random?: () => number;
  readonly connectTimeoutMs?: number;
  /** Give up after this many consecutive failed connections (default: never). */
  readonly maxAttempts?: number;
}

/** A connection attempt failed (refused, timed out, TLS refused, stopped); it is retried. */
export class ConnectError extends CacardError {
  constructor(message: string) {
    super("VSCARD_CONNECT", message);
  }
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

/** We connect to QEMU (its chardev has server=on). */
export class VscardClient extends ReaderHost {
  readonly #opts: VscardClientOptions;
  readonly #backoff: BackoffPolicy;

  constructor(options: VscardClientOptions) {
    super(options.readers);
    if (options.tls && options.tls.role !== "client") throw new TlsConfigError("VscardClient needs client TLS credentials");
    if (options.tls && options.endpoint.kind === "unix") throw new TlsConfigError("TLS is only available over TCP");
    this.#opts = options;
    this.#backoff = { ...VSCARD_DEFAULT_BACKOFF, ...options.backoff };
  }

  /** Connects, serves, reconnects; resolves when the signal aborts (or maxAttempts is reached). */
  async run(): Promise<void> {
    const { signal, onEvent } = this.#opts;
    const address = formatEndpoint(this.#opts.endpoint);
    // One rate limit for the host's warnings across reconnects.
    const warnings = new WarningLimiter((message) => onEvent?.({ type: "warning", message }));
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
        const delayMs = backoffDelay(failures - 1, this.#backoff, this.#opts.random);
        onEvent?.({ type: "retry", delayMs, attempt: failures });
        await sleep(delayMs, signal);
        continue;
      }
      onEvent?.({ type: "connected", address, tls: tlsInfo });
      const outcome = await runSession(socket, this.readers, this.#opts, { onSession: (s) => (this.session = s), warnings });
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
      const delayMs = backoffDelay(Math.max(0, failures - 1), this.#backoff, this.#opts.random);
      onEvent?.({ type: "retry", delayMs, attempt: failures });
      await sleep(delayMs, signal);
    }
    warnings.flush();
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

/** Convenience: run a client until the signal aborts. */
export function runVscardClient(options: VscardClientOptions): Promise<void> {
  return new VscardClient(options).run();
}
