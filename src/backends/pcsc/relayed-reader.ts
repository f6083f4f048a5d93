/**
 * A host PC/SC reader as a VirtualReader, so that the VSCard backend serves
 * a physical card exactly as it serves an emulated one.
 *
 * The ReaderMonitor's events become the slot's insert/remove, which the
 * VSCard session turns into VSC_ATR / VSC_CardRemove:
 *
 *   card in the host reader (and usable)  → insert  → ATR (the real card's)
 *   card pulled, reader unplugged, pcscd gone → remove → CardRemove
 *   another application reset the card    → remove + insert, so the guest
 *                                            re-reads a card whose state is gone
 *
 * A card is announced only when its ATR is well formed (atr-check.ts) and it
 * is not one this process serves itself (served-cards.ts). The guest's own
 * power requests never reach a VSCard client (QEMU's usb-ccid answers them),
 * so powering the slot's card on only reports the ATR of the connection made
 * when the card arrived: the host's card is never reset behind its back.
 */
import { VirtualReader, type SmartCard } from "../../core/card/reader.js";
import { toHex } from "../../core/bytes.js";
import { isServedAtr } from "../served-cards.js";
import { atrProblem } from "./atr-check.js";
import { PCSC_ERROR_CODE, PcscError } from "./errors.js";
import { PcscCard, type PcscCardOptions } from "./pcsc-card.js";
import { ReaderMonitor, type BackoffOptions } from "./reader-monitor.js";
import { backoffDelay, type BackoffPolicy } from "../backoff.js";

/** What the relay reports (the CLI prints one line per event). */
export type RelayEvent =
  | { type: "reader-found"; reader: string }
  | { type: "reader-gone"; reader: string | null; code: string; message: string }
  | { type: "card-present"; reader: string; atr: Uint8Array; protocol: string }
  | { type: "card-absent"; reader: string }
  | { type: "card-refused"; reader: string; why: string }
  | { type: "card-reset"; reader: string }
  | { type: "warning"; message: string };

export interface RelayedReaderOptions extends Omit<PcscCardOptions, "reader"> {
  /** What the user gave to --reader: an exact name or a unique substring. */
  readonly query: string;
  /** Name of the slot as the VSCard host sees it (default: the query). */
  readonly name?: string;
  /** The reader monitor's re-open delays (its DEFAULT_BACKOFF otherwise). */
  readonly backoff?: BackoffOptions;
  /** [0, 1) source for the jitter of both backoffs (tests pass a fixed one). */
  readonly random?: () => number;
  readonly onEvent?: (event: RelayEvent) => void;
}

/** How long to wait before trying again to connect to a card that is present but refused us. */
const OPEN_RETRY: BackoffPolicy = { initialMs: 500, maxMs: 5_000, factor: 2, jitter: 0.2 };

export class RelayedReader {
  readonly reader: VirtualReader;
  readonly #options: RelayedReaderOptions;
  readonly #monitor: ReaderMonitor;
  #card: PcscCard | null = null;
  /** Monitor events and card failures are handled one at a time, in order. */
  #tail: Promise<void> = Promise.resolve();
  #retryTimer: NodeJS.Timeout | null = null;
  #retryAttempt = 0;
  #closed = false;

  constructor(options: RelayedReaderOptions) {
    this.#options = options;
    this.reader = new VirtualReader(options.name ?? options.query);
    this.#monitor = new ReaderMonitor({
      reader: options.query,
      ...(options.backoff ? { backoff: options.backoff } : {}),
      ...(options.random ? { random: options.random } : {}),
      ...(options.library ? { library: options.library } : {}),
    });
    this.#monitor.on("reader-back", ({ reader }) => this.#emit({ type: "reader-found", reader }));
    this.#monitor.on("card-inserted", ({ reader }) => this.#queue(() => this.#attach(reader)));
    this.#monitor.on("card-removed", ({ reader }) => this.#queue(() => this.#detach(reader, false)));
    this.#monitor.on("reader-gone", ({ reader, code, error }) => {
      this.#emit({ type: "reader-gone", reader, code, message: error.message });
      this.#queue(() => this.#detach(reader ?? this.#options.query, true));
    });
    this.#monitor.on("error", (error) => this.#emit({ type: "warning", message: `reader monitor: ${error.message}` }));
  }

  /** The physical card while one is connected (for tests and diagnostics). */
  get card(): PcscCard | null {
    return this.#card;
  }

  start(): this {
    this.#monitor.start();
    return this;
  }

  /** Stops watching, takes the card out of the slot and disconnects (leaving the card as it is). */
  async close(): Promise<void> {
    if (this.#closed) return this.#tail;
    this.#closed = true;
    this.#cancelRetry();
    await this.#monitor.close();
    this.#queue(async () => {
      this.reader.remove();
      await this.#dropCard();
    });
    await this.#tail;
  }

  // ---- internals -------------------------------------------------------------

  #emit(event: RelayEvent): void {
    this.#options.onEvent?.(event);
  }

  #queue(task: () => Promise<void>): void {
    this.#tail = this.#tail.then(task).catch((e: unknown) => {
      this.#emit({ type: "warning", message: `relay: ${(e as Error)?.message ?? String(e)}` });
    });
  }

  /** A card is in `reader`: connect (or re-attach) and put it in the slot. */
  async #attach(reader: string): Promise<void> {
    this.#cancelRetry();
    if (this.#closed || this.reader.present) return;
    if (isServedAtr(this.#monitor.atr)) {
      this.#emit({ type: "card-refused", reader, why: "this process serves that card itself (it would relay its own APDUs)" });
      return;
    }
    let card = this.#card;
    try {
      if (card !== null && card.reader !== reader) {
        // pcscd renamed the reader (names are positional): start from scratch.
        await this.#dropCard();
        card = null;
      }
      if (card === null) {
        const { query: _query, name: _name, backoff: _backoff, random: _random, onEvent: _onEvent, ...cardOptions } = this.#options;
        card = await PcscCard.open({ ...cardOptions, reader });
        this.#card = card;
      } else {
        await card.powerOn();
      }
    } catch (error) {
      this.#emit({ type: "card-refused", reader, why: (error as Error).message });
      this.#scheduleRetry(reader);
      return;
    }
    this.#retryAttempt = 0;
    const problem = atrProblem(card.atr);
    if (problem !== null) {
      this.#emit({ type: "card-refused", reader, why: problem });
      return;
    }
    this.#emit({ type: "card-present", reader, atr: card.atr, protocol: card.protocolName });
    this.reader.insert(new RelayedCard(card, (error) => this.#transmitFailed(card, error)));
  }

  /** The card (or the whole reader) is gone: empty the slot. */
  async #detach(reader: string, readerGone: boolean): Promise<void> {
    this.#cancelRetry();
    if (this.reader.present) {
      // Reported before the slot empties, so the host's event comes before what the guest is told.
      this.#emit({ type: "card-absent", reader });
      this.reader.remove();
    }
    // A reader that went away may come back under another name, and a pcscd
    // restart kills every context: the next card gets a new connection.
    if (readerGone) await this.#dropCard();
  }

  #transmitFailed(card: PcscCard, error: unknown): void {
    if (!(error instanceof PcscError) || error.code !== PCSC_ERROR_CODE.CARD_RESET) return;
    // PcscCard has already re-attached; the guest must see a fresh card.
    this.#queue(async () => {
      if (this.#card !== card || !this.reader.present) return;
      this.#emit({ type: "card-reset", reader: card.reader });
      this.reader.remove();
      this.reader.insert(new RelayedCard(card, (e) => this.#transmitFailed(card, e)));
      this.#emit({ type: "card-present", reader: card.reader, atr: card.atr, protocol: card.protocolName });
    });
  }

  async #dropCard(): Promise<void> {
    const card = this.#card;
    this.#card = null;
    if (card) await card.close().catch(() => undefined);
  }

  #scheduleRetry(reader: string): void {
    if (this.#closed) return;
    const delay = backoffDelay(this.#retryAttempt++, OPEN_RETRY, this.#options.random);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      if (this.#monitor.cardPresent) this.#queue(() => this.#attach(reader));
    }, delay);
    this.#retryTimer.unref();
  }

  #cancelRetry(): void {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }
}

/**
 * The slot's view of the physical card. Power requests do not touch the
 * card (see the module comment); transmit failures are reported to the
 * RelayedReader, which decides what the guest must see.
 */
class RelayedCard implements SmartCard {
  readonly #card: PcscCard;
  readonly #atr: Uint8Array;
  readonly #onFailure: (error: unknown) => void;

  constructor(card: PcscCard, onFailure: (error: unknown) => void) {
    this.#card = card;
    this.#atr = card.atr;
    this.#onFailure = onFailure;
  }

  get atr(): Uint8Array {
    return this.#atr;
  }

  powerOn(): Promise<Uint8Array> {
    return Promise.resolve(this.#atr);
  }

  powerOff(): Promise<void> {
    return Promise.resolve();
  }

  reset(): Promise<Uint8Array> {
    return this.#card.reset();
  }

  transmit(command: Uint8Array): Promise<Uint8Array> {
    return this.#card.transmit(command).catch((error: unknown) => {
      this.#onFailure(error);
      throw error;
    });
  }

  toString(): string {
    return `relayed card ${toHex(this.#atr)} in "${this.#card.reader}"`;
  }
}
