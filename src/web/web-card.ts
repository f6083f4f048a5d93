/**
 * A card in a web page, served to a VM over QEMU's WebSocket chardev: the
 * core's card (createCard) in a reader, the VSCard session
 * (src/backends/vscard/session.ts, unchanged) and a WebSocket. This is the
 * part another web console embeds (docs/browser.md).
 *
 *   const token = await BrowserToken.open([{ label, certificate, key }]);
 *   const card = await WebCard.connect({ url: "ws://127.0.0.1:5959/", token, onEvent });
 *   card.remove(); card.insert(); card.disconnect();
 */
import { createCard, type Personality } from "../core/create-card.js";
import { VirtualReader } from "../core/card/reader.js";
import type { VirtualCard } from "../core/card/card.js";
import type { Token } from "../core/token/types.js";
import { VscardSession, type VscardEvent } from "../backends/vscard/session.js";
import { connectWebSocket, type ByteTransport } from "./websocket-transport.js";
import "../core/platform-web.js";

/** Where the connection stands, as the page shows it. */
export type WebCardState = "connecting" | "connected" | "card-inserted" | "card-removed" | "disconnected";

export type WebCardEvent = VscardEvent | { type: "state"; state: WebCardState; detail?: string };

export interface WebCardOptions {
  /** The chardev's address: ws://HOST:PORT/ or wss://HOST:PORT/. */
  readonly url: string;
  readonly token: Token;
  /** Default "cac". */
  readonly personality?: Personality;
  /** The reader's name (QEMU ignores it). */
  readonly readerName?: string;
  /** Session events (with "apdu" and "message" traces) and state changes. */
  readonly onEvent?: (event: WebCardEvent) => void;
  /** WebSocket opening handshake limit (default 5 s). */
  readonly connectTimeoutMs?: number;
  /** Start with the card out of the reader. */
  readonly startRemoved?: boolean;
  /** The WebSocket constructor; default the page's. */
  readonly WebSocket?: typeof WebSocket;
}

export class WebCard {
  readonly card: VirtualCard;
  readonly reader: VirtualReader;
  readonly url: string;
  #state: WebCardState = "connecting";
  #session: VscardSession | null = null;
  #transport: ByteTransport | null = null;
  readonly #onEvent: (event: WebCardEvent) => void;

  private constructor(options: WebCardOptions) {
    this.url = options.url;
    this.#onEvent = options.onEvent ?? (() => undefined);
    this.card = createCard(options.token, { personality: options.personality ?? "cac" });
    this.reader = new VirtualReader(options.readerName ?? "cacard web", this.card);
    if (options.startRemoved) this.reader.remove();
  }

  /** Opens the WebSocket and starts the VSCard conversation; rejects when QEMU cannot be reached. */
  static async connect(options: WebCardOptions): Promise<WebCard> {
    const web = new WebCard(options);
    web.#setState("connecting", options.url);
    const session = new VscardSession({
      readers: [web.reader],
      send: (frame) => web.#transport?.send(frame),
      onEvent: (event) => web.#sessionEvent(event),
      onFatal: (error) => {
        web.#transport?.close();
        web.#closed(`session ended: ${error.message}`);
      },
    });
    web.#session = session;
    try {
      web.#transport = await connectWebSocket(options.url, {
        // QEMU splits frames across messages: the session's framer reassembles the stream.
        onBytes: (bytes) => void session.receive(bytes),
        onClose: (reason) => web.#closed(`closed by QEMU (${reason})`),
        timeoutMs: options.connectTimeoutMs,
        WebSocket: options.WebSocket,
      });
    } catch (e) {
      session.close();
      web.#setState("disconnected", (e as Error).message);
      throw e;
    }
    web.#setState("connected", options.url);
    session.start();
    return web;
  }

  get state(): WebCardState {
    return this.#state;
  }

  /** Puts the card back (the guest sees a fresh power-on). False when it is in already. */
  insert(): boolean {
    return this.reader.insert();
  }

  /** Takes the card out. False when it is out already. */
  remove(): boolean {
    return this.reader.remove();
  }

  /** Says goodbye (CardRemove, ReaderRemove) and closes the WebSocket. */
  async disconnect(): Promise<void> {
    const session = this.#session;
    if (session === null || this.#state === "disconnected") return;
    await session.detachAll();
    // Let the goodbye frames leave before the close frame.
    await new Promise((r) => setTimeout(r, 50));
    this.#transport?.close();
    this.#closed("disconnected by the page");
  }

  #closed(detail: string): void {
    if (this.#state === "disconnected") return;
    this.#session?.close();
    this.#setState("disconnected", detail);
  }

  #setState(state: WebCardState, detail?: string): void {
    this.#state = state;
    this.#onEvent({ type: "state", state, detail });
  }

  #sessionEvent(event: VscardEvent): void {
    this.#onEvent(event);
    if (event.type === "card-inserted") this.#setState("card-inserted");
    else if (event.type === "card-removed") this.#setState("card-removed");
    else if (event.type === "reader-attached" && !this.reader.present) this.#setState("card-removed");
  }
}
