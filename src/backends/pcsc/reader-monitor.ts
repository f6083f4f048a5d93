/**
 * Watches the relay's one reader and reports what the guest must be told:
 * a card arrived (with its ATR), the card left, the reader (or pcscd) went
 * away, the reader is back.
 *
 * It runs on a PC/SC context of its own, because SCardGetStatusChange holds
 * its context's lock for the whole wait and would stall card I/O; close()
 * interrupts the wait with SCardCancel (which takes no lock).
 *
 * When the reader or pcscd disappears, the monitor releases its context and
 * retries (establish, list, match the name again) after 100 ms, doubling up
 * to 5 s, until the reader is back. A pcscd restart therefore looks like
 * reader-gone (PCSC_NO_SERVICE) … reader-back, card-inserted.
 */
import { bytesEqual } from "../../core/bytes.js";
import { Emitter } from "../../core/emitter.js";
import { CacardError } from "../../core/errors.js";
import { PCSC_ERROR_CODE, PcscError, RELAY_ERROR_CODE, isServiceLoss } from "./errors.js";
import {
  PNP_NOTIFICATION_READER,
  SCARD_RV,
  SCARD_STATE_CHANGED,
  SCARD_STATE_EVENT_COUNT_SHIFT,
  SCARD_STATE_FLAGS_MASK,
  SCARD_STATE_MUTE,
  SCARD_STATE_PRESENT,
  SCARD_STATE_UNAVAILABLE,
  SCARD_STATE_UNAWARE,
  SCARD_STATE_UNKNOWN,
} from "./constants.js";
import { PcscContext } from "./context.js";
import { pcscLibrary, type PcscLibrary, type ReaderStateEntry } from "./library.js";
import { matchReader } from "./readers.js";
import { backoffDelay, type BackoffPolicy } from "../backoff.js";

export interface CardInsertedEvent {
  readonly reader: string;
  readonly atr: Uint8Array;
}
export interface CardRemovedEvent {
  readonly reader: string;
}
export interface ReaderGoneEvent {
  /** The name the reader had; null when it was never found. */
  readonly reader: string | null;
  /** PCSC_NO_SERVICE (pcscd down/restarted), PCSC_READER_GONE, RELAY_READER_NOT_FOUND, RELAY_READER_AMBIGUOUS… */
  readonly code: string;
  readonly error: Error;
}
export interface ReaderBackEvent {
  readonly reader: string;
  /** True for the first time the reader is found after start(). */
  readonly initial: boolean;
}

export interface ReaderMonitorEvents {
  "card-inserted": [event: CardInsertedEvent];
  "card-removed": [event: CardRemovedEvent];
  "reader-gone": [event: ReaderGoneEvent];
  "reader-back": [event: ReaderBackEvent];
  /** Unexpected failures; the monitor keeps retrying after them. */
  error: [error: Error];
}

/** Any of DEFAULT_BACKOFF's fields to change. */
export type BackoffOptions = Partial<BackoffPolicy>;

/**
 * Re-opening a reader that is gone (pcscd restarting, a reader unplugged):
 * 100 ms doubling to 5 s, through the backends' shared arithmetic
 * (../backoff.ts). The jitter spreads the relays of one host, which all lose
 * their reader when pcscd restarts, over the first retries.
 */
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 5_000, factor: 2, jitter: 0.2 };

/**
 * Longest single SCardGetStatusChange wait. Changes end it at once; the bound
 * only limits how long a lost wake-up could go unnoticed.
 */
const STATUS_WAIT_MS = 30_000;

export interface ReaderMonitorOptions {
  /** What the user gave to --reader: an exact name or a unique substring. */
  readonly reader: string;
  readonly backoff?: BackoffOptions;
  /** [0, 1) source for the backoff's jitter (tests pass a fixed one). */
  readonly random?: () => number;
  readonly library?: PcscLibrary;
}


export class ReaderMonitor extends Emitter<ReaderMonitorEvents> {
  readonly query: string;
  readonly #library: PcscLibrary;
  readonly #backoff: BackoffPolicy;
  readonly #random: () => number;
  #context: PcscContext | null = null;
  #reader: string | null = null;
  #attached = false;
  #everAttached = false;
  #outageReported = false;
  #present = false;
  #atr: Uint8Array = new Uint8Array(0);
  #eventCount = -1;
  #closed = false;
  #running: Promise<void> | null = null;
  #wakeSleep: (() => void) | null = null;

  constructor(options: ReaderMonitorOptions) {
    super();
    this.query = options.reader;
    this.#library = options.library ?? pcscLibrary();
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.#random = options.random ?? Math.random;
  }

  /** The resolved reader name while attached, else null. */
  get reader(): string | null {
    return this.#attached ? this.#reader : null;
  }

  get cardPresent(): boolean {
    return this.#present;
  }

  /** ATR of the present card (empty when none). */
  get atr(): Uint8Array {
    return this.#atr;
  }

  start(): this {
    this.#running ??= this.#run();
    return this;
  }

  /** Stops watching; resolves once the worker-thread wait has returned and the context is released. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#context?.cancel();
    this.#wakeSleep?.();
    await this.#running;
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (!this.#closed) {
      try {
        await this.#attach();
        attempt = 0;
        await this.#watch();
      } catch (error) {
        if (this.#closed) break;
        this.#lost(error instanceof Error ? error : new Error(String(error)));
      }
      this.#releaseContext();
      if (this.#closed) break;
      await this.#sleep(backoffDelay(attempt++, this.#backoff, this.#random));
    }
    this.#releaseContext();
  }

  /** Opens a context and finds the reader; throws (→ backoff) while it is not there. */
  async #attach(): Promise<void> {
    this.#context ??= await PcscContext.establish(this.#library);
    const reader = matchReader(await this.#context.listReaders(), this.query);
    this.#reader = reader;
    this.#attached = true;
    this.#outageReported = false;
    this.#eventCount = -1;
    this.emit("reader-back", { reader, initial: !this.#everAttached });
    this.#everAttached = true;
  }

  /** Waits for changes until the reader goes away (returns) or pcscd fails (throws). */
  async #watch(): Promise<void> {
    const context = this.#context!;
    const reader = this.#reader!;
    const entries: ReaderStateEntry[] = [
      { reader, currentState: SCARD_STATE_UNAWARE, eventState: 0, atr: new Uint8Array(0) },
      { reader: PNP_NOTIFICATION_READER, currentState: SCARD_STATE_UNAWARE, eventState: 0, atr: new Uint8Array(0) },
    ];
    while (!this.#closed) {
      const rv = await this.#library.getStatusChange(context.handle, STATUS_WAIT_MS, entries);
      if (rv === SCARD_RV.E_TIMEOUT) continue;
      if (rv === SCARD_RV.E_CANCELLED && this.#closed) return;
      if (rv !== SCARD_RV.S_SUCCESS) throw new PcscError("SCardGetStatusChange", rv);

      const [card, pnp] = entries;
      const flags = card.eventState & SCARD_STATE_FLAGS_MASK;
      if (flags & (SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE)) {
        throw new PcscError("SCardGetStatusChange", SCARD_RV.E_UNKNOWN_READER, PCSC_ERROR_CODE.READER_GONE, reader);
      }
      this.#cardState(reader, card);
      card.currentState = card.eventState & ~SCARD_STATE_CHANGED;

      if (pnp) {
        if (pnp.eventState & SCARD_STATE_UNKNOWN) {
          entries.pop(); // this pcscd has no PnP notification: rely on the reader entry alone
        } else {
          if ((pnp.eventState & SCARD_STATE_CHANGED) && !(await context.listReaders()).includes(reader)) {
            throw new PcscError("SCardGetStatusChange", SCARD_RV.E_UNKNOWN_READER, PCSC_ERROR_CODE.READER_GONE, reader);
          }
          pnp.currentState = pnp.eventState & ~SCARD_STATE_CHANGED;
        }
      }
    }
  }

  /** Turns one reader state into inserted/removed events. */
  #cardState(reader: string, entry: ReaderStateEntry): void {
    const flags = entry.eventState & SCARD_STATE_FLAGS_MASK;
    const count = entry.eventState >>> SCARD_STATE_EVENT_COUNT_SHIFT;
    // A mute card (no answer to reset) is as good as none for the guest.
    const present = (flags & SCARD_STATE_PRESENT) !== 0 && (flags & SCARD_STATE_MUTE) === 0;
    if (present) {
      // Pulled and pushed back between two waits: the event counter moved, or the ATR changed.
      const swapped = this.#present && ((this.#eventCount >= 0 && count !== this.#eventCount) || !bytesEqual(entry.atr, this.#atr));
      if (swapped) this.#removed(reader);
      if (!this.#present) {
        this.#present = true;
        this.#atr = entry.atr;
        this.emit("card-inserted", { reader, atr: entry.atr });
      }
    } else if (this.#present) {
      this.#removed(reader);
    }
    this.#eventCount = count;
  }

  #removed(reader: string): void {
    this.#present = false;
    this.#atr = new Uint8Array(0);
    this.emit("card-removed", { reader });
  }

  /** Reports the loss of card and reader once per outage. */
  #lost(error: Error): void {
    const code = error instanceof CacardError ? error.code : PCSC_ERROR_CODE.FAILED;
    const expected =
      isServiceLoss(error) ||
      code === PCSC_ERROR_CODE.READER_GONE ||
      code === RELAY_ERROR_CODE.READER_NOT_FOUND ||
      code === RELAY_ERROR_CODE.READER_AMBIGUOUS;
    if (!expected) this.emit("error", error);
    if (this.#present && this.#reader) this.#removed(this.#reader);
    // Once per outage, including a reader that is missing from the start (so the CLI can say what it waits for).
    if (!this.#outageReported) {
      this.#outageReported = true;
      this.emit("reader-gone", { reader: this.#attached ? this.#reader : null, code, error });
    }
    this.#attached = false;
  }

  #releaseContext(): void {
    this.#context?.release();
    this.#context = null;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wakeSleep = done;
    }).finally(() => {
      this.#wakeSleep = null;
    });
  }
}
