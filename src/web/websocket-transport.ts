/**
 * The byte pipe between the page and QEMU's `-chardev socket,...,websocket=on`
 * (server side only: QEMU 7.2 has no WebSocket client).
 *
 * What QEMU's WebSocket channel (io/channel-websock.c) does:
 *  - the request path must be "/" (anything else is answered 404; a proxy
 *    in front may use its own paths);
 *  - Sec-WebSocket-Protocol, when offered, must contain "binary" (lowercase);
 *    older QEMU required it, so it is always offered;
 *  - the Origin header is not checked (docs/browser.md, security);
 *  - only binary, ping, pong and close frames are accepted: a text frame
 *    makes QEMU close the connection;
 *  - it is a byte stream, not a message stream: every write of
 *    ccid-card-passthru becomes one message, and passthru writes a VSCard
 *    header and its payload separately. The receiver must reassemble frames
 *    from the bytes (the session's VscFramer does); one frame per message
 *    is fine the other way.
 */

/** The subprotocol QEMU checks for (io/channel-websock.c QIO_CHANNEL_WEBSOCK_PROTOCOL_BINARY). */
export const QEMU_WEBSOCKET_PROTOCOL = "binary";

export interface ByteTransport {
  send(bytes: Uint8Array): void;
  close(): void;
  /** The subprotocol the server chose ("binary", or "" from a QEMU that does not say). */
  readonly protocol: string;
}

export interface WebSocketHandlers {
  onBytes(bytes: Uint8Array): void;
  onClose(reason: string): void;
  /** How long the opening handshake may take (default 5 s). */
  readonly timeoutMs?: number;
  /** The WebSocket constructor (tests and other runtimes); default the global one. */
  readonly WebSocket?: typeof WebSocket;
}

/**
 * Checks a chardev address: ws:// or wss://. QEMU itself answers only the
 * path "/" (anything else is 404), but a proxy in front of it may route by
 * path, so other paths are let through.
 */
export function checkChardevUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`'${text}' is not a URL (try ws://127.0.0.1:5959/)`);
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") throw new TypeError(`'${text}': the address must start with ws:// or wss://`);
  if (url.hash !== "") throw new TypeError(`'${text}': a WebSocket address has no #fragment`);
  return url;
}

/** Opens a WebSocket to QEMU; resolves once it is open. */
export function connectWebSocket(address: string, handlers: WebSocketHandlers): Promise<ByteTransport> {
  const url = checkChardevUrl(address).href;
  const Ws = handlers.WebSocket ?? globalThis.WebSocket;
  const timeoutMs = handlers.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const ws = new Ws(url, [QEMU_WEBSOCKET_PROTOCOL]);
    // ArrayBuffer, not Blob: Blob reads are asynchronous and could reorder the byte stream.
    ws.binaryType = "arraybuffer";
    let opened = false;
    const timer = setTimeout(() => {
      ws.close();
      reject(new Error(`WebSocket to ${url} not open after ${timeoutMs} ms`));
    }, timeoutMs);
    ws.onopen = () => {
      opened = true;
      clearTimeout(timer);
      resolve({
        // A typed-array view sends exactly its own bytes, not its whole buffer.
        send: (bytes) => {
          if (ws.readyState === Ws.OPEN) ws.send(bytes);
        },
        close: () => ws.close(1000, "card session closed"),
        protocol: ws.protocol,
      });
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data === "string") {
        ws.close(1003, "text frames are not VSCard");
        return;
      }
      handlers.onBytes(new Uint8Array(ev.data as ArrayBuffer));
    };
    ws.onclose = (ev: CloseEvent) => {
      clearTimeout(timer);
      // Browsers report a refused connection or failed upgrade as 1006 with no detail.
      const reason = `code ${ev.code}${ev.reason ? `: ${ev.reason}` : ""}`;
      if (!opened) reject(new Error(`WebSocket to ${url} failed (${reason})`));
      else handlers.onClose(reason);
    };
  });
}
