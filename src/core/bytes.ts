/** Byte helpers shared by the codecs. Bytes are always Uint8Array. */
import { CacardError } from "./errors.js";

const HEX = "0123456789ABCDEF";

/** Uppercase hex without separators, as the CLI and transcripts print it. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    out += HEX[b >> 4] + HEX[b & 0x0f];
  }
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
  const clean = text.replace(/[\s:]/g, "");
  if (clean.length % 2 !== 0) throw new HexFormatError("odd number of hex digits");
  if (!/^[0-9a-fA-F]*$/.test(clean)) throw new HexFormatError("not a hex string");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(i * 2, 2), 16);
  return out;
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
