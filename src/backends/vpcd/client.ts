/**
 * The card side of vpcd: connects to vpcd (which listens inside pcscd) and
 * answers it for the card in a VirtualReader.
 *
 * A TCP connection is a card in vpcd's slot: removing the card closes it,
 * inserting connects again. Drops and refusals (pcscd restarting) are retried
 * with exponential backoff while the card is in.
 */
import { EventEmitter } from "node:events";
import { Socket } from "node:net";
import type { SmartCard, VirtualReader } from "../../core/card/reader.js";
import { redactPins } from "../../core/card/card.js";
import { CacardError } from "../../core/errors.js";
import { backoffDelay, type BackoffPolicy } from "../backoff.js";
import { markServed } from "../served-cards.js";
import {
  FrameDecoder,
  MAX_FRAME_PAYLOAD,
  MAX_PENDING_INPUT,
  MIN_RESPONSE_LENGTH,
  VPCD_DEFAULT_HOST,
  VPCD_DEFAULT_PORT,
  VpcdControl,
  VpcdProtocolError,
  classifyPayload,
  controlName,
  encodeFrame,
} from "./protocol.js";
import { quickAckSupport, type QuickAckSetter } from "./quick-ack.js";
import { WarningLimiter } from "../../util/rate-limit.js";

/** The control codes vpcd sends (vpcd.h); anything else is ignored with a rate-limited note. */
function isKnownControl(code: number): boolean {
  return (Object.values(VpcdControl) as number[]).includes(code);
}

/** Reconnect delays: quick first retries (pcscd restarts in well under a second), 5 s at most. */
export const VPCD_DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 5000, factor: 2, jitter: 0.2 };

/** Gives up on a connect() that neither succeeds nor fails (remote hosts). */
export const CONNECT_TIMEOUT_MS = 5000;
/**
 * Replies queued in the socket beyond this stop further processing until the
 * kernel takes them (vpcd reads every reply, so this only guards against a
 * peer that sends without reading).
 */
export const MAX_PENDING_OUTPUT = 4 * (2 + MAX_FRAME_PAYLOAD);

/**
 * idle: no card, no connection; connecting; connected; closing: we closed
 * the socket and wait for it to go; waiting: reconnect scheduled; stopped.
 */
export type VpcdClientState = "idle" | "connecting" | "connected" | "closing" | "waiting" | "stopped";

export interface VpcdClientEvents {
  /** A connect attempt starts (attempt counts failures since the last good session). */
  connecting: [attempt: number];
  /** TCP connected; vpcd may take a poll interval (~0.4 s) to accept it. */
  connected: [];
  /** The connection is gone; `error` is set when it ended abnormally. */
  disconnected: [reason: string, error?: Error];
  /** A reconnect is scheduled in delayMs. */
  retry: [delayMs: number, attempt: number];
  /** A control frame from vpcd (never answered, except GET ATR with the ATR). */
  control: [code: number, name: string];
  /** One APDU exchange. VERIFY PIN bytes are already blanked. */
  apdu: [command: Uint8Array, response: Uint8Array];
  /** The client stopped for good (abort signal or stop()). */
  stopped: [];
}

export interface VpcdClientOptions {
  readonly reader: VirtualReader;
  readonly host?: string;
  readonly port?: number;
  readonly backoff?: BackoffPolicy;
  readonly connectTimeoutMs?: number;
  readonly maxPendingInput?: number;
  /** Stops the client when aborted. */
  readonly signal?: AbortSignal;
  /** Source of jitter, [0, 1). */
  readonly random?: () => number;
  /** Free-form diagnostics (connection events, protocol problems); never APDU data. */
  readonly log?: (message: string) => void;
  /**
   * Set TCP_QUICKACK after every read when the native helper is there
   * (default true; see quick-ack.ts). Without it each APDU through Debian's
   * vpcd waits ~40 ms for a delayed ACK. A function replaces the helper (tests).
   */
  readonly quickAck?: boolean | QuickAckSetter;
}

export type VpcdCardErrorCode =
  | "VPCD_NO_CARD" // a frame arrived while the reader was empty
  | "VPCD_BAD_ATR" // the card's ATR cannot be sent in a frame
  | "VPCD_BAD_RESPONSE"; // the card's answer is shorter than SW1 SW2 or longer than a frame

/** The card could not be served to vpcd; the connection is dropped. */
export class VpcdCardError extends CacardError {
  declare readonly code: VpcdCardErrorCode;
  constructor(code: VpcdCardErrorCode, message: string) {
    super(code, message);
  }
}

/** The reply to one frame: a payload, none (most control codes), or one the card is still working out. */
type Answer = Uint8Array | null | Promise<Uint8Array | null>;

/** Why a socket was closed by us (the card was pulled, we stopped, or the peer misbehaved). */
type CloseCause = "removed" | "stopped" | "protocol" | "card-failure" | "connect-timeout";

export class VpcdClient extends EventEmitter<VpcdClientEvents> {
  readonly reader: VirtualReader;
  readonly host: string;
  readonly port: number;

  readonly #backoff: BackoffPolicy;
  readonly #connectTimeoutMs: number;
  readonly #maxPendingInput: number;
  readonly #random: () => number;
  readonly #log: (message: string) => void;
  /** What vpcd's input makes us say (odd control codes, protocol errors): rate-limited per kind. */
  readonly #peerLog: WarningLimiter;
  readonly #signal: AbortSignal | undefined;
  /** Sets TCP_QUICKACK on the socket, or null when off or unavailable. */
  readonly #quickAck: QuickAckSetter | null;

  #state: VpcdClientState = "idle";
  #socket: Socket | null = null;
  #closeCause: CloseCause | null = null;
  #closeError: Error | undefined;
  #wasConnected = false;
  #attempt = 0;
  #retryTimer: NodeJS.Timeout | null = null;
  #connectTimer: NodeJS.Timeout | null = null;
  #started = false;
  /** The connection whose frame the card is answering: its later frames wait in its decoder, in order. */
  #answering: Socket | null = null;
  #stoppedPromise: Promise<void>;
  #resolveStopped!: () => void;

  /** True when TCP_QUICKACK is set on the connection (option on and helper loaded). */
  get quickAck(): boolean {
    return this.#quickAck !== null;
  }

  readonly #onInsert = () => this.#handleInsert();
  readonly #onRemove = () => this.#handleRemove();
  readonly #onAbort = () => this.stop();
  #unmarkServed: () => void = () => undefined;

  constructor(options: VpcdClientOptions) {
    super();
    this.reader = options.reader;
    this.host = options.host ?? VPCD_DEFAULT_HOST;
    this.port = options.port ?? VPCD_DEFAULT_PORT;
    if (!Number.isInteger(this.port) || this.port < 1 || this.port > 0xffff) {
      throw new RangeError(`port ${this.port} is not a TCP port`);
    }
    this.#backoff = options.backoff ?? VPCD_DEFAULT_BACKOFF;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    this.#maxPendingInput = options.maxPendingInput ?? MAX_PENDING_INPUT;
    this.#random = options.random ?? Math.random;
    this.#log = options.log ?? (() => {});
    this.#peerLog = new WarningLimiter(this.#log);
    const quickAck = options.quickAck ?? true;
    this.#quickAck = typeof quickAck === "function" ? quickAck : quickAck ? quickAckSupport().set : null;
    this.#signal = options.signal;
    this.#stoppedPromise = new Promise((resolve) => (this.#resolveStopped = resolve));
  }

  get state(): VpcdClientState {
    return this.#state;
  }

  get endpoint(): string {
    return `${this.host}:${this.port}`;
  }

  /** Resolves once the client has stopped. */
  get stopped(): Promise<void> {
    return this.#stoppedPromise;
  }

  /** Starts following the reader: connects now if a card is in. */
  start(): this {
    if (this.#started) return this;
    this.#started = true;
    if (this.#signal?.aborted) {
      this.stop();
      return this;
    }
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
    this.reader.on("insert", this.#onInsert);
    this.reader.on("remove", this.#onRemove);
    // A PC/SC relay in this process must not take this card back (served-cards.ts).
    this.#unmarkServed = markServed(this.reader);
    if (this.reader.present) this.#connect();
    return this;
  }

  /** Closes the connection and stops reconnecting. Idempotent. */
  stop(): Promise<void> {
    if (this.#state === "stopped") return this.#stoppedPromise;
    this.#state = "stopped";
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.reader.off("insert", this.#onInsert);
    this.reader.off("remove", this.#onRemove);
    this.#unmarkServed();
    this.#clearTimers();
    this.#peerLog.flush();
    const socket = this.#socket;
    if (socket && !socket.destroyed) {
      this.#closeCause = "stopped";
      socket.once("close", () => this.#finishStop());
      socket.destroy();
    } else {
      this.#finishStop();
    }
    return this.#stoppedPromise;
  }

  #finishStop(): void {
    this.#socket = null;
    this.emit("stopped");
    this.#resolveStopped();
  }

  // ---- reader events ---------------------------------------------------------

  #handleInsert(): void {
    if (this.#state === "stopped") return;
    this.#attempt = 0;
    if (this.#socket === null) {
      this.#clearTimers();
      this.#connect();
    }
  }

  #handleRemove(): void {
    if (this.#state === "stopped") return;
    this.#clearTimers();
    if (this.#socket) this.#drop("removed");
    else this.#state = "idle";
  }

  // ---- connection --------------------------------------------------------------

  #connect(): void {
    if (this.#state === "stopped" || this.#socket !== null || !this.reader.present) return;
    this.#state = "connecting";
    this.#closeCause = null;
    this.emit("connecting", this.#attempt);
    const socket = new Socket();
    const decoder = new FrameDecoder(this.#maxPendingInput);
    this.#socket = socket;

    this.#connectTimer = setTimeout(() => {
      this.#connectTimer = null;
      if (this.#socket === socket && this.#state === "connecting") this.#drop("connect-timeout");
    }, this.#connectTimeoutMs);

    socket.setNoDelay(true);
    socket.on("connect", () => {
      if (this.#connectTimer) clearTimeout(this.#connectTimer);
      this.#connectTimer = null;
      if (this.#socket !== socket) return;
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 10_000);
      this.#quickAck?.(socket);
      this.#state = "connected";
      this.#log(`connected to vpcd at ${this.endpoint}`);
      this.emit("connected");
    });
    socket.on("data", (chunk: Buffer) => this.#onData(socket, decoder, chunk));
    socket.on("drain", () => {
      if (this.#socket === socket) {
        socket.resume();
        this.#pump(socket, decoder);
      }
    });
    // Errors are reported through "close" (hadError) below; the listener keeps them from being thrown.
    let lastError: Error | undefined;
    socket.on("error", (e) => {
      lastError = e;
    });
    socket.on("close", () => this.#onClose(socket, lastError));
    socket.connect({ host: this.host, port: this.port });
  }

  /** Closes the current connection on our side; the "close" handler does the rest. */
  #drop(cause: CloseCause, error?: Error): void {
    const socket = this.#socket;
    if (!socket) return;
    if (this.#closeCause === null) {
      this.#closeCause = cause;
      this.#closeError = error;
    }
    if (error) this.#peerLog.warn("closed connections", `vpcd ${this.endpoint}: closing the connection: ${error.message}`);
    this.#wasConnected ||= this.#state === "connected";
    this.#state = "closing";
    socket.destroy();
  }

  #onClose(socket: Socket, socketError: Error | undefined): void {
    if (this.#socket !== socket) return;
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
    const cause = this.#closeCause;
    const wasConnected = this.#state === "connected" || this.#wasConnected;
    this.#wasConnected = false;
    const error = this.#closeError ?? socketError;
    this.#closeError = undefined;
    this.#socket = null;
    this.#closeCause = null;
    if (this.#state === "stopped") return; // stop() finishes the bookkeeping

    const reason =
      cause === "removed"
        ? "card removed"
        : cause === "protocol"
          ? "protocol error"
          : cause === "card-failure"
            ? "card failure"
            : cause === "connect-timeout"
              ? "connect timed out"
              : wasConnected
                ? "closed by vpcd"
                : `connect failed${socketError ? ` (${(socketError as NodeJS.ErrnoException).code ?? socketError.message})` : ""}`;
    this.emit("disconnected", reason, error);
    if (wasConnected || cause) this.#peerLog.warn("disconnections", `vpcd ${this.endpoint}: ${reason}`);

    if (!this.reader.present) {
      this.#state = "idle";
      return;
    }
    if (cause === "removed") {
      this.#connect(); // put back while the old connection was still closing
      return;
    }
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    const attempt = this.#attempt++;
    const delay = backoffDelay(attempt, this.#backoff, this.#random);
    this.#state = "waiting";
    this.emit("retry", delay, attempt);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#connect();
    }, delay);
  }

  #clearTimers(): void {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    this.#retryTimer = null;
    this.#connectTimer = null;
  }

  // ---- frames ------------------------------------------------------------------

  #onData(socket: Socket, decoder: FrameDecoder, chunk: Buffer): void {
    if (this.#socket !== socket || this.#closeCause !== null) return;
    // Linux leaves quick-ACK mode as the connection goes on; set it again
    // before the next segment (vpcd's next length prefix) arrives.
    this.#quickAck?.(socket);
    try {
      decoder.push(chunk);
    } catch (e) {
      this.#drop("protocol", e as Error);
      return;
    }
    this.#pump(socket, decoder);
  }

  /**
   * Handles every complete frame in order, unless the peer is not reading our
   * replies or the card is still answering an earlier one (then the rest wait
   * in the decoder, whose bound keeps a peer that does not wait in check).
   */
  #pump(socket: Socket, decoder: FrameDecoder): void {
    while (this.#socket === socket && this.#closeCause === null && this.#answering !== socket) {
      if (socket.writableLength > MAX_PENDING_OUTPUT) {
        socket.pause(); // resumed on "drain"
        return;
      }
      let payload: Uint8Array | null;
      try {
        payload = decoder.next();
      } catch (e) {
        this.#drop("protocol", e as Error);
        return;
      }
      if (payload === null) return;
      // vpcd talks to us: the session is good, so the next drop retries quickly.
      this.#attempt = 0;
      let reply: Answer;
      try {
        reply = this.#answer(payload);
      } catch (e) {
        this.#failed(e);
        return;
      }
      if (reply !== null && !(reply instanceof Uint8Array)) {
        this.#answering = socket;
        reply.then(
          (r) => this.#answered(socket, decoder, r),
          (e) => this.#answered(socket, decoder, null, e),
        );
        return;
      }
      if (reply !== null) socket.write(encodeFrame(reply));
    }
  }

  /** The card answered (or failed); send the reply if the connection is still the same, then go on. */
  #answered(socket: Socket, decoder: FrameDecoder, reply: Uint8Array | null, error?: unknown): void {
    if (this.#answering === socket) this.#answering = null;
    if (this.#socket !== socket || this.#closeCause !== null) return;
    if (error !== undefined) {
      this.#failed(error);
      return;
    }
    if (reply !== null) socket.write(encodeFrame(reply));
    this.#pump(socket, decoder);
  }

  #failed(e: unknown): void {
    this.#drop(e instanceof VpcdProtocolError ? "protocol" : "card-failure", e as Error);
  }

  /** The reply payload for one frame, or null for control codes that get none. */
  #answer(payload: Uint8Array): Answer {
    const card: SmartCard | null = this.reader.card;
    if (card === null) throw new VpcdCardError("VPCD_NO_CARD", "no card in the reader");
    const message = classifyPayload(payload);
    if (message.kind === "control") {
      const name = controlName(message.code);
      if (isKnownControl(message.code)) this.emit("control", message.code, name);
      switch (message.code) {
        case VpcdControl.GET_ATR: {
          const atr = card.atr;
          if (atr.length === 0 || atr.length > MAX_FRAME_PAYLOAD) {
            throw new VpcdCardError("VPCD_BAD_ATR", "the card has no usable ATR");
          }
          return atr;
        }
        case VpcdControl.POWER_OFF:
          return card.powerOff().then(() => null);
        case VpcdControl.POWER_ON:
          return card.powerOn().then(() => null);
        case VpcdControl.RESET:
          return card.reset().then(() => null);
        default:
          // vpcd never sends other codes; answering would desynchronise it.
          this.#peerLog.warn("unknown vpcd control codes", `ignoring vpcd control code ${name}`);
          return null;
      }
    }
    const command = message.apdu;
    return card.transmit(command).then((response) => {
      if (response.length < MIN_RESPONSE_LENGTH || response.length > MAX_FRAME_PAYLOAD) {
        throw new VpcdCardError("VPCD_BAD_RESPONSE", `card returned a ${response.length}-byte response`);
      }
      if (this.listenerCount("apdu") > 0) this.emit("apdu", redactPins(command), response);
      return response;
    });
  }
}
