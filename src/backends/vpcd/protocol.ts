/**
 * The vpcd wire format (vsmartcard's vpcd.c / ifd-vpcd.c), with no I/O.
 *
 * Both directions carry frames: a 2-byte big-endian payload length, then the
 * payload. From vpcd, a 1-byte payload is a control code and anything longer
 * is a command APDU; from the card, a frame is the ATR (the answer to
 * GET ATR) or a response APDU. A frame of length 0 is never valid here: vpcd
 * would block forever trying to read it, so the encoder refuses to build one
 * and the decoder rejects one.
 */
import { CacardError } from "../../core/errors.js";

/** vpcd's listening port for slot 0 (0x8C7B); slot n listens on port + n. */
export const VPCD_DEFAULT_PORT = 35963;
export const VPCD_DEFAULT_HOST = "127.0.0.1";

/** Size of the length prefix. */
export const LENGTH_PREFIX_BYTES = 2;
/** Largest payload a 16-bit length can describe. */
export const MAX_FRAME_PAYLOAD = 0xffff;
/** Smallest reply a card may send: SW1 SW2. */
export const MIN_RESPONSE_LENGTH = 2;
/**
 * Bytes the decoder holds before giving up on a peer. vpcd sends one frame
 * and waits for its reply, so a well-behaved peer never has more than one
 * frame (plus a control frame or two) in flight; this leaves generous room
 * for that and bounds what a misbehaving one can make us keep.
 */
export const MAX_PENDING_INPUT = 4 * (LENGTH_PREFIX_BYTES + MAX_FRAME_PAYLOAD);

/** Control codes (vpcd.h VPCD_CTRL_*); the value 3 is unused. */
export const VpcdControl = {
  POWER_OFF: 0x00,
  POWER_ON: 0x01,
  RESET: 0x02,
  GET_ATR: 0x04,
} as const;
export type VpcdControlCode = (typeof VpcdControl)[keyof typeof VpcdControl];

export type VpcdMessage =
  | { readonly kind: "control"; readonly code: number }
  | { readonly kind: "apdu"; readonly apdu: Uint8Array };

export type VpcdProtocolErrorCode =
  | "VPCD_ZERO_LENGTH" // a frame announcing 0 payload bytes
  | "VPCD_FRAME_TOO_LARGE" // an outgoing payload over 0xFFFF bytes
  | "VPCD_EMPTY_FRAME" // an outgoing payload of 0 bytes
  | "VPCD_INPUT_OVERFLOW"; // the peer sent more than MAX_PENDING_INPUT unprocessed bytes

/** A violation of the vpcd wire format; the connection it came from must be dropped. */
export class VpcdProtocolError extends CacardError {
  declare readonly code: VpcdProtocolErrorCode;
  constructor(code: VpcdProtocolErrorCode, message: string) {
    super(code, message);
  }
}

/** Builds one frame (length prefix and payload in one buffer, for a single write). */
export function encodeFrame(payload: Uint8Array): Buffer {
  if (payload.length === 0) {
    throw new VpcdProtocolError("VPCD_EMPTY_FRAME", "refusing to send a zero-length vpcd frame");
  }
  if (payload.length > MAX_FRAME_PAYLOAD) {
    throw new VpcdProtocolError(
      "VPCD_FRAME_TOO_LARGE",
      `vpcd frame payload of ${payload.length} bytes exceeds ${MAX_FRAME_PAYLOAD}`,
    );
  }
  const frame = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES + payload.length);
  frame.writeUInt16BE(payload.length, 0);
  frame.set(payload, LENGTH_PREFIX_BYTES);
  return frame;
}

/** Classifies a payload received from vpcd. */
export function classifyPayload(payload: Uint8Array): VpcdMessage {
  if (payload.length === 1) return { kind: "control", code: payload[0] };
  return { kind: "apdu", apdu: payload };
}

export function controlName(code: number): string {
  switch (code) {
    case VpcdControl.POWER_OFF:
      return "power-off";
    case VpcdControl.POWER_ON:
      return "power-on";
    case VpcdControl.RESET:
      return "reset";
    case VpcdControl.GET_ATR:
      return "get-atr";
    default:
      return `unknown-0x${code.toString(16).padStart(2, "0")}`;
  }
}

/**
 * Stream reassembly: push() whatever the socket delivered (split or coalesced
 * at any byte), then take whole payloads with next(). After an error the
 * decoder stays failed; the connection it served must be dropped.
 */
export class FrameDecoder {
  readonly #maxPending: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #failed: VpcdProtocolError | null = null;

  constructor(maxPending: number = MAX_PENDING_INPUT) {
    if (!Number.isInteger(maxPending) || maxPending < LENGTH_PREFIX_BYTES + MAX_FRAME_PAYLOAD) {
      throw new RangeError("maxPending must hold at least one maximal frame");
    }
    this.#maxPending = maxPending;
  }

  /** Bytes received but not yet returned by next(). */
  get pending(): number {
    return this.#buffered;
  }

  push(chunk: Uint8Array): void {
    if (this.#failed) throw this.#failed;
    if (chunk.length === 0) return;
    if (this.#buffered + chunk.length > this.#maxPending) {
      this.#failed = new VpcdProtocolError(
        "VPCD_INPUT_OVERFLOW",
        `more than ${this.#maxPending} unprocessed bytes from vpcd`,
      );
      throw this.#failed;
    }
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /** The next complete payload (a copy), or null until more bytes arrive. */
  next(): Uint8Array | null {
    if (this.#failed) throw this.#failed;
    if (this.#buffered < LENGTH_PREFIX_BYTES) return null;
    const length = (this.#peekByte(0) << 8) | this.#peekByte(1);
    if (length === 0) {
      this.#failed = new VpcdProtocolError("VPCD_ZERO_LENGTH", "vpcd sent a zero-length frame");
      throw this.#failed;
    }
    if (this.#buffered < LENGTH_PREFIX_BYTES + length) return null;
    this.#consume(LENGTH_PREFIX_BYTES);
    return this.#take(length);
  }

  /** Convenience for tests and simple callers: pushes, then drains every complete payload. */
  feed(chunk: Uint8Array): Uint8Array[] {
    this.push(chunk);
    const out: Uint8Array[] = [];
    for (let p = this.next(); p !== null; p = this.next()) out.push(p);
    return out;
  }

  #peekByte(index: number): number {
    for (const c of this.#chunks) {
      if (index < c.length) return c[index];
      index -= c.length;
    }
    throw new RangeError("peek past buffered input");
  }

  #consume(n: number): void {
    this.#take(n);
  }

  #take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    let used = 0; // whole chunks consumed; removed in one splice (shift() per chunk is quadratic)
    while (filled < n) {
      const head = this.#chunks[used];
      const want = n - filled;
      if (head.length <= want) {
        out.set(head, filled);
        filled += head.length;
        used++;
      } else {
        out.set(head.subarray(0, want), filled);
        filled += want;
        this.#chunks[used] = head.subarray(want);
      }
    }
    if (used > 0) this.#chunks.splice(0, used);
    this.#buffered -= n;
    return out;
  }
}
