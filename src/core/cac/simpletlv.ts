/**
 * SimpleTLV (GSC-IS 2.1 §9 / libcacard simpletlv.c): a one-byte tag (01-FE)
 * and a length that is one byte below 0xFF, else FF followed by a 16-bit
 * little-endian length (so 255 itself is FF FF 00).
 */
import { concatBytes } from "../bytes.js";
import { CacardError } from "../errors.js";

export const SIMPLETLV_LONG_LENGTH = 0xff;
export const SIMPLETLV_MAX_LENGTH = 0xffff;

export class SimpleTlvError extends CacardError {
  constructor(message: string) {
    super("SIMPLETLV_INVALID", message);
  }
}

export function encodeLength(length: number): Uint8Array {
  if (length < 0 || length > SIMPLETLV_MAX_LENGTH) throw new SimpleTlvError(`length ${length} out of range`);
  if (length < SIMPLETLV_LONG_LENGTH) return Uint8Array.of(length);
  return Uint8Array.of(SIMPLETLV_LONG_LENGTH, length & 0xff, length >> 8);
}

/** Tag + length header only (what goes into a CAC tag buffer). */
export function header(tag: number, length: number): Uint8Array {
  if (tag < 0x01 || tag > 0xfe) throw new SimpleTlvError(`tag ${tag} out of range`);
  return concatBytes(Uint8Array.of(tag), encodeLength(length));
}

export function tlv(tag: number, value: Uint8Array): Uint8Array {
  return concatBytes(header(tag, value.length), value);
}

export interface SimpleTlvItem {
  readonly tag: number;
  readonly value: Uint8Array;
}

export interface SimpleTlvHeader {
  readonly tag: number;
  readonly length: number;
  /** Offset just past the header. */
  readonly end: number;
}

/** Reads the tag and length at `offset`; the length is not checked against what follows. */
export function readHeader(bytes: Uint8Array, offset: number): SimpleTlvHeader {
  let i = offset;
  const tag = bytes[i++];
  if (i >= bytes.length) throw new SimpleTlvError("missing length");
  let length = bytes[i++];
  if (length === SIMPLETLV_LONG_LENGTH) {
    if (i + 2 > bytes.length) throw new SimpleTlvError("truncated long length");
    length = bytes[i] | (bytes[i + 1] << 8);
    i += 2;
  }
  return { tag, length, end: i };
}

/**
 * The headers of a CAC tag buffer, in order: the values they describe live
 * in the object's separate value buffer (GSC-IS 2.1 "TLV buffers").
 */
export function* headers(tags: Uint8Array): Generator<SimpleTlvHeader> {
  for (let i = 0; i < tags.length; ) {
    const h = readHeader(tags, i);
    yield h;
    i = h.end;
  }
}

/** Parses a flat SimpleTLV sequence; every length is checked against the input. */
export function parseSimpleTlv(bytes: Uint8Array): SimpleTlvItem[] {
  const items: SimpleTlvItem[] = [];
  let i = 0;
  while (i < bytes.length) {
    const { tag, length, end } = readHeader(bytes, i);
    i = end;
    if (i + length > bytes.length) throw new SimpleTlvError("value runs past the end");
    items.push({ tag, value: bytes.subarray(i, i + length) });
    i += length;
  }
  return items;
}
