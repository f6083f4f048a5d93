/**
 * A physical card in a PC/SC reader, as the core's SmartCard: what
 * `cacard relay --reader NAME` forwards the guest's APDUs to.
 *
 * - Connects SCARD_SHARE_SHARED (default) or EXCLUSIVE, offering T=0|T=1
 *   (pcscd picks what the card's ATR allows); `protocol` tells which.
 * - `atr` is the real card's ATR: the guest sees the physical card.
 * - transmit() relays bytes verbatim. 61xx and 6Cxx go back to the guest
 *   untouched: on a T=0 link the guest's middleware follows them itself, and
 *   a GET RESPONSE issued here would hand the guest data it never asked for.
 *   Extended APDUs pass through (the receive buffer takes 64 KiB + SW); the
 *   reader and card decide whether they work.
 * - In shared mode every guest exchange runs inside a PC/SC transaction,
 *   held per transaction-policy.ts, so host applications cannot interleave.
 * - powerOn() attaches without resetting (SCardReconnect LEAVE_CARD, or a
 *   fresh connection): the card belongs to the host, a reset would drop a
 *   PIN a host application verified and can take seconds on a real card
 *   (libcacard's capcsc.c ignores the first reset for the same reason).
 *   reset() and coldReset() are SCardReconnect RESET / UNPOWER, for a
 *   relay's own policy (e.g. "reset on guest detach"); the guest's power
 *   requests never reach the relay (QEMU's usb-ccid answers them).
 *
 * Failures are PcscError with a stable `code` (errors.ts). After
 * PCSC_CARD_RESET (another application reset the card) the handle has
 * already been reconnected; the caller should show the guest a removal and a
 * re-insertion so it re-reads the card.
 */
import { PCSC_ERROR_CODE, PcscError, RELAY_ERROR_CODE, RelayError, isServiceLoss } from "./errors.js";
import {
  MAX_BUFFER_SIZE_EXTENDED,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_ANY,
  SCARD_PROTOCOL_T0,
  SCARD_PROTOCOL_T1,
  SCARD_RESET_CARD,
  SCARD_RV,
  SCARD_SHARE_EXCLUSIVE,
  SCARD_SHARE_SHARED,
  SCARD_UNPOWER_CARD,
} from "./constants.js";
import { PcscContext } from "./context.js";
import { pcscLibrary, type PcscLibrary } from "./library.js";
import type { SmartCard } from "../../core/card/reader.js";
import { DEFAULT_TRANSACTION_TIMING, isSafePoint, releaseDelay, type TransactionTiming } from "./transaction-policy.js";

export type ShareMode = "shared" | "exclusive";

/**
 * A command APDU has at least CLA INS P1 P2 (ISO 7816-3 §12.1). Shorter input
 * is refused here rather than relayed: vpcd, for one, takes a 1-byte payload
 * for a power/ATR control code and would desynchronise its reader.
 */
const MIN_COMMAND_LENGTH = 4;
/** Largest extended command: header, 3-byte Lc, 65535 data, 3-byte Le. */
const MAX_COMMAND_LENGTH = MAX_BUFFER_SIZE_EXTENDED - 2;
/** Bound for one relayed exchange (real cards: RSA-2048 up to ~2 s, key generation longer). */
export const DEFAULT_EXCHANGE_TIMEOUT_MS = 60_000;

/** One relayed exchange, for latency logs (never log VERIFY data: it carries the PIN). */
export interface ExchangeRecord {
  readonly command: Uint8Array;
  readonly response: Uint8Array;
  /** Time in SCardTransmit alone, milliseconds (fractional). */
  readonly transmitMs: number;
  /** Time spent waiting for SCardBeginTransaction before it, milliseconds (0 when already held). */
  readonly beginMs: number;
}

export interface PcscCardOptions {
  /** The exact reader name (resolve user input with matchReader). */
  readonly reader: string;
  /** Default "shared". */
  readonly share?: ShareMode;
  /** SCARD_PROTOCOL_* bits offered; default T=0|T=1. A T=0-only guest reader may prefer T=0 alone. */
  readonly protocols?: number;
  /** Shared mode: when to end the guest's transaction. */
  readonly transactionTiming?: TransactionTiming;
  /** Shared mode: hold transactions at all (default true; false only for diagnostics and tests). */
  readonly transactions?: boolean;
  /** Upper bound for one exchange, including waiting for another application's transaction. */
  readonly exchangeTimeoutMs?: number;
  /** What close() does to the card: leave it (default) or reset it (drops the guest's PIN state). */
  readonly closeDisposition?: "leave" | "reset";
  /** Called after every successful exchange. */
  readonly onExchange?: (record: ExchangeRecord) => void;
  readonly library?: PcscLibrary;
}

interface Connection {
  readonly context: PcscContext;
  readonly handle: number;
  protocol: number;
}

export class PcscCard implements SmartCard {
  readonly reader: string;
  readonly share: ShareMode;
  readonly #library: PcscLibrary;
  readonly #options: PcscCardOptions;
  readonly #timing: TransactionTiming;
  #connection: Connection | null = null;
  #atr: Uint8Array = new Uint8Array(0);
  /** Every PC/SC call on the handle goes through this chain: one at a time, in order. */
  #tail: Promise<unknown> = Promise.resolve();
  #inTransaction = false;
  #lastActivity = 0;
  #lastSafe = true;
  #releaseTimer: NodeJS.Timeout | null = null;
  #closed = false;
  /** A timed-out PC/SC call is still running on its worker thread. */
  #abandoned = false;

  private constructor(options: PcscCardOptions) {
    this.reader = options.reader;
    this.share = options.share ?? "shared";
    this.#library = options.library ?? pcscLibrary();
    this.#options = options;
    this.#timing = options.transactionTiming ?? DEFAULT_TRANSACTION_TIMING;
  }

  /**
   * Connects to the card in `options.reader` without resetting it (a card the
   * host already unlocked stays unlocked). PCSC_CARD_REMOVED when the reader
   * is empty, PCSC_SHARING_VIOLATION when someone holds it exclusively,
   * PCSC_NO_SERVICE without pcscd.
   */
  static async open(options: PcscCardOptions): Promise<PcscCard> {
    const card = new PcscCard(options);
    await card.#serial(() => card.#connect());
    return card;
  }

  get atr(): Uint8Array {
    return this.#atr;
  }

  /** SCARD_PROTOCOL_T0 or _T1 while connected, else 0. */
  get protocol(): number {
    return this.#connection?.protocol ?? 0;
  }

  get protocolName(): string {
    return this.protocol === SCARD_PROTOCOL_T0 ? "T=0" : this.protocol === SCARD_PROTOCOL_T1 ? "T=1" : "none";
  }

  get connected(): boolean {
    return this.#connection !== null;
  }

  /** True while the relay holds a PC/SC transaction (shared mode). */
  get inTransaction(): boolean {
    return this.#inTransaction;
  }

  /**
   * Attaches to the card without resetting it (see the module comment):
   * SCardReconnect LEAVE_CARD, or a fresh context and connection when the old
   * handle is beyond that (a card pulled and pushed back answers
   * SCARD_W_REMOVED_CARD on it; after a pcscd restart the context is dead).
   * Returns the ATR.
   */
  powerOn(): Promise<Uint8Array> {
    return this.#serial(() => this.#reinitialise(SCARD_LEAVE_CARD));
  }

  /** Cold reset (SCardReconnect UNPOWER); reconnects from scratch if the handle died. Returns the ATR. */
  coldReset(): Promise<Uint8Array> {
    return this.#serial(() => this.#reinitialise(SCARD_UNPOWER_CARD));
  }

  /** Warm reset (SCardReconnect RESET). Returns the ATR. Real cards may take seconds. */
  reset(): Promise<Uint8Array> {
    return this.#serial(() => this.#reinitialise(SCARD_RESET_CARD));
  }


  /** Disconnects with UNPOWER (the card powers down unless another application holds it); powerOn() connects again. */
  powerOff(): Promise<void> {
    return this.#serial(() => this.#disconnect(SCARD_UNPOWER_CARD));
  }

  transmit(command: Uint8Array): Promise<Uint8Array> {
    if (this.#abandoned) {
      // pcsc-lite serialises calls on a handle: the next one would only queue
      // behind the call that timed out and hold another worker thread.
      return Promise.reject(new RelayError(RELAY_ERROR_CODE.BUSY, `the card in "${this.reader}" has not answered an earlier exchange`));
    }
    if (command.length < MIN_COMMAND_LENGTH || command.length > MAX_COMMAND_LENGTH) {
      return Promise.reject(
        new RelayError(RELAY_ERROR_CODE.BAD_APDU, `command APDU of ${command.length} bytes (allowed ${MIN_COMMAND_LENGTH}–${MAX_COMMAND_LENGTH})`),
      );
    }
    // Copy: the caller may reuse its buffer while the exchange is queued.
    const bytes = Uint8Array.from(command);
    return this.#serial(() => this.#exchange(bytes));
  }

  /** Ends a held transaction, disconnects (leave or reset) and releases the context. Idempotent. */
  close(): Promise<void> {
    if (this.#closed) return this.#tail.then(() => undefined);
    this.#closed = true;
    const disposition = this.#options.closeDisposition === "reset" ? SCARD_RESET_CARD : SCARD_LEAVE_CARD;
    return this.#serial(() => this.#disconnect(disposition), true);
  }

  // ---- internals: everything below runs inside #serial ----

  #serial<T>(task: () => Promise<T>, evenIfClosed = false): Promise<T> {
    const run = this.#tail.then(() => {
      if (this.#closed && !evenIfClosed) throw new RelayError(RELAY_ERROR_CODE.CLOSED, `card in "${this.reader}" was closed`);
      return task();
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #connect(): Promise<void> {
    const context = await PcscContext.establish(this.#library);
    try {
      const shareMode = this.share === "exclusive" ? SCARD_SHARE_EXCLUSIVE : SCARD_SHARE_SHARED;
      const { handle, protocol } = await this.#library.connect(
        context.handle,
        this.reader,
        shareMode,
        this.#options.protocols ?? SCARD_PROTOCOL_ANY,
      );
      this.#connection = { context, handle, protocol };
      this.#atr = (await this.#library.status(handle)).atr;
    } catch (error) {
      this.#connection = null;
      context.release();
      throw error;
    }
  }

  async #exchange(command: Uint8Array): Promise<Uint8Array> {
    const connection = this.#requireConnection();
    this.#cancelReleaseTimer();
    const started = performance.now();
    const work = async (): Promise<ExchangeRecord> => {
      let beginMs = 0;
      if (this.#usesTransactions() && !this.#inTransaction) {
        await this.#library.beginTransaction(connection.handle);
        this.#inTransaction = true;
        beginMs = performance.now() - started;
      }
      const sent = performance.now();
      const response = await this.#library.transmit(connection.handle, connection.protocol, command);
      return { command, response, transmitMs: performance.now() - sent, beginMs };
    };
    const pending = work();
    let record: ExchangeRecord;
    try {
      record = await withTimeout(pending, this.#options.exchangeTimeoutMs ?? DEFAULT_EXCHANGE_TIMEOUT_MS, "SCardTransmit");
    } catch (error) {
      if (error instanceof PcscError && error.code === PCSC_ERROR_CODE.TIMEOUT) {
        // The abandoned call may still get the transaction (or finish the APDU)
        // later. If it does, the relay holds a transaction again (#afterFailure
        // has forgotten it): give it back at once.
        this.#abandoned = true;
        pending
          .then(
            () =>
              this.#serial(async () => {
                this.#inTransaction = this.#usesTransactions();
                await this.#endTransaction();
              }),
            () => undefined,
          )
          .catch(() => undefined)
          .finally(() => {
            this.#abandoned = false;
          });
      }
      throw await this.#afterFailure(error);
    }
    this.#lastActivity = performance.now();
    this.#lastSafe = isSafePoint(command, record.response);
    if (this.#inTransaction) this.#scheduleRelease();
    this.#options.onExchange?.(record);
    return record.response;
  }

  /** Restores a usable handle where PC/SC allows it, and returns the error to throw. */
  async #afterFailure(error: unknown): Promise<unknown> {
    if (!(error instanceof PcscError)) return error;
    this.#inTransaction = false;
    this.#cancelReleaseTimer();
    const connection = this.#connection;
    if (error.code === PCSC_ERROR_CODE.CARD_RESET && connection) {
      // pcsc-lite keeps answering SCARD_W_RESET_CARD on this handle until it is reconnected.
      try {
        connection.protocol = await this.#library.reconnect(connection.handle, this.#shareMode(), this.#protocols(), SCARD_LEAVE_CARD);
        this.#atr = (await this.#library.status(connection.handle)).atr;
      } catch (again) {
        return again;
      }
    } else if (isServiceLoss(error) || error.code === PCSC_ERROR_CODE.READER_GONE) {
      this.#drop();
    }
    return error;
  }

  async #reinitialise(initialization: number): Promise<Uint8Array> {
    await this.#endTransaction();
    const connection = this.#connection;
    if (connection && connection.context.isValid()) {
      try {
        connection.protocol = await this.#library.reconnect(connection.handle, this.#shareMode(), this.#protocols(), initialization);
        this.#atr = (await this.#library.status(connection.handle)).atr;
        return this.#atr;
      } catch (error) {
        // A card pulled and pushed back, or a reader re-plugged: the old handle is
        // beyond SCardReconnect; start from a new context below.
        if (!(error instanceof PcscError)) throw error;
      }
    }
    this.#drop();
    await this.#connect();
    return this.#atr;
  }

  async #disconnect(disposition: number): Promise<void> {
    const connection = this.#connection;
    if (!connection) return;
    await this.#endTransaction();
    try {
      if (connection.context.isValid()) await this.#library.disconnect(connection.handle, disposition);
    } catch (error) {
      // Disconnecting a handle whose card or reader is gone fails harmlessly.
      if (!(error instanceof PcscError)) throw error;
    } finally {
      this.#drop();
    }
  }

  async #endTransaction(): Promise<void> {
    this.#cancelReleaseTimer();
    if (!this.#inTransaction || !this.#connection) return;
    this.#inTransaction = false;
    try {
      await this.#library.endTransaction(this.#connection.handle, SCARD_LEAVE_CARD);
    } catch (error) {
      // SCARD_E_NOT_TRANSACTED / removed card: the transaction is over either way.
      if (!(error instanceof PcscError)) throw error;
    }
  }

  #scheduleRelease(): void {
    this.#cancelReleaseTimer();
    const delay = releaseDelay(this.#timing, performance.now() - this.#lastActivity, this.#lastSafe);
    this.#releaseTimer = setTimeout(() => {
      this.#releaseTimer = null;
      void this.#serial(async () => {
        if (!this.#inTransaction) return;
        // An APDU may have slipped in between the timer and this task.
        if (releaseDelay(this.#timing, performance.now() - this.#lastActivity, this.#lastSafe) > 0) {
          this.#scheduleRelease();
          return;
        }
        await this.#endTransaction();
      }).catch(() => undefined);
    }, delay);
    this.#releaseTimer.unref();
  }

  #cancelReleaseTimer(): void {
    if (this.#releaseTimer) clearTimeout(this.#releaseTimer);
    this.#releaseTimer = null;
  }

  #drop(): void {
    this.#cancelReleaseTimer();
    this.#inTransaction = false;
    this.#connection?.context.release();
    this.#connection = null;
  }

  #requireConnection(): Connection {
    if (!this.#connection) {
      throw new RelayError(RELAY_ERROR_CODE.NOT_CONNECTED, `no connection to the card in "${this.reader}"`);
    }
    return this.#connection;
  }

  #usesTransactions(): boolean {
    return this.share === "shared" && this.#options.transactions !== false;
  }

  #shareMode(): number {
    return this.share === "exclusive" ? SCARD_SHARE_EXCLUSIVE : SCARD_SHARE_SHARED;
  }

  #protocols(): number {
    return this.#options.protocols ?? SCARD_PROTOCOL_ANY;
  }
}

/**
 * Rejects with PCSC_TIMEOUT after `ms`. The PC/SC call itself cannot be
 * aborted: it finishes on its worker thread and its result is dropped.
 */
function withTimeout<T>(promise: Promise<T>, ms: number, operation: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PcscError(operation, SCARD_RV.E_TIMEOUT, PCSC_ERROR_CODE.TIMEOUT, `no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
