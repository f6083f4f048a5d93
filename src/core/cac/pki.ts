/**
 * PKI applet A0 00 00 00 79 01 0i, one per certificate (libcacard cac.c cac_applet_pki_process_apdu):
 * the certificate as a TLV object, and SIGN/DECRYPT (80 42), the raw RSA
 * private operation with optional P1=80 chaining.
 */
import type { CommandApdu } from "../iso7816/apdu.js";
import { CardError } from "../iso7816/card-error.js";
import { INS } from "../iso7816/ins.js";
import { SW, type StatusWord } from "../iso7816/status.js";
import type { CertificateCompressor } from "./certificate-compression.js";
import { concatBytes } from "../bytes.js";
import { ok, type AppletAnswer, type AppletResponse, type CardServices } from "../card/applet.js";
import { KeyOperationError, rsaBits, type KeyAlgorithm, type KeyOperationErrorCode } from "../token/types.js";
import { AID } from "./aids.js";
import { objectFiles, type ObjectFiles } from "./buffers.js";
import { ReadableCacApplet } from "./cac-applet.js";
import {
  APPLET_VERSION_COMMON,
  PropTag,
  UNKNOWN_26,
  appletInformation,
  bufferPropertiesOf,
  numberOfObjects,
  object,
  objectId,
  pkiProperties,
  propertyLists,
  type PropertyLists,
} from "./properties.js";

/**
 * CertInfo (tag 71), bits 0-1: the certificate's encoding. 00 is plain DER,
 * what libcacard always serves; 01 is zlib (RFC 1950), what issued CACs
 * carry. OpenSC and CoolKey inflate when (certinfo & 3) == 1.
 */
export const CertInfo = { UNCOMPRESSED: 0x00, ZLIB: 0x01 } as const;
/** PKI object tags (libcacard cac.h CAC_PKI_TAG_*); the host-side client finds the certificate by tag 70 too. */
export const CertTag = { CERT_INFO: 0x71, CERTIFICATE: 0x70, MSCUID: 0x72, ERROR_DETECTION: 0xfe } as const;

/** SIGN/DECRYPT P1: 80 = more data follows, 00 = last (or only) block. */
const SIGN_MORE = 0x80;
const SIGN_LAST = 0x00;
/**
 * Cap on the chained SIGN/DECRYPT input. Only a total equal to the modulus
 * length (512 bytes for RSA-4096) is usable; libcacard buffers without limit,
 * so a guest could grow host memory by chaining forever. Past the cap the
 * chain is dropped with 6984, which libcacard would answer at the final block
 * anyway. Real clients never come near it.
 */
export const MAX_SIGN_BUFFER = 65536;

export interface PkiCredential {
  readonly certificate: Uint8Array;
  readonly algorithm: KeyAlgorithm;
}

export interface PkiAppletOptions {
  /**
   * Serve the certificate zlib-compressed with CertInfo 01, as issued CACs
   * do (CoolKey reads nothing else). Default false: plain DER with CertInfo
   * 00, byte for byte what libcacard serves.
   */
  readonly compressCertificate?: CertificateCompressor | null;
}

/** The CertInfo byte and the tag 70 value for a certificate. */
export function certificateObject(der: Uint8Array, compress: CertificateCompressor | null): { certInfo: number; value: Uint8Array } {
  return compress
    ? { certInfo: CertInfo.ZLIB, value: compress(der) }
    : { certInfo: CertInfo.UNCOMPRESSED, value: der };
}

export class PkiApplet extends ReadableCacApplet {
  readonly properties: PropertyLists;
  readonly #files: ObjectFiles;
  #signBuffer: Uint8Array[] = [];
  #signLength = 0;

  constructor(
    readonly index: number,
    credential: PkiCredential,
    options: PkiAppletOptions = {},
  ) {
    const oid = Uint8Array.of(0x01, index);
    super({ aid: AID.pki(index), name: `PKI ${index}`, objectIds: [oid] });
    this.updateBufferSw = SW.CONDITION_NOT_SATISFIED;
    const stored = certificateObject(credential.certificate, options.compressCertificate ?? null);
    this.#files = objectFiles([
      { tag: CertTag.CERT_INFO, value: Uint8Array.of(stored.certInfo) },
      { tag: CertTag.CERTIFICATE, value: stored.value },
      { tag: CertTag.MSCUID, value: new Uint8Array(0) },
      { tag: CertTag.ERROR_DETECTION, value: new Uint8Array(0) },
    ]);
    // The PKI object is 0x14 bytes, 26 01 01 included (libcacard quirk; OpenSC
    // skips objects that are not 17 bytes and uses the CCC instead).
    this.properties = propertyLists(
      [
        appletInformation(APPLET_VERSION_COMMON),
        numberOfObjects(1),
        object(
          PropTag.PKI_OBJECT,
          objectId(oid),
          bufferPropertiesOf(this.#files),
          pkiProperties(rsaBits(credential.algorithm)),
          UNKNOWN_26,
        ),
      ],
      true,
    );
  }

  protected files(): ObjectFiles {
    return this.#files;
  }

  onSelect(): void {
    this.#clearSignBuffer();
  }

  protected override processOther(apdu: CommandApdu, card: CardServices): AppletAnswer {
    if (apdu.ins === INS.SIGN_DECRYPT) return this.#signDecrypt(apdu, card);
    return super.processOther(apdu, card);
  }

  #clearSignBuffer(): void {
    this.#signBuffer = [];
    this.#signLength = 0;
  }

  #signDecrypt(apdu: CommandApdu, card: CardServices): AppletAnswer {
    if (apdu.p2 !== 0) throw new CardError(SW.P1_P2_INCORRECT); // buffer left as is
    if (apdu.p1 === SIGN_MORE) {
      if (this.#signLength + apdu.data.length > MAX_SIGN_BUFFER) {
        this.#clearSignBuffer();
        throw new CardError(SW.DATA_INVALID, "chained input too long");
      }
      // Copy: the APDU bytes belong to the caller.
      this.#signBuffer.push(apdu.data.slice());
      this.#signLength += apdu.data.length;
      return ok(new Uint8Array(0));
    }
    const input = concatBytes(...this.#signBuffer, apdu.data);
    this.#clearSignBuffer();
    if (apdu.p1 !== SIGN_LAST) throw new CardError(SW.P1_P2_INCORRECT);
    return this.#rsaPrivate(card, input);
  }

  /**
   * The raw RSA private operation (libcacard vcard_emul_rsa_op): 6985 when
   * not logged in or there is no RSA key, 6984 when the input is not exactly
   * the modulus length or not below the modulus.
   */
  async #rsaPrivate(card: CardServices, input: Uint8Array): Promise<AppletResponse> {
    const key = await card.privateKey(this.index);
    const bits = rsaBits(key.algorithm);
    if (bits === 0 || key.rsaRaw === undefined) throw new CardError(SW.CONDITION_NOT_SATISFIED, "not an RSA key");
    if (input.length !== Math.ceil(bits / 8)) throw new CardError(SW.DATA_INVALID, "input is not the modulus length");
    try {
      return ok(await key.rsaRaw(input));
    } catch (e) {
      if (e instanceof KeyOperationError) throw new CardError(KEY_ERROR_SW[e.code], e.message);
      throw e;
    }
  }
}

/** libcacard vcard_emul_map_error: what SIGN/DECRYPT answers for each key failure. */
const KEY_ERROR_SW: Readonly<Record<KeyOperationErrorCode, StatusWord>> = {
  KEY_OPERATION_INPUT: SW.DATA_INVALID,
  KEY_NOT_LOGGED_IN: SW.CONDITION_NOT_SATISFIED,
  KEY_OUT_OF_MEMORY: SW.EXC_ERROR_MEMORY_FAILURE,
  KEY_OPERATION_FAILED: SW.EXC_ERROR_CHANGE,
};
