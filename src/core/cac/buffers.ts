/**
 * CAC object buffers (GSC-IS 2.1 "TLV buffers"): an object is kept as a tag
 * buffer (the concatenated SimpleTLV headers) and a value buffer (the
 * concatenated values). On the card each is a "file": a 2-byte little-endian
 * content length followed by the content (libcacard cac_create_file).
 */
import { concatBytes, u16le } from "../bytes.js";
import { header, type SimpleTlvItem } from "./simpletlv.js";

export interface ObjectFiles {
  /** Tag file, length prefix included (READ BUFFER type 01). */
  readonly tag: Uint8Array;
  /** Value file, length prefix included (READ BUFFER type 02). */
  readonly value: Uint8Array;
}

export function cacFile(content: Uint8Array): Uint8Array {
  return concatBytes(u16le(content.length), content);
}

/** Splits members into the tag and value files. */
export function objectFiles(members: readonly SimpleTlvItem[]): ObjectFiles {
  const tags = members.map((m) => header(m.tag, m.value.length));
  const values = members.map((m) => m.value);
  return { tag: cacFile(concatBytes(...tags)), value: cacFile(concatBytes(...values)) };
}

/** Both files empty: `00 00` (placeholder applets, soft passthrough applets). */
export const EMPTY_FILES: ObjectFiles = { tag: u16le(0), value: u16le(0) };
