/**
 * The VSCard wire format spoken between a card provider (vscclient, spice,
 * cacard) and QEMU's ccid-card-passthru: a 12-byte header of three
 * big-endian u32 {type, reader_id, length} followed by `length` payload
 * bytes. Pure: no sockets, no timers.
 */
import { CacardError } from "../../core/errors.js";

/** Message types (libcacard vscard_common.h VSCMsgType). */
export const MsgType = {
  Init: 1,
  Error: 2,
  ReaderAdd: 3,
  ReaderRemove: 4,
  ATR: 5,
  CardRemove: 6,
  APDU: 7,
  Flush: 8,
  FlushComplete: 9,
} as const;
export type MsgType = (typeof MsgType)[keyof typeof MsgType];

const TYPE_NAMES: Record<number, string> = {
  1: "Init",
  2: "Error",
  3: "ReaderAdd",
  4: "ReaderRemove",
  5: "ATR",
  6: "CardRemove",
  7: "APDU",
  8: "Flush",
  9: "FlushComplete",
};

export function msgTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `unknown(0x${type.toString(16)})`;
}

/** VSC_Error codes (VSCErrorCode). "ALREAY" is libcacard's spelling; we fix it here. */
export const ErrorCode = {
  Success: 0,
  GeneralError: 1,
  CannotAddMoreReaders: 2,
  CardAlreadyInserted: 3,
} as const;

export const HEADER_LENGTH = 12;
/** "VSCD" as raw ASCII bytes; the magic is compared as bytes, never byte-swapped. */
export const VSCARD_MAGIC = Uint8Array.of(0x56, 0x53, 0x43, 0x44);
/** MAKE_VERSION(0,0,2): major << 21 | middle << 10 | minor. */
export const VSCARD_VERSION = 2;
export const UNDEFINED_READER_ID = 0xffffffff;
export const MINIMAL_READER_ID = 0;
/** Init payload without capabilities: magic + version. */
const INIT_FIXED_LENGTH = 8;

/**
 * Largest whole frame (header included) we ever send or accept. QEMU's
 * passthru input buffer is 64 KiB: a frame of 65 537 bytes or more makes it
 * stop reading the socket forever, with no error. We apply the same bound to
 * what we receive.
 */
export const MAX_FRAME_LENGTH = 65536;
export const MAX_PAYLOAD_LENGTH = MAX_FRAME_LENGTH - HEADER_LENGTH;

export type VscMessage =
  | { type: typeof MsgType.Init; readerId: number; magic: Uint8Array; version: number; capabilities: number[] }
  | { type: typeof MsgType.Error; readerId: number; code: number }
  | { type: typeof MsgType.ReaderAdd; readerId: number; name: string }
  | { type: typeof MsgType.ReaderRemove; readerId: number }
  | { type: typeof MsgType.ATR; readerId: number; atr: Uint8Array }
  | { type: typeof MsgType.CardRemove; readerId: number }
  | { type: typeof MsgType.APDU; readerId: number; apdu: Uint8Array }
  | { type: typeof MsgType.Flush; readerId: number }
  | { type: typeof MsgType.FlushComplete; readerId: number }
  /** A type this codec does not know; kept so that callers can log and skip it. */
  | { type: "unknown"; rawType: number; readerId: number; payload: Uint8Array };

export type VscProtocolErrorCode =
  | "VSC_FRAME_TOO_LARGE" // header announces more than MAX_PAYLOAD_LENGTH
  | "VSC_BAD_PAYLOAD" // payload too short / malformed for its type
  | "VSC_BAD_MAGIC" // Init magic is not "VSCD"
  | "VSC_CLOSED"; // input after the framer failed

/** A violation of the wire format. The connection it came from must be closed. */
export class VscProtocolError extends CacardError {
  declare readonly code: VscProtocolErrorCode;
  constructor(code: VscProtocolErrorCode, message: string) {
    super(code, message);
  }
}

// ---- encoding --------------------------------------------------------------

function u32(n: number): number {
  // (n >>> 0) === n: an integer in [0, 2^32) (false for NaN, fractions, negatives, 2^32 and up).
  if (n >>> 0 !== n) throw new RangeError(`not a u32: ${n}`);
  return n;
}

function putU32(out: Uint8Array, off: number, v: number): void {
  out[off] = v >>> 24;
  out[off + 1] = v >>> 16;
  out[off + 2] = v >>> 8;
  out[off + 3] = v;
}

function getU32(bytes: Uint8Array, off: number): number {
  return ((bytes[off] << 24) | (bytes[off + 1] << 16) | (bytes[off + 2] << 8) | bytes[off + 3]) >>> 0;
}

const EMPTY = new Uint8Array(0);

/**
 * One frame: header + payload in a single buffer (so it goes out in one
 * write). One allocation per frame; the payload is copied into it.
 */
export function encodeFrame(type: number, readerId: number, payload: Uint8Array = EMPTY): Uint8Array {
  if (payload.length > MAX_PAYLOAD_LENGTH) {
    throw new VscProtocolError(
      "VSC_FRAME_TOO_LARGE",
      `${msgTypeName(type)} payload of ${payload.length} bytes exceeds the ${MAX_PAYLOAD_LENGTH}-byte limit`,
    );
  }
  u32(type);
  u32(readerId);
  const out = new Uint8Array(HEADER_LENGTH + payload.length);
  putU32(out, 0, type);
  putU32(out, 4, readerId);
  putU32(out, 8, payload.length);
  if (payload.length > 0) out.set(payload, HEADER_LENGTH);
  return out;
}

const ERROR_PAYLOAD_PLACEHOLDER = new Uint8Array(4);

export function encodeMessage(msg: VscMessage): Uint8Array {
  switch (msg.type) {
    case MsgType.Init: {
      const payload = new Uint8Array(INIT_FIXED_LENGTH + 4 * msg.capabilities.length);
      if (msg.magic.length !== 4) throw new RangeError("Init magic must be 4 bytes");
      payload.set(msg.magic, 0);
      putU32(payload, 4, u32(msg.version));
      msg.capabilities.forEach((c, i) => putU32(payload, INIT_FIXED_LENGTH + 4 * i, u32(c)));
      return encodeFrame(MsgType.Init, msg.readerId, payload);
    }
    case MsgType.Error: {
      const code = u32(msg.code);
      const frame = encodeFrame(MsgType.Error, msg.readerId, ERROR_PAYLOAD_PLACEHOLDER);
      putU32(frame, HEADER_LENGTH, code);
      return frame;
    }
    case MsgType.ReaderAdd:
      return encodeFrame(MsgType.ReaderAdd, msg.readerId, new TextEncoder().encode(msg.name));
    case MsgType.ATR:
      return encodeFrame(MsgType.ATR, msg.readerId, msg.atr);
    case MsgType.APDU:
      return encodeFrame(MsgType.APDU, msg.readerId, msg.apdu);
    case MsgType.ReaderRemove:
    case MsgType.CardRemove:
    case MsgType.Flush:
    case MsgType.FlushComplete:
      return encodeFrame(msg.type, msg.readerId);
    case "unknown":
      return encodeFrame(msg.rawType, msg.readerId, msg.payload);
  }
}

/** Our Init: magic "VSCD", version 2, one capability word 0 (what vscclient and QEMU send). */
export function initMessage(readerId = MINIMAL_READER_ID): VscMessage {
  return { type: MsgType.Init, readerId, magic: VSCARD_MAGIC, version: VSCARD_VERSION, capabilities: [0] };
}

// ---- decoding --------------------------------------------------------------

/** A plain Uint8Array copy (socket chunks are Buffers over shared memory). */
function copy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

function magicOk(magic: Uint8Array): boolean {
  return magic.length === 4 && magic.every((b, i) => b === VSCARD_MAGIC[i]);
}

/**
 * Decodes one payload for its header. Throws VscProtocolError for a payload
 * too short for its type (Init < 8 bytes, Error < 4). Unknown types decode to
 * `{ type: "unknown" }`. A wrong Init magic is reported as is; callers decide
 * (see `checkInit`). Byte fields are copies: the message never aliases
 * `payload`.
 */
export function decodeMessage(type: number, readerId: number, payload: Uint8Array): VscMessage {
  return decode(type, readerId, payload, false);
}

/**
 * `viewApdu`: an APDU's bytes are `payload` itself (the framer passes a
 * plain Uint8Array view of bytes it never writes to) instead of a copy.
 */
function decode(type: number, readerId: number, payload: Uint8Array, viewApdu: boolean): VscMessage {
  switch (type) {
    case MsgType.APDU:
      return { type, readerId, apdu: viewApdu ? payload : copy(payload) };
    case MsgType.Init: {
      if (payload.length < INIT_FIXED_LENGTH) {
        throw new VscProtocolError("VSC_BAD_PAYLOAD", `Init payload of ${payload.length} bytes (need at least 8)`);
      }
      const capabilities: number[] = [];
      // The count comes from the length; a trailing partial word is ignored.
      for (let off = INIT_FIXED_LENGTH; off + 4 <= payload.length; off += 4) capabilities.push(getU32(payload, off));
      return { type, readerId, magic: copy(payload.subarray(0, 4)), version: getU32(payload, 4), capabilities };
    }
    case MsgType.Error: {
      if (payload.length < 4) {
        throw new VscProtocolError("VSC_BAD_PAYLOAD", `Error payload of ${payload.length} bytes (need 4)`);
      }
      return { type, readerId, code: getU32(payload, 0) };
    }
    case MsgType.ReaderAdd:
      return { type, readerId, name: new TextDecoder().decode(payload) };
    case MsgType.ATR:
      return { type, readerId, atr: copy(payload) };
    case MsgType.ReaderRemove:
    case MsgType.CardRemove:
    case MsgType.Flush:
    case MsgType.FlushComplete:
      return { type, readerId };
    default:
      return { type: "unknown", rawType: type, readerId, payload: copy(payload) };
  }
}

/** Throws VSC_BAD_MAGIC unless an Init carries "VSCD". */
export function checkInit(msg: Extract<VscMessage, { type: typeof MsgType.Init }>): void {
  if (!magicOk(msg.magic)) {
    const hex = Array.from(msg.magic, (b) => b.toString(16).padStart(2, "0")).join("");
    throw new VscProtocolError("VSC_BAD_MAGIC", `Init magic is ${hex}, not "VSCD"`);
  }
}

/**
 * Reassembles frames from a byte stream cut anywhere. `push` returns the
 * messages completed by a chunk. After the first VscProtocolError the framer
 * is dead (every later push throws VSC_CLOSED): the stream position is lost,
 * so the only safe move is to close the connection.
 *
 * Chunks are read in place: a chunk holding whole frames is decoded without
 * copying it, and an APDU's bytes are a (plain Uint8Array) view into it. So
 * a pushed chunk must not be modified afterwards (socket chunks never are).
 * Bytes are joined into one buffer only when a frame straddles chunks, and
 * only once enough of them have arrived to go on.
 */
export class VscFramer {
  readonly #maxFrame: number;
  /** Held bytes, oldest first, when a frame is incomplete. */
  #parts: Uint8Array[] = [];
  #buffered = 0;
  /** Held bytes needed before decoding can go on (a header, or a header with its payload). */
  #need = HEADER_LENGTH;
  #failed: VscProtocolError | null = null;

  constructor(maxFrameLength = MAX_FRAME_LENGTH) {
    if (!Number.isInteger(maxFrameLength) || maxFrameLength < HEADER_LENGTH) {
      throw new RangeError(`maxFrameLength must be at least ${HEADER_LENGTH}`);
    }
    this.#maxFrame = maxFrameLength;
  }

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.#buffered;
  }

  push(chunk: Uint8Array): VscMessage[] {
    if (this.#failed) throw new VscProtocolError("VSC_CLOSED", `framer already failed: ${this.#failed.message}`);
    let data: Uint8Array;
    if (this.#buffered === 0) {
      data = chunk;
    } else {
      if (chunk.length > 0) {
        this.#parts.push(chunk);
        this.#buffered += chunk.length;
      }
      if (this.#buffered < this.#need) return [];
      data = this.#parts.length === 1 ? this.#parts[0] : this.#join();
    }
    const out: VscMessage[] = [];
    const end = data.length;
    const maxPayload = this.#maxFrame - HEADER_LENGTH;
    let off = 0;
    let need = HEADER_LENGTH;
    try {
      while (end - off >= HEADER_LENGTH) {
        const type = getU32(data, off);
        const readerId = getU32(data, off + 4);
        const length = getU32(data, off + 8);
        // Checked before waiting for the payload, so a lying length fails at once
        // instead of making us buffer up to 4 GiB.
        if (length > maxPayload) {
          throw new VscProtocolError(
            "VSC_FRAME_TOO_LARGE",
            `${msgTypeName(type)} frame announces ${length} payload bytes; the limit is ${maxPayload}`,
          );
        }
        if (end - off < HEADER_LENGTH + length) {
          need = HEADER_LENGTH + length;
          break;
        }
        const payload = new Uint8Array(data.buffer, data.byteOffset + off + HEADER_LENGTH, length);
        out.push(decode(type, readerId, payload, true));
        off += HEADER_LENGTH + length;
      }
    } catch (e) {
      if (e instanceof VscProtocolError) {
        this.#failed = e;
        this.#parts = [];
        this.#buffered = 0;
      }
      throw e;
    }
    if (off === end) {
      if (this.#buffered !== 0) this.#parts = [];
      this.#buffered = 0;
      this.#need = HEADER_LENGTH;
    } else {
      this.#parts = [off === 0 ? data : data.subarray(off)];
      this.#buffered = end - off;
      this.#need = need;
    }
    return out;
  }

  #join(): Uint8Array {
    const all = new Uint8Array(this.#buffered);
    let off = 0;
    for (const c of this.#parts) {
      all.set(c, off);
      off += c.length;
    }
    return all;
  }
}

/** Short description of a message for logs (no APDU contents). */
export function describeMessage(msg: VscMessage): string {
  const id = msg.readerId === UNDEFINED_READER_ID ? "undefined" : String(msg.readerId);
  switch (msg.type) {
    case MsgType.Init:
      return `Init reader=${id} version=${msg.version} caps=[${msg.capabilities.join(",")}]`;
    case MsgType.Error:
      return `Error reader=${id} code=${msg.code}`;
    case MsgType.ATR:
      return `ATR reader=${id} ${msg.atr.length} bytes`;
    case MsgType.APDU:
      return `APDU reader=${id} ${msg.apdu.length} bytes`;
    case "unknown":
      return `${msgTypeName(msg.rawType)} reader=${id} ${msg.payload.length} bytes`;
    default:
      return `${msgTypeName(msg.type)} reader=${id}`;
  }
}
