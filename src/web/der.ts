/**
 * A small DER reader (ITU-T X.690 §8 and §10) for what the page parses:
 * certificates, PKCS#8 keys and their PBES2 parameters. Definite lengths
 * only, every length checked against the bytes that are there. Kept apart
 * from asn1js so the page bundle stays small.
 */

/** One TLV: the tag byte (single-byte tags only), its value and the whole encoding. */
export interface DerNode {
  readonly tag: number;
  readonly value: Uint8Array;
  /** Tag, length and value together (a certificate's or a key's own bytes). */
  readonly raw: Uint8Array;
}

export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** The bytes are not the DER this reader expects. */
export class DerError extends Error {
  override readonly name = "DerError";
}

/** Reads the TLV at `at`; returns it and the offset after it. */
function readAt(data: Uint8Array, at: number): [DerNode, number] {
  const start = at;
  if (at + 2 > data.length) throw new DerError("truncated TLV header");
  const tag = data[at++];
  // High tag numbers (low five bits all set) never occur in what the page reads.
  if ((tag & 0x1f) === 0x1f) throw new DerError(`multi-byte tag ${tag.toString(16)}`);
  let length = data[at++];
  if (length === 0x80) throw new DerError("indefinite length is not DER");
  if (length > 0x80) {
    const n = length & 0x7f;
    if (n > 4 || at + n > data.length) throw new DerError("bad length field");
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + data[at++];
  }
  if (at + length > data.length) throw new DerError("value runs past the data");
  const node = { tag, value: data.subarray(at, at + length), raw: data.subarray(start, at + length) };
  return [node, at + length];
}

/** Exactly one TLV filling `data`. */
export function readDer(data: Uint8Array, tag?: number): DerNode {
  const [node, end] = readAt(data, 0);
  if (end !== data.length) throw new DerError("trailing bytes after the DER value");
  if (tag !== undefined) expectTag(node, tag);
  return node;
}

/** The TLVs inside a constructed value (SEQUENCE, SET, a context tag). */
export function children(node: DerNode): DerNode[] {
  const out: DerNode[] = [];
  for (let at = 0; at < node.value.length; ) {
    const [child, next] = readAt(node.value, at);
    out.push(child);
    at = next;
  }
  return out;
}

export function expectTag(node: DerNode, tag: number): DerNode {
  if (node.tag !== tag) throw new DerError(`expected tag ${tag.toString(16)}, found ${node.tag.toString(16)}`);
  return node;
}

/** SEQUENCE children, at least `min` of them. */
export function sequence(node: DerNode | undefined, min = 0): DerNode[] {
  if (node === undefined) throw new DerError("missing SEQUENCE");
  const items = children(expectTag(node, TAG.SEQUENCE));
  if (items.length < min) throw new DerError(`SEQUENCE of ${items.length} items, expected ${min} or more`);
  return items;
}

/** Dotted OID text (X.690 §8.19). */
export function oid(node: DerNode | undefined): string {
  if (node === undefined) throw new DerError("missing OBJECT IDENTIFIER");
  const v = expectTag(node, TAG.OID).value;
  if (v.length === 0) throw new DerError("empty OBJECT IDENTIFIER");
  const arcs: number[] = [];
  let acc = 0;
  for (const b of v) {
    acc = acc * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(acc);
      acc = 0;
    }
  }
  const first = arcs.shift() ?? 0;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...arcs].join(".");
}

/** An INTEGER's magnitude, leading zero bytes removed (the page only reads non-negative ones). */
export function unsignedInteger(node: DerNode | undefined): Uint8Array {
  if (node === undefined) throw new DerError("missing INTEGER");
  const v = expectTag(node, TAG.INTEGER).value;
  if (v.length === 0) throw new DerError("empty INTEGER");
  if (v[0] & 0x80) throw new DerError("negative INTEGER");
  let start = 0;
  while (start < v.length - 1 && v[start] === 0) start++;
  return v.subarray(start);
}

/** A small INTEGER as a number (iteration counts, versions). */
export function smallInteger(node: DerNode | undefined): number {
  const v = unsignedInteger(node);
  if (v.length > 6) throw new DerError("INTEGER too large");
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return n;
}

/** A BIT STRING's bytes (whole bytes only, as keys and signatures are). */
export function bitString(node: DerNode | undefined): Uint8Array {
  if (node === undefined) throw new DerError("missing BIT STRING");
  const v = expectTag(node, TAG.BIT_STRING).value;
  if (v.length === 0 || v[0] !== 0) throw new DerError("BIT STRING with unused bits");
  return v.subarray(1);
}

export function octetString(node: DerNode | undefined): Uint8Array {
  if (node === undefined) throw new DerError("missing OCTET STRING");
  return expectTag(node, TAG.OCTET_STRING).value;
}
