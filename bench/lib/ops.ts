/**
 * The benchmarked operations, as plain hex APDU lists that both sides
 * (cacard's VirtualCard.transmit and libcacard's vreader_xfr_bytes) run
 * unchanged. Lists that depend on the card (certificate length, the number
 * of GET RESPONSEs of a signature) are worked out once by talking to a
 * cacard card; the libcacard side then checks that it answers them with the
 * same bytes (bench/run.ts compares the replies).
 */
import { pkcs1SignatureBlock, sha256DigestInfo } from "../../src/client/pkcs1.js";
import type { SmartCard } from "../../src/core/card/reader.js";
import { fromHex, toHex } from "../../src/core/bytes.js";

export interface Op {
  /** Short id without spaces (also the libcacard op name). */
  readonly id: string;
  /** What the table shows. */
  readonly name: string;
  /** "apdu" = non-crypto (target: >= 1.5x libcacard); "sign" = RSA private-key operation. */
  readonly kind: "apdu" | "sign";
  readonly bits?: number;
  /** Sent once after power-on, before the timed loop. */
  readonly setup: string[];
  /** One iteration = one logical operation. */
  readonly apdus: string[];
}

/** OpenSC's chunk size for READ BUFFER and chained SIGN (card-cac.c). */
export const CHUNK = 240;

export function pkiAid(index: number): string {
  return `A00000007901${index.toString(16).padStart(2, "0").toUpperCase()}`;
}

export function selectPki(index: number): string {
  return `00A4040007${pkiAid(index)}00`;
}

const h2 = (n: number) => n.toString(16).padStart(2, "0").toUpperCase();

function sw(response: Uint8Array): number {
  return (response[response.length - 2] << 8) | response[response.length - 1];
}

function send(card: SmartCard, hex: string): Promise<Uint8Array> {
  return card.transmit(fromHex(hex));
}

/** READ BUFFER of one buffer: the 2-byte little-endian length, then 240-byte chunks. */
async function readBufferApdus(card: SmartCard, type: 1 | 2): Promise<string[]> {
  const lengthApdu = `8052000002${h2(type)}0202`;
  const r = await send(card, lengthApdu);
  if (sw(r) !== 0x9000 || r.length !== 4) throw new Error(`READ BUFFER length of buffer ${type}: ${toHex(r)}`);
  const total = 2 + (r[0] | (r[1] << 8));
  const out = [lengthApdu];
  for (let off = 2; off < total; off += CHUNK) {
    const n = Math.min(CHUNK, total - off);
    out.push(`8052${h2(off >> 8)}${h2(off & 0xff)}02${h2(type)}${h2(n)}${h2(n)}`);
  }
  return out;
}

/** The whole certificate of PKI applet `index`, as OpenSC reads it: tag buffer, then value buffer. */
export async function readCertificateOp(card: SmartCard, index: number): Promise<Op> {
  await card.powerOn();
  await send(card, selectPki(index));
  const apdus = [...(await readBufferApdus(card, 1)), ...(await readBufferApdus(card, 2))];
  return {
    id: `read-cert${index}`,
    name: `READ BUFFER, whole certificate ${index + 1} (${apdus.length} APDUs)`,
    kind: "apdu",
    setup: [selectPki(index)],
    apdus,
  };
}

/** A PKCS#1 v1.5 SHA-256 signature block of `bytes` bytes (what OpenSC sends for SHA256-RSA-PKCS). */
export function pkcs1Block(bytes: number): Uint8Array {
  return pkcs1SignatureBlock(sha256DigestInfo(new Uint8Array(32).fill(0x5a)), bytes);
}

/**
 * SIGN with PKI applet `index` through the APDU interface: 240-byte chunks
 * with P1=80, the final chunk with P1=00, then GET RESPONSE while the card
 * says 61xx. Checks that the result is a signature of the modulus length.
 */
export async function signOp(card: SmartCard, index: number, bits: number): Promise<Op> {
  const block = pkcs1Block(bits / 8);
  const apdus: string[] = [];
  for (let off = 0; off < block.length; off += CHUNK) {
    const chunk = block.subarray(off, Math.min(block.length, off + CHUNK));
    const last = off + CHUNK >= block.length;
    apdus.push(`8042${last ? "00" : "80"}00${h2(chunk.length)}${toHex(chunk)}`);
  }
  await card.powerOn();
  await send(card, selectPki(index));
  let r: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < apdus.length; i++) {
    r = await send(card, apdus[i]);
    if (i < apdus.length - 1 && sw(r) !== 0x9000) throw new Error(`SIGN chunk answered ${toHex(r)}`);
  }
  let got = r.length - 2;
  while (sw(r) >> 8 === 0x61) {
    const gr = `00C00000${h2(sw(r) & 0xff)}`;
    apdus.push(gr);
    r = await send(card, gr);
    got += r.length - 2;
  }
  if (sw(r) !== 0x9000 || got !== bits / 8) {
    throw new Error(`SIGN RSA-${bits} with PKI ${index} did not sign (last reply ${toHex(r.subarray(r.length - 2))}, ${got} bytes)`);
  }
  const n = apdus.length;
  return {
    id: `sign${bits}`,
    name: `SIGN RSA-${bits} (${Math.ceil(block.length / CHUNK)} chained + ${n - Math.ceil(block.length / CHUNK)} GET RESPONSE)`,
    kind: "sign",
    bits,
    setup: [selectPki(index)],
    apdus,
  };
}

/** The non-crypto operations, worked out on `card` (the sample database's card). */
export async function apduOps(card: SmartCard): Promise<Op[]> {
  return [
    { id: "select", name: "SELECT PKI applet", kind: "apdu", setup: [], apdus: [selectPki(0)] },
    { id: "get-properties", name: "GET PROPERTIES (PKI 0)", kind: "apdu", setup: [selectPki(0)], apdus: ["8056010000"] },
    await readCertificateOp(card, 0),
    { id: "verify", name: "VERIFY (PIN 12345678)", kind: "apdu", setup: [], apdus: ["00200000083132333435363738"] },
  ];
}
