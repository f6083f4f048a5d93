/**
 * The VSCard card provider QEMU connects to (its chardev has server=off), over
 * TCP, a unix socket or TLS. One connection at a time; further ones are closed
 * at once while one is active. On stop the active session says goodbye
 * (CardRemove + ReaderRemove) before the socket is ended.
 */
import net from "node:net";
import tls from "node:tls";
import { formatEndpoint } from "./address.js";
import { DEFAULT_CONNECT_TIMEOUT_MS, ConnectError } from "./client.js";
import { ReaderHost, runSession, STOP_GRACE_MS, type ConnectionOptions } from "./connection.js";
import { runVerifyPeer, tlsDescription, TlsConfigError } from "./tls.js";

export type VscardListenerOptions = ConnectionOptions & {
  readonly handshakeTimeoutMs?: number;
};

/** QEMU connects to us (its chardev has server=off). */
export class VscardListener extends ReaderHost {
  readonly #opts: VscardListenerOptions;
  #active: net.Socket | null = null;
  #address: string | null = null;

  constructor(options: VscardListenerOptions) {
    super(options.readers);
    if (options.tls && options.tls.role !== "server") throw new TlsConfigError("VscardListener needs server TLS credentials");
    if (options.tls && options.endpoint.kind === "unix") throw new TlsConfigError("TLS is only available over TCP");
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
          const onAbort = () => reject(new ConnectError("stopped"));
          signal?.addEventListener("abort", onAbort, { once: true });
          tlsServer.once("secureConnection", (s: tls.TLSSocket) => {
            signal?.removeEventListener("abort", onAbort);
            resolve(s);
          });
          tlsServer.once("tlsClientError", (e: Error) => {
            signal?.removeEventListener("abort", onAbort);
            reject(new ConnectError(`TLS handshake: ${e.message}`));
          });
          raw.once("close", () => reject(new ConnectError("TLS handshake: connection closed")));
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

/** Convenience: run a listener until the signal aborts. */
export function runVscardListener(options: VscardListenerOptions): Promise<void> {
  return new VscardListener(options).run();
}
