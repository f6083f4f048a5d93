/** Byte helpers shared by the codecs. Bytes are always Uint8Array. */
import { CacardError } from "./errors.js";

const HEX = "0123456789ABCDEF";
/** The two uppercase hex digits of every byte value: one lookup per byte. */
const BYTE_HEX: readonly string[] = Array.from({ length: 256 }, (_, b) => HEX[b >> 4] + HEX[b & 0x0f]);

/** Uppercase hex without separators, as the CLI and transcripts print it. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += BYTE_HEX[bytes[i]];
  return out;
}

export class HexFormatError extends CacardError {
  constructor(message: string) {
    super("CACARD_BAD_HEX", message);
  }
}

/**
 * Parses hex text. Spaces, tabs and colons between digits are allowed
 * ("00 A4:04 00"), as people paste APDUs from traces in many shapes.
 */
export function fromHex(text: string): Uint8Array {
  // One pass over the character codes (no regex, no substrings): `cacard
  // apdu` parses every line of its input with this.
  const out = new Uint8Array(text.length >> 1);
  let n = 0;
  let high = -1;
  let bad = false;
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = hexValue(c);
    if (v < 0) {
      if (isSeparator(c)) continue;
      bad = true;
      digits++;
      continue;
    }
    digits++;
    if (high < 0) high = v;
    else {
      out[n++] = (high << 4) | v;
      high = -1;
    }
  }
  if (digits % 2 !== 0) throw new HexFormatError("odd number of hex digits");
  if (bad) throw new HexFormatError("not a hex string");
  return n === out.length ? out : out.slice(0, n);
}

/** 0-15 for a hex digit's character code, -1 otherwise. */
function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30; // 0-9
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10; // a-f, A-F
  return -1;
}

/** Whitespace (as the regex \s had it for ASCII and the common Unicode spaces) and ':'. */
function isSeparator(c: number): boolean {
  return c === 0x3a || c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0xfeff || c === 0x2028 || c === 0x2029 || (c >= 0x2000 && c <= 0x200a) || c === 0x1680 || c === 0x202f || c === 0x205f || c === 0x3000;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** 16-bit little-endian, the byte order of every length inside CAC card data. */
export function u16le(n: number): Uint8Array {
  return Uint8Array.of(n & 0xff, (n >> 8) & 0xff);
}
