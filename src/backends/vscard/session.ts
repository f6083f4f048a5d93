/**
 * One VSCard conversation with a host (QEMU ccid-card-passthru), from the
 * card side. Transport-free: bytes come in through receive(), go out through
 * the send callback, one whole frame per call. The connection loop around it
 * (reconnects, TLS, listening) is in connection.ts, client.ts and listener.ts.
 *
 * Sequence (vscclient's, adjusted to what QEMU 7.2 was observed to do):
 *   1. send Init at once (QEMU's own realize-time Init is usually lost);
 *   2. wait for the host's Init; 0, 1 or 2 may arrive: the first one (or a
 *      timeout, if none comes) starts step 3, later ones are ignored;
 *   3. ReaderRemove(0) to clear what a previous client left attached
 *      (QEMU keeps reader and card state across reconnects; it answers SUCCESS
 *      even when nothing was attached);
 *   4. ReaderAdd per reader, one at a time; the Error(SUCCESS) answer's
 *      reader_id becomes the reader's id; then ATR if a card is in;
 *   5. answer each host APDU with an APDU, or an Error when the reader has
 *      no card; answer Flush with FlushComplete;
 *   6. follow the readers' insert/remove events with ATR / CardRemove.
 *
 * QEMU answers ReaderAdd, ReaderRemove, ATR and CardRemove with exactly one
 * VSC_Error each, in order, so replies are matched to a FIFO of requests.
 *
 * Cards answer asynchronously. Everything the session does (each incoming
 * message, each reader event) takes its turn after what came before, so the
 * frames go out in the order they would with a card that answers at once,
 * and that FIFO stays true. While nothing is pending a turn runs at once.
 */
import type { SmartCard, VirtualReader } from "../../core/card/reader.js";
import { CacardError } from "../../core/errors.js";
import { MAX_ATR_LENGTH } from "../../core/card/atr.js";
import { redactPins } from "../../core/card/card.js";
import { WarningLimiter } from "../../util/rate-limit.js";
import {
  ErrorCode,
  MAX_PAYLOAD_LENGTH,
  MINIMAL_READER_ID,
  MsgType,
  UNDEFINED_READER_ID,
  VscFramer,
  VscProtocolError,
  checkInit,
  describeMessage,
  encodeFrame,
  encodeMessage,
  initMessage,
  type VscMessage,
} from "./codec.js";

/** How long to wait for the host's Init before going on without it. */
export const DEFAULT_INIT_TIMEOUT_MS = 2_000;
/** How long the host may take to answer ReaderAdd/ATR/CardRemove/ReaderRemove. */
export const DEFAULT_REPLY_TIMEOUT_MS = 10_000;
/**
 * How long a frame may take to arrive whole once its first byte is in. QEMU
 * writes each frame at once, so even 64 KiB over a slow link takes well
 * under this; a peer trickling bytes (1 per second) is cut off instead of
 * holding the connection, and the host slot with it, for ever.
 */
export const DEFAULT_FRAME_TIMEOUT_MS = 5_000;
/** Extra host Inits reported one by one (QEMU sends at most two); more are rate-limited warnings. */
const REPORTED_EXTRA_INITS = 2;
/**
 * The error code we put in a VSC_Error answering an APDU we cannot serve
 * (no card, unknown reader, card failure). vscclient sends VReaderStatus
 * NO_CARD = 1; we send 1 too, big-endian like every other field. QEMU reads
 * this word without byte-swapping (it logs "VSC_Error: 1000000"), but only
 * logs it: any Error fails the guest's pending command the same way.
 */
export const APDU_FAILURE_CODE = ErrorCode.GeneralError;

/** Everything the session reports. Also the source of the CLI's stderr lines. */
export type VscardEvent =
  | { type: "listening"; address: string }
  | { type: "connecting"; address: string }
  | { type: "connect-failed"; address: string; reason: string }
  | { type: "connected"; address: string; tls: string | null }
  | { type: "host-init"; version: number; capabilities: number[] }
  | { type: "host-init-ignored"; count: number }
  | { type: "no-host-init"; waitedMs: number }
  | { type: "reader-attached"; reader: string; id: number }
  | { type: "reader-refused"; reader: string; code: number; why: string }
  | { type: "reader-detached"; reader: string; id: number }
  | { type: "card-inserted"; reader: string; id: number; atr: Uint8Array }
  | { type: "atr-rejected"; reader: string; id: number; code: number }
  | { type: "card-removed"; reader: string; id: number }
  | { type: "apdu"; id: number; command: Uint8Array; response: Uint8Array | null }
  | { type: "message"; direction: "rx" | "tx"; text: string }
  | { type: "warning"; message: string }
  | { type: "protocol-error"; message: string }
  | { type: "disconnected"; address: string; reason: string }
  | { type: "retry"; delayMs: number; attempt: number }
  | { type: "rejected-connection"; address: string; reason: string }
  | { type: "stopped" };

export interface SessionOptions {
  readonly readers: readonly VirtualReader[];
  /** Writes one whole frame; must be a single write on the socket. */
  readonly send: (frame: Uint8Array) => void;
  readonly onEvent?: (event: VscardEvent) => void;
  /**
   * Report every message ("message") and APDU ("apdu") to onEvent (default
   * true). With false, or without onEvent, nothing is built for them: no
   * descriptions, no PIN-redacted copies. `cacard vscard` only shows them
   * with --debug.
   */
  readonly traceEvents?: boolean;
  /** Called once when the session cannot go on (protocol error, host silent). */
  readonly onFatal?: (error: Error) => void;
  readonly initTimeoutMs?: number;
  readonly replyTimeoutMs?: number;
  /** Send ReaderRemove(0) before adding readers (vscclient does). Default true. */
  readonly cleanup?: boolean;
  /** Deadline for a frame once it has started arriving; default DEFAULT_FRAME_TIMEOUT_MS. */
  readonly frameTimeoutMs?: number;
  /**
   * Rate limit for the warnings the host's input causes. A listener or client
   * passes one that outlives its connections, so that reconnecting does not
   * reset it; default: one per session, summarised on close.
   */
  readonly warnings?: WarningLimiter;
  /** Our Init was already sent (the listener's handshake): start() does not send it again. */
  readonly initSent?: boolean;
}

/** A frame started and did not finish within the frame deadline. */
export class VscardFrameTimeoutError extends CacardError {
  constructor(message: string) {
    super("VSCARD_FRAME_TIMEOUT", message);
  }
}

/** The host left a request of ours unanswered; the connection is given up. */
export class VscardTimeoutError extends CacardError {
  constructor(message: string) {
    super("VSCARD_REPLY_TIMEOUT", message);
  }
}

type ReaderPhase = "waiting" | "adding" | "attached" | "refused" | "detaching" | "gone";

interface ReaderState {
  readonly reader: VirtualReader;
  phase: ReaderPhase;
  id: number | null;
  /** An ATR was sent and not yet followed by CardRemove. */
  cardSent: boolean;
  /** removeReader() was called while the add was in flight. */
  removeWhenAdded: boolean;
  /** The ATR last sent (reported with card-inserted). */
  atr: Uint8Array | null;
  onInsert: (card: SmartCard) => void;
  onRemove: () => void;
}

type Pending =
  | { kind: "cleanup" }
  | { kind: "add"; state: ReaderState }
  | { kind: "atr"; state: ReaderState; id: number }
  | { kind: "card-remove"; state: ReaderState; id: number }
  | { kind: "reader-remove"; state: ReaderState; id: number };

export class VscardSession {
  readonly #opts: SessionOptions;
  readonly #framer = new VscFramer();
  readonly #states: ReaderState[] = [];
  /**
   * Attached readers by host id, for the APDU path. A hint only: an entry is
   * trusted after checking the state is still attached with that id.
   */
  readonly #byId = new Map<number, ReaderState>();
  /** options.onEvent, or null: events (and their descriptions) are only built when someone listens. */
  readonly #onEvent: ((event: VscardEvent) => void) | null;
  /** "message" and "apdu" events wanted. */
  readonly #trace: boolean;
  readonly #pending: Pending[] = [];
  #hostInits = 0;
  #setupStarted = false;
  #adding: ReaderState | null = null;
  #initTimer: ReturnType<typeof setTimeout> | null = null;
  #replyTimer: ReturnType<typeof setTimeout> | null = null;
  #frameTimer: ReturnType<typeof setTimeout> | null = null;
  readonly #warnings: WarningLimiter;
  readonly #ownWarnings: boolean;
  #closed = false;
  #started = false;
  /** The last turn still running (a card answering), or null when idle. */
  #tail: Promise<void> | null = null;
  /** Host Errors received but still waiting for their turn (they are answers the reply timer must not miss). */
  #queuedErrors = 0;

  constructor(options: SessionOptions) {
    this.#opts = options;
    this.#onEvent = options.onEvent ?? null;
    this.#trace = this.#onEvent !== null && options.traceEvents !== false;
    this.#ownWarnings = options.warnings === undefined;
    this.#warnings = options.warnings ?? new WarningLimiter((message) => this.#emit({ type: "warning", message }));
    for (const reader of options.readers) this.#track(reader);
  }

  /** True once the host's Init arrived (or we went on without it). */
  get handshakeDone(): boolean {
    return this.#setupStarted;
  }

  get hostInitCount(): number {
    return this.#hostInits;
  }

  /** Reader id assigned by the host, or null while not attached. */
  readerId(reader: VirtualReader): number | null {
    const s = this.#states.find((x) => x.reader === reader);
    return s && s.phase === "attached" ? s.id : null;
  }

  /** Sends our Init. Call once the transport is up. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    if (!this.#opts.initSent) this.#send(initMessage(MINIMAL_READER_ID));
    const wait = this.#opts.initTimeoutMs ?? DEFAULT_INIT_TIMEOUT_MS;
    this.#initTimer = setTimeout(() => {
      this.#initTimer = null;
      this.#inTurn(() => {
        if (this.#setupStarted) return;
        this.#emit({ type: "no-host-init", waitedMs: wait });
        this.#beginSetup();
      });
    }, wait);
  }

  /**
   * Feeds bytes from the transport. Never throws; fatal problems go to
   * onFatal. Returns a promise when some of the work waits for a card: it
   * settles (never rejects) once every frame this chunk calls for has been
   * handed to send(), so that the transport can write them together.
   */
  receive(chunk: Uint8Array): Promise<void> | undefined {
    if (this.#closed) return undefined;
    let messages: VscMessage[];
    try {
      messages = this.#framer.push(chunk);
    } catch (e) {
      // After what was received before it has been answered, as with a card that answers at once.
      this.#inTurn(() => this.#fatal(e as Error));
      return this.#tail ?? undefined;
    }
    for (const msg of messages) {
      if (msg.type === MsgType.Error) this.#queuedErrors++;
      this.#inTurn(() => this.#handle(msg));
    }
    this.#watchPartialFrame();
    return this.#tail ?? undefined;
  }

  /** Adds a reader at run time (ReaderAdd once the handshake is done). */
  addReader(reader: VirtualReader): void {
    if (this.#states.some((s) => s.reader === reader && s.phase !== "gone")) return;
    this.#track(reader);
    this.#inTurn(() => {
      if (this.#setupStarted) this.#nextAdd();
    });
  }

  /** Detaches a reader: CardRemove if a card was announced, then ReaderRemove. */
  removeReader(reader: VirtualReader): void {
    this.#inTurn(() => this.#removeReader(reader));
  }

  #removeReader(reader: VirtualReader): void {
    const state = this.#states.find((s) => s.reader === reader && s.phase !== "gone");
    if (!state) return;
    switch (state.phase) {
      case "adding":
        state.removeWhenAdded = true;
        return;
      case "attached":
        this.#detach(state);
        return;
      default:
        this.#untrack(state);
    }
  }

  /**
   * Polite goodbye (vscclient's "exit"): CardRemove and ReaderRemove for every
   * attached reader, so that the guest does not wait on a card nobody serves.
   * After the answers still being worked out; a promise when there are some.
   */
  detachAll(): Promise<void> | undefined {
    this.#inTurn(() => {
      for (const s of this.#states) if (s.phase === "attached") this.#detach(s);
    });
    return this.#tail ?? undefined;
  }

  /** Stops timers and listeners. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#initTimer) clearTimeout(this.#initTimer);
    if (this.#replyTimer) clearTimeout(this.#replyTimer);
    if (this.#frameTimer) clearTimeout(this.#frameTimer);
    this.#initTimer = this.#replyTimer = this.#frameTimer = null;
    if (this.#ownWarnings) this.#warnings.flush();
    for (const s of this.#states) {
      s.reader.off("insert", s.onInsert);
      s.reader.off("remove", s.onRemove);
    }
  }

  // ---- internals -----------------------------------------------------------

  #track(reader: VirtualReader): ReaderState {
    const state: ReaderState = {
      reader,
      phase: "waiting",
      id: null,
      cardSent: false,
      removeWhenAdded: false,
      atr: null,
      onInsert: () => this.#inTurn(() => this.#cardInserted(state)),
      onRemove: () => this.#inTurn(() => this.#cardRemoved(state)),
    };
    reader.on("insert", state.onInsert);
    reader.on("remove", state.onRemove);
    this.#states.push(state);
    return state;
  }

  #untrack(state: ReaderState): void {
    state.phase = "gone";
    if (state.id !== null && this.#byId.get(state.id) === state) this.#byId.delete(state.id);
    state.reader.off("insert", state.onInsert);
    state.reader.off("remove", state.onRemove);
  }

  /**
   * Runs `task` after every earlier turn has finished: at once when idle,
   * else once the card work before it has settled. A task that throws or
   * rejects ends the session (onFatal), as a throw in receive() always did.
   */
  #inTurn(task: () => void | Promise<void>): void {
    if (this.#tail !== null) {
      this.#settle(this.#tail.then(() => (this.#closed ? undefined : task())));
      return;
    }
    if (this.#closed) return;
    let out: void | Promise<void>;
    try {
      out = task();
    } catch (e) {
      this.#fatal(e as Error);
      return;
    }
    if (out !== undefined) this.#settle(out);
  }

  #settle(work: Promise<void>): void {
    const tail: Promise<void> = work.then(
      () => {
        if (this.#tail === tail) this.#tail = null;
      },
      (e) => {
        if (this.#tail === tail) this.#tail = null;
        this.#fatal(e as Error);
      },
    );
    this.#tail = tail;
  }

  /**
   * Arms the frame deadline when a frame is left incomplete, clears it when
   * none is. The deadline runs from the frame's first byte: more bytes do not
   * push it back, or a trickle would never trip it.
   */
  #watchPartialFrame(): void {
    if (this.#closed) return;
    if (this.#framer.buffered === 0) {
      if (this.#frameTimer) clearTimeout(this.#frameTimer);
      this.#frameTimer = null;
      return;
    }
    if (this.#frameTimer) return;
    const ms = this.#opts.frameTimeoutMs ?? DEFAULT_FRAME_TIMEOUT_MS;
    this.#frameTimer = setTimeout(() => {
      this.#frameTimer = null;
      const held = this.#framer.buffered;
      this.#fatal(new VscardFrameTimeoutError(`a frame from the host was still incomplete after ${ms} ms (${held} bytes received)`));
    }, ms);
  }

  /** A warning caused by the host's input: rate-limited per kind. */
  #peerWarning(kind: string, message: string): void {
    if (this.#onEvent !== null) this.#warnings.warn(kind, message);
  }

  #emit(event: VscardEvent): void {
    this.#onEvent?.(event);
  }

  #send(msg: VscMessage): void {
    if (this.#closed) return;
    if (this.#trace) this.#emit({ type: "message", direction: "tx", text: describeMessage(msg) });
    this.#opts.send(encodeMessage(msg));
  }

  #expect(p: Pending): void {
    this.#pending.push(p);
    this.#armReplyTimer();
  }

  #armReplyTimer(): void {
    if (this.#replyTimer) clearTimeout(this.#replyTimer);
    this.#replyTimer = null;
    if (this.#pending.length === 0 || this.#closed) return;
    const ms = this.#opts.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS;
    const what = this.#pending[0].kind;
    this.#replyTimer = setTimeout(() => {
      this.#replyTimer = null;
      // The answer came and waits behind a card still working: not the host's silence.
      if (this.#queuedErrors > 0) this.#armReplyTimer();
      else this.#fatal(new VscardTimeoutError(`host did not answer ${what} within ${ms} ms`));
    }, ms);
  }

  #fatal(error: Error): void {
    if (this.#closed) return;
    if (error instanceof VscProtocolError) this.#emit({ type: "protocol-error", message: error.message });
    this.close();
    this.#opts.onFatal?.(error);
  }

  #handle(msg: VscMessage): void | Promise<void> {
    // Messages a host sends in a normal conversation are traced; the others
    // (unknown types, unsolicited Errors, card-side messages) are only
    // reported through the rate-limited warning, which names them, so that a
    // flood of them cannot turn into a flood of lines, --debug or not.
    if (this.#trace && this.#expected(msg)) this.#emit({ type: "message", direction: "rx", text: describeMessage(msg) });
    switch (msg.type) {
      case MsgType.Init:
        this.#hostInit(msg);
        return;
      case MsgType.Error:
        this.#queuedErrors--;
        return this.#hostError(msg.readerId, msg.code);
      case MsgType.APDU:
        return this.#apdu(msg.readerId, msg.apdu);
      case MsgType.Flush:
        this.#send({ type: MsgType.FlushComplete, readerId: msg.readerId });
        return;
      default: {
        const name = msg.type === "unknown" ? `type ${msg.rawType}` : describeMessage(msg);
        this.#peerWarning("unexpected messages from the host", `ignoring unexpected message from host: ${name}`);
      }
    }
  }

  #expected(msg: VscMessage): boolean {
    switch (msg.type) {
      case MsgType.Init:
        return this.#hostInits < 1 + REPORTED_EXTRA_INITS;
      case MsgType.Error:
        return this.#pending.length > 0;
      case MsgType.APDU:
      case MsgType.Flush:
        return true;
      default:
        return false;
    }
  }

  #hostInit(msg: Extract<VscMessage, { type: typeof MsgType.Init }>): void {
    checkInit(msg);
    this.#hostInits++;
    if (this.#hostInits === 1 && !this.#setupStarted) {
      this.#emit({ type: "host-init", version: msg.version, capabilities: msg.capabilities });
      if (this.#initTimer) clearTimeout(this.#initTimer);
      this.#initTimer = null;
      this.#beginSetup();
      return;
    }
    // QEMU's realize-time Init and its reply to ours can both arrive; only
    // the first one starts the setup (vscclient would start it twice).
    if (this.#hostInits <= 1 + REPORTED_EXTRA_INITS) this.#emit({ type: "host-init-ignored", count: this.#hostInits });
    else this.#peerWarning("extra Init messages from the host", `ignoring Init number ${this.#hostInits} from host`);
  }

  #beginSetup(): void {
    if (this.#setupStarted) return;
    this.#setupStarted = true;
    if (this.#opts.cleanup ?? true) {
      this.#send({ type: MsgType.ReaderRemove, readerId: MINIMAL_READER_ID });
      this.#expect({ kind: "cleanup" });
    }
    this.#nextAdd();
  }

  #nextAdd(): void {
    if (this.#adding !== null || this.#closed) return;
    const next = this.#states.find((s) => s.phase === "waiting");
    if (!next) return;
    next.phase = "adding";
    this.#adding = next;
    // The name is optional; QEMU ignores it, vscclient sends none.
    this.#send({ type: MsgType.ReaderAdd, readerId: UNDEFINED_READER_ID, name: next.reader.name });
    this.#expect({ kind: "add", state: next });
  }

  #hostError(readerId: number, code: number): void | Promise<void> {
    const p = this.#pending.shift();
    this.#armReplyTimer();
    if (!p) {
      // QEMU never sends an Error that is not a reply; another host might.
      this.#peerWarning("unsolicited Errors from the host", `unsolicited Error from host (reader ${readerId}, code ${code})`);
      return;
    }
    switch (p.kind) {
      case "cleanup":
        if (code !== ErrorCode.Success) {
          this.#peerWarning("cleanup answers", `host answered the ReaderRemove cleanup with code ${code}`);
        }
        return;
      case "add":
        return this.#added(p.state, readerId, code);
      case "atr":
        if (p.state.phase !== "attached" || p.state.id !== p.id) return;
        if (code === ErrorCode.Success) {
          this.#emit({ type: "card-inserted", reader: p.state.reader.name, id: p.id, atr: p.state.atr ?? new Uint8Array(0) });
        } else {
          p.state.cardSent = false;
          this.#emit({ type: "atr-rejected", reader: p.state.reader.name, id: p.id, code });
        }
        return;
      case "card-remove":
        this.#emit({ type: "card-removed", reader: p.state.reader.name, id: p.id });
        return;
      case "reader-remove":
        this.#emit({ type: "reader-detached", reader: p.state.reader.name, id: p.id });
        return;
    }
  }

  #added(state: ReaderState, readerId: number, code: number): void | Promise<void> {
    this.#adding = null;
    const name = state.reader.name;
    if (code !== ErrorCode.Success) {
      state.phase = "refused";
      const why = code === ErrorCode.CannotAddMoreReaders ? "host cannot add more readers" : `host answered code ${code}`;
      this.#emit({ type: "reader-refused", reader: name, code, why });
    } else if (readerId === UNDEFINED_READER_ID) {
      state.phase = "refused";
      this.#emit({ type: "reader-refused", reader: name, code, why: "host gave no reader id" });
    } else if (this.#states.some((s) => s !== state && s.phase === "attached" && s.id === readerId)) {
      // QEMU's usb-ccid has one slot and answers every ReaderAdd with id 0.
      state.phase = "refused";
      this.#emit({
        type: "reader-refused",
        reader: name,
        code,
        why: `host reused reader id ${readerId} (it supports fewer readers)`,
      });
    } else {
      state.phase = "attached";
      state.id = readerId;
      this.#byId.set(readerId, state);
      this.#emit({ type: "reader-attached", reader: name, id: readerId });
      if (state.removeWhenAdded) this.#detach(state);
      else if (state.reader.present) {
        const announced = this.#sendAtr(state);
        // The next ReaderAdd follows the ATR, as it did when power-on was instant.
        if (announced !== undefined) return announced.then(() => this.#nextAdd());
      }
    }
    this.#nextAdd();
  }

  #sendAtr(state: ReaderState): Promise<void> | undefined {
    const card = state.reader.card;
    if (card === null || state.id === null) return undefined;
    // libcacard powers the card on when it is inserted (vreader_power_on):
    // selections and login are reset, and the guest sees a fresh card.
    return card.powerOn().then((atr) => this.#announce(state, atr));
  }

  #announce(state: ReaderState, atr: Uint8Array): void {
    if (this.#closed || state.phase !== "attached" || state.id === null) return;
    if (atr.length < 2 || atr.length > MAX_ATR_LENGTH) {
      this.#emit({
        type: "warning",
        message: `not announcing the card in ${state.reader.name}: its ATR is ${atr.length} bytes (QEMU takes 2-${MAX_ATR_LENGTH})`,
      });
      return;
    }
    state.cardSent = true;
    state.atr = atr;
    this.#send({ type: MsgType.ATR, readerId: state.id, atr });
    this.#expect({ kind: "atr", state, id: state.id });
  }

  #cardInserted(state: ReaderState): Promise<void> | undefined {
    if (this.#closed || state.phase !== "attached" || state.cardSent) return undefined;
    return this.#sendAtr(state);
  }

  #cardRemoved(state: ReaderState): void {
    if (this.#closed || state.phase !== "attached" || !state.cardSent || state.id === null) return;
    state.cardSent = false;
    this.#send({ type: MsgType.CardRemove, readerId: state.id });
    this.#expect({ kind: "card-remove", state, id: state.id });
  }

  #detach(state: ReaderState): void {
    if (state.id === null) return;
    const id = state.id;
    if (state.cardSent) {
      state.cardSent = false;
      this.#send({ type: MsgType.CardRemove, readerId: id });
      this.#expect({ kind: "card-remove", state, id });
    }
    state.phase = "detaching";
    this.#send({ type: MsgType.ReaderRemove, readerId: id });
    this.#expect({ kind: "reader-remove", state, id });
    this.#untrack(state);
  }

  #apdu(readerId: number, command: Uint8Array): Promise<void> | undefined {
    const hint = this.#byId.get(readerId);
    const state = hint !== undefined && hint.phase === "attached" && hint.id === readerId ? hint : undefined;
    const card = state?.reader.card ?? null;
    if (card === null || !state?.cardSent) {
      this.#answer(readerId, command, null);
      return undefined;
    }
    let response: Uint8Array | Promise<Uint8Array>;
    try {
      // answer() when the card has it (VirtualCard): a synchronous answer goes
      // out in this turn, so a chunk's replies leave in one write at once and
      // the busy poll after it still catches the host's next command.
      response = card.answer ? card.answer(command) : card.transmit(command);
    } catch (e) {
      this.#cardFailed(readerId, command, e);
      return undefined;
    }
    if (!(response instanceof Promise)) {
      this.#answer(readerId, command, response);
      return undefined;
    }
    return response.then(
      (r) => this.#answer(readerId, command, r),
      (e) => this.#cardFailed(readerId, command, e),
    );
  }

  #cardFailed(readerId: number, command: Uint8Array, e: unknown): void {
    this.#peerWarning("card failures", `card failed on an APDU: ${(e as Error)?.message ?? e}`);
    this.#answer(readerId, command, null);
  }

  /** Sends the card's response, or an Error when there is none (no card, card failure, too long). */
  #answer(readerId: number, command: Uint8Array, response: Uint8Array | null): void {
    if (response !== null && response.length > MAX_PAYLOAD_LENGTH) {
      this.#peerWarning("oversized responses", `response of ${response.length} bytes does not fit a VSCard frame`);
      response = null;
    }
    if (this.#trace) this.#emit({ type: "apdu", id: readerId, command: redactPins(command), response });
    if (response === null) {
      this.#send({ type: MsgType.Error, readerId, code: APDU_FAILURE_CODE });
    } else if (this.#trace) {
      this.#send({ type: MsgType.APDU, readerId, apdu: response });
    } else if (!this.#closed) {
      // The hot path, without listeners: straight to one frame.
      this.#opts.send(encodeFrame(MsgType.APDU, readerId, response));
    }
  }
}
