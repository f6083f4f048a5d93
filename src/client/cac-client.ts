/**
 * A small host-side CAC client over any SmartCard: what OpenSC's CAC driver
 * does at the APDU level (61xx → GET RESPONSE, 6Cxx → resend with the exact
 * Le, READ BUFFER in chunks, SIGN/DECRYPT chaining). Used by `cacard demo`,
 * the benchmarks and the tests; it is not part of the card.
 */
import type { SmartCard } from "../core/card/reader.js";
import { AID } from "../core/cac/aids.js";
import { unzlibSync } from "fflate";
import { CertInfo, CertTag } from "../core/cac/pki.js";
import { headers, SimpleTlvError } from "../core/cac/simpletlv.js";
import { concatBytes } from "../core/bytes.js";
import { CacardError } from "../core/errors.js";

/** The card refused a command the client needed (its status word is in `sw`). */
export class CardStatusError extends CacardError {
  constructor(
    readonly sw: number,
    what: string,
  ) {
    super("CARD_STATUS", `${what} failed with SW ${sw.toString(16).toUpperCase().padStart(4, "0")}`);
  }
}

export type CacClientErrorCode =
  | "CAC_CLIENT_NO_CERTIFICATE" // a PKI object without a certificate (tag 70)
  | "CAC_CLIENT_BAD_COMPRESSION" // CertInfo says zlib, but tag 70 does not inflate
  | "CAC_CLIENT_SHORT_RESPONSE"; // a response without SW1 SW2

/** The card answered, but not in a shape a CAC host can use. */
export class CacClientError extends CacardError {
  declare readonly code: CacClientErrorCode;
  constructor(code: CacClientErrorCode, message: string) {
    super(code, message);
  }
}

export interface Reply {
  readonly data: Uint8Array;
  readonly sw: number;
}

/** OpenSC's chunk sizes (card-cac.c): READ BUFFER and SIGN/DECRYPT at most 240 bytes a command. */
const CHUNK = 240;

export function apdu(cla: number, ins: number, p1: number, p2: number, data?: Uint8Array, le?: number): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.of(cla, ins, p1, p2)];
  if (data && data.length > 0) parts.push(Uint8Array.of(data.length), data);
  if (le !== undefined) parts.push(Uint8Array.of(le & 0xff));
  return concatBytes(...parts);
}

export class CacClient {
  /** Count of APDUs sent, for the demo's annotations. */
  exchanges = 0;

  constructor(readonly card: SmartCard) {}

  /** Sends one APDU and follows 61xx / 6Cxx like a T=0 host does. */
  async transceive(command: Uint8Array): Promise<Reply> {
    let response = await this.#send(command);
    let sw = swOf(response);
    if (sw >> 8 === 0x6c) {
      const again = command.slice();
      again[again.length - 1] = sw & 0xff;
      response = await this.#send(again);
      sw = swOf(response);
    }
    const chunks: Uint8Array[] = [response.subarray(0, response.length - 2)];
    while (sw >> 8 === 0x61) {
      response = await this.#send(Uint8Array.of(0x00, 0xc0, 0x00, 0x00, sw & 0xff));
      sw = swOf(response);
      chunks.push(response.subarray(0, response.length - 2));
    }
    return { data: concatBytes(...chunks), sw };
  }

  #send(command: Uint8Array): Promise<Uint8Array> {
    this.exchanges++;
    return this.card.transmit(command);
  }

  async expectOk(command: Uint8Array, what: string): Promise<Uint8Array> {
    const reply = await this.transceive(command);
    if (reply.sw !== 0x9000) throw new CardStatusError(reply.sw, what);
    return reply.data;
  }

  select(aid: Uint8Array): Promise<Uint8Array> {
    return this.expectOk(apdu(0x00, 0xa4, 0x04, 0x00, aid), "SELECT");
  }

  getProperties(): Promise<Uint8Array> {
    return this.expectOk(apdu(0x80, 0x56, 0x01, 0x00, undefined, 0x00), "GET PROPERTIES");
  }

  /** Reads a whole CAC buffer (type 1 = tags, 2 = values) without its length prefix. */
  async readBuffer(type: 1 | 2): Promise<Uint8Array> {
    const head = await this.expectOk(apdu(0x80, 0x52, 0x00, 0x00, Uint8Array.of(type, 2), 2), "READ BUFFER");
    const length = head[0] | (head[1] << 8);
    const parts: Uint8Array[] = [];
    for (let offset = 2; offset < length + 2; offset += CHUNK) {
      const n = Math.min(CHUNK, length + 2 - offset);
      parts.push(await this.expectOk(apdu(0x80, 0x52, offset >> 8, offset & 0xff, Uint8Array.of(type, n), n), "READ BUFFER"));
    }
    return concatBytes(...parts);
  }

  /** VERIFY with the PIN padded with FF to 8 bytes, as OpenSC's CAC emulator sends it. */
  async verify(pin: Uint8Array): Promise<number> {
    const padded = new Uint8Array(Math.max(8, pin.length)).fill(0xff);
    padded.set(pin);
    const { sw } = await this.transceive(apdu(0x00, 0x20, 0x00, 0x00, padded));
    padded.fill(0);
    return sw;
  }

  /** Raw RSA on the selected PKI applet, chained in 240-byte pieces like OpenSC. */
  async rsaPrivate(input: Uint8Array): Promise<Uint8Array> {
    let offset = 0;
    while (input.length - offset > CHUNK) {
      await this.expectOk(apdu(0x80, 0x42, 0x80, 0x00, input.subarray(offset, offset + CHUNK)), "SIGN/DECRYPT");
      offset += CHUNK;
    }
    return this.expectOk(apdu(0x80, 0x42, 0x00, 0x00, input.subarray(offset)), "SIGN/DECRYPT");
  }

  /**
   * Selects PKI applet i and returns its certificate DER, inflated when its
   * CertInfo says zlib ((certinfo & 3) == 1, as OpenSC and CoolKey test it).
   */
  async readCertificate(index: number): Promise<Uint8Array> {
    await this.select(AID.pki(index));
    const tags = await this.readBuffer(1);
    const values = await this.readBuffer(2);
    const certificate = certificateFromBuffers(tags, values);
    if (certificate === null) {
      throw new CacClientError("CAC_CLIENT_NO_CERTIFICATE", `PKI ${index}: no certificate in the tag buffer`);
    }
    const info = memberFromBuffers(tags, values, CertTag.CERT_INFO);
    if (info === null || info.length === 0 || (info[0] & CERTINFO_ENCODING_MASK) !== CertInfo.ZLIB) return certificate;
    try {
      return unzlibSync(certificate);
    } catch (e) {
      throw new CacClientError("CAC_CLIENT_BAD_COMPRESSION", `PKI ${index}: CertInfo says zlib, but ${(e as Error).message}`);
    }
  }
}

/**
 * The certificate (tag 70) of a PKI object, found by walking its tag buffer
 * (SimpleTLV headers) alongside its value buffer; both without their length
 * prefix. Null when there is no tag 70 or the buffers disagree.
 */
export function certificateFromBuffers(tags: Uint8Array, values: Uint8Array): Uint8Array | null {
  return memberFromBuffers(tags, values, CertTag.CERTIFICATE);
}

/** CertInfo bits 0-1: the certificate's encoding. */
const CERTINFO_ENCODING_MASK = 0x03;

/** The value of the first member tagged `wanted`, or null (as certificateFromBuffers). */
export function memberFromBuffers(tags: Uint8Array, values: Uint8Array, wanted: number): Uint8Array | null {
  let v = 0;
  try {
    for (const { tag, length } of headers(tags)) {
      if (tag === wanted) return v + length <= values.length ? values.subarray(v, v + length) : null;
      v += length;
    }
  } catch (e) {
    // A damaged header before tag 70: no certificate, as for a buffer without one.
    if (e instanceof SimpleTlvError) return null;
    throw e;
  }
  return null;
}

function swOf(response: Uint8Array): number {
  if (response.length < 2) throw new CacClientError("CAC_CLIENT_SHORT_RESPONSE", "response shorter than a status word");
  return (response[response.length - 2] << 8) | response[response.length - 1];
}
