/**
 * BER-TLV as PIV uses it (SP 800-73-4 Part 2 §2.3, ISO 7816-4 §5.2): tags of
 * one to three bytes, lengths in the short form or 81 xx / 82 xx xx. Pure
 * functions; every length is checked against the bytes that are there.
 */
import { CardError } from "../iso7816/card-error.js";
import { SW } from "../iso7816/status.js";

/** Largest value the 82 xx xx form carries. */
export const MAX_TLV_LENGTH = 0xffff;

export interface Tlv {
  readonly tag: number;
  readonly value: Uint8Array;
}

/** The tag's bytes: 1, 2 or 3 of them, taken from the number's significant bytes. */
function tagBytes(tag: number): number[] {
  if (tag > 0xffff) return [(tag >> 16) & 0xff, (tag >> 8) & 0xff, tag & 0xff];
  if (tag > 0xff) return [(tag >> 8) & 0xff, tag & 0xff];
  return [tag];
}

function lengthBytes(length: number): number[] {
  if (length < 0x80) return [length];
  if (length <= 0xff) return [0x81, length];
  if (length <= MAX_TLV_LENGTH) return [0x82, length >> 8, length & 0xff];
  throw new RangeError(`TLV value of ${length} bytes exceeds ${MAX_TLV_LENGTH}`);
}

/** One TLV with its value. */
export function tlv(tag: number, ...values: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const v of values) length += v.length;
  const head = [...tagBytes(tag), ...lengthBytes(length)];
  const out = new Uint8Array(head.length + length);
  out.set(head, 0);
  let at = head.length;
  for (const v of values) {
    out.set(v, at);
    at += v.length;
  }
  return out;
}

/**
 * Splits `data` into its top-level TLVs. Anything malformed (a tag or length
 * running past the end, a length form other than short/81/82) is a
 * CardError 6A80: for PIV that is "incorrect parameter in command data".
 */
export function parseTlvs(data: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  let at = 0;
  while (at < data.length) {
    let tag = data[at++];
    // Multi-byte tag: low five bits all set, then bytes with bit 8 set continue it.
    if ((tag & 0x1f) === 0x1f) {
      let more = true;
      for (let n = 0; more; n++) {
        if (at >= data.length || n === 2) throw new CardError(SW.WRONG_PARAMETERS_IN_DATA, "truncated tag");
        const b = data[at++];
        tag = (tag << 8) | b;
        more = (b & 0x80) !== 0;
      }
    }
    if (at >= data.length) throw new CardError(SW.WRONG_PARAMETERS_IN_DATA, "missing length");
    let length = data[at++];
    if (length === 0x81 || length === 0x82) {
      const n = length & 0x03;
      if (at + n > data.length) throw new CardError(SW.WRONG_PARAMETERS_IN_DATA, "truncated length");
      length = n === 1 ? data[at] : (data[at] << 8) | data[at + 1];
      at += n;
    } else if (length > 0x7f) {
      throw new CardError(SW.WRONG_PARAMETERS_IN_DATA, "unsupported length form");
    }
    if (at + length > data.length) throw new CardError(SW.WRONG_PARAMETERS_IN_DATA, "value runs past the data");
    out.push({ tag, value: data.subarray(at, at + length) });
    at += length;
  }
  return out;
}

/** The data as exactly one TLV with `tag`; otherwise CardError 6A80. */
export function parseSingle(data: Uint8Array, tag: number): Uint8Array {
  const items = parseTlvs(data);
  if (items.length !== 1 || items[0].tag !== tag) {
    throw new CardError(SW.WRONG_PARAMETERS_IN_DATA, `expected one ${tag.toString(16)} template`);
  }
  return items[0].value;
}
