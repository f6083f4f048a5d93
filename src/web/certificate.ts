/**
 * What the card needs from a certificate (RFC 5280 §4.1): its DER, the
 * subject as text and the public key's algorithm, plus the public key itself
 * to check the private key against.
 */
import { KeyStoreError, type KeyAlgorithm } from "../core/token/types.js";
import { DerError, TAG, bitString, children, oid, readDer, sequence, unsignedInteger } from "./der.js";
import { CURVE_OF_OID, OID_EC, OID_RSA, fileBlocks } from "./keys.js";
import { bytesToBigInt } from "./crypto/rsa-raw.js";

export type PublicKeyInfo =
  | { readonly kind: "rsa"; readonly n: bigint; readonly e: bigint }
  | { readonly kind: "ec"; readonly point: Uint8Array }
  | { readonly kind: "other" };

export interface ParsedCertificate {
  readonly der: Uint8Array;
  readonly subject: string;
  readonly algorithm: KeyAlgorithm;
  readonly publicKey: PublicKeyInfo;
}

/** Short names as OpenSSL prints them (X.520 attribute types, RFC 4519, RFC 2985 emailAddress). */
const ATTRIBUTE_NAMES: Readonly<Record<string, string>> = {
  "2.5.4.3": "CN",
  "2.5.4.4": "SN",
  "2.5.4.5": "serialNumber",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.9": "street",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.12": "title",
  "2.5.4.42": "GN",
  "0.9.2342.19200300.100.1.1": "UID",
  "0.9.2342.19200300.100.1.25": "DC",
  "1.2.840.113549.1.9.1": "emailAddress",
};

const BMP_STRING = 0x1e;

function attributeValue(tag: number, value: Uint8Array): string {
  if (tag === BMP_STRING) {
    let s = "";
    for (let i = 0; i + 1 < value.length; i += 2) s += String.fromCharCode((value[i] << 8) | value[i + 1]);
    return s;
  }
  // UTF8String, PrintableString, IA5String, T61String (taken as Latin-1-compatible UTF-8 here).
  return new TextDecoder().decode(value);
}

/** "CN=cert1, O=Example": the RDNs in DER order, as the Node stores print them. */
export function nameToText(name: Parameters<typeof sequence>[0]): string {
  const parts: string[] = [];
  for (const rdn of sequence(name)) {
    for (const atv of children(rdn)) {
      const [type, value] = sequence(atv, 2);
      const t = oid(type);
      parts.push(`${ATTRIBUTE_NAMES[t] ?? t}=${attributeValue(value.tag, value.value)}`);
    }
  }
  return parts.join(", ");
}

function publicKeyOf(spki: Parameters<typeof sequence>[0]): { algorithm: KeyAlgorithm; publicKey: PublicKeyInfo } {
  const [algorithm, key] = sequence(spki, 2);
  const [algOid, params] = sequence(algorithm, 1);
  const kind = oid(algOid);
  if (kind === OID_RSA) {
    const [n, e] = sequence(readDer(bitString(key)), 2).map((x) => bytesToBigInt(unsignedInteger(x)));
    return { algorithm: { kind: "rsa", bits: n.toString(2).length }, publicKey: { kind: "rsa", n, e } };
  }
  if (kind === OID_EC) {
    const curveOid = params?.tag === TAG.OID ? oid(params) : "(implicit)";
    const curve = CURVE_OF_OID[curveOid];
    if (curve === undefined) return { algorithm: { kind: "unsupported", name: `EC ${curveOid}` }, publicKey: { kind: "other" } };
    return { algorithm: { kind: "ec", curve }, publicKey: { kind: "ec", point: bitString(key) } };
  }
  return { algorithm: { kind: "unsupported", name: kind }, publicKey: { kind: "other" } };
}

/** Parses a certificate's DER; `source` names it in the KEYSTORE_CORRUPT message. */
export function parseCertificateDer(der: Uint8Array, source: string): ParsedCertificate {
  try {
    const [tbs] = sequence(readDer(der), 3);
    const fields = sequence(tbs, 6);
    // TBSCertificate: [0] version (optional), serial, signature, issuer, validity, subject, spki, ...
    const at = fields[0].tag === 0xa0 ? 1 : 0;
    const subject = nameToText(fields[at + 4]);
    return { der: Uint8Array.from(der), subject, ...publicKeyOf(fields[at + 5]) };
  } catch (e) {
    if (e instanceof DerError) throw new KeyStoreError("KEYSTORE_CORRUPT", `${source} is not a readable X.509 certificate (${e.message})`);
    throw e;
  }
}

/** The first certificate in a file (PEM or DER). */
export function readCertificateFile(bytes: Uint8Array, source: string): ParsedCertificate {
  const block = fileBlocks(bytes, "CERTIFICATE").find((b) => b.label === "CERTIFICATE");
  if (block === undefined) throw new KeyStoreError("KEYSTORE_CORRUPT", `${source} holds no certificate`);
  return parseCertificateDer(block.der, source);
}
