/**
 * One VSCard connection: a VscardSession over a connected socket, with the
 * socket-side policies both roles share (VscardClient connects, VscardListener
 * accepts): replies to one incoming chunk written together, back-pressure
 * against a host that does not read, and a polite goodbye on stop.
 */
import type net from "node:net";
import type { VirtualReader } from "../../core/card/reader.js";
import { MAX_FRAME_LENGTH } from "./codec.js";
import { VscardSession, type VscardEvent } from "./session.js";
import { BusyPoll, busyPollWindowUs } from "./busy-poll.js";
import type { Endpoint } from "./address.js";
import type { TlsCredentials, VerifyPeer } from "./tls.js";
import type { WarningLimiter } from "../../util/rate-limit.js";

/** Replies queued in the socket beyond this stop reading from the host until the kernel takes them. */
export const MAX_PENDING_OUTPUT = 4 * MAX_FRAME_LENGTH;
/**
 * Incoming chunks whose replies still wait for a card, beyond which we stop
 * reading from the host until one is answered. A host sends one APDU per
 * reader and waits (CCID), so this is only reached by one that does not.
 */
export const MAX_PENDING_CHUNKS = 64;
/** On stop, how long the goodbye messages may take before the socket is destroyed. */
export const STOP_GRACE_MS = 500;

/** What both roles take. */
export interface ConnectionOptions {
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
  /** Deadline for one frame once its first byte is in (session.ts DEFAULT_FRAME_TIMEOUT_MS). */
  readonly frameTimeoutMs?: number;
}

/** What the role hands over with the socket. */
export interface SessionHooks {
  readonly onSession?: (s: VscardSession | null) => void;
  /** Rate limit for the host's warnings, shared by the role's connections. */
  readonly warnings?: WarningLimiter;
  /**
   * The listener's handshake already sent our Init and read these bytes (the
   * host's Init and whatever followed it): the session starts from them.
   */
  readonly handshake?: { readonly received: Uint8Array };
}

export interface SessionOutcome {
  readonly hostInitSeen: boolean;
  readonly reason: string;
}

/** Runs one session over a connected socket until it closes or we stop. */
export function runSession(
  socket: net.Socket,
  readers: readonly VirtualReader[],
  options: ConnectionOptions,
  hooks: SessionHooks = {},
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
    // order, once the chunk is answered: one write() for a burst (100 readers'
    // APDUs arriving together) instead of one per frame. Cards that answer at
    // once settle within the same turn of the event loop, so this costs no
    // latency. Frames are never split. Outside a chunk (timers, reader events,
    // start, stop) each frame is written at once.
    let batch: Uint8Array[] | null = null;
    /** Chunks handed to the session and not yet answered in full. */
    let open = 0;
    let pausedForCards = false;
    const busyPoll = new BusyPoll(busyPollWindowUs(options.busyPollUs), () => !socket.destroyed);
    const flush = () => {
      const frames = batch;
      batch = open > 0 ? [] : null;
      if (frames === null || frames.length === 0) return;
      write(frames.length === 1 ? frames[0] : Buffer.concat(frames));
    };
    const answered = () => {
      open--;
      flush();
      if (pausedForCards && open < MAX_PENDING_CHUNKS) {
        pausedForCards = false;
        socket.resume();
      }
      busyPoll.replied();
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
      frameTimeoutMs: options.frameTimeoutMs,
      ...(hooks.warnings ? { warnings: hooks.warnings } : {}),
      initSent: hooks.handshake !== undefined,
    });
    hooks.onSession?.(session);
    const onAbort = () => {
      reason ||= "stopped";
      const goodbye = () => {
        flush();
        socket.end();
      };
      const pending = session.detachAll();
      if (pending === undefined) goodbye();
      else void pending.then(goodbye);
      setTimeout(() => socket.destroy(), STOP_GRACE_MS).unref();
    };
    const onData = (chunk: Buffer) => {
      busyPoll.arrived();
      batch ??= [];
      open++;
      let pending: Promise<void> | undefined;
      try {
        pending = session.receive(chunk);
      } finally {
        if (pending === undefined) answered();
      }
      if (pending === undefined) return;
      void pending.then(answered);
      if (open >= MAX_PENDING_CHUNKS && !pausedForCards) {
        pausedForCards = true;
        socket.pause();
      }
    };
    socket.on("data", onData);
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
    if (hooks.handshake) {
      // The bytes read during the handshake go first, as if they had just
      // arrived; then the socket, paused by the listener, flows again.
      onData(Buffer.from(hooks.handshake.received));
      if (!pausedForCards) socket.resume();
    }
  });
}

/** Base for the two roles: the reader set can change while running. */
export abstract class ReaderHost {
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
