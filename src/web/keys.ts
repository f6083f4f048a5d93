/**
 * Key and certificate files as the user picks them: PEM (RFC 7468) or DER.
 * Private keys: PKCS#8 PrivateKeyInfo (RFC 5208), encrypted PKCS#8 (PBES2,
 * crypto/pbes2.ts), and the two OpenSSL "traditional" forms, PKCS#1
 * RSAPrivateKey (RFC 8017 A.1.2) and SEC1 ECPrivateKey (RFC 5915), when not
 * encrypted. Curves: P-256 and P-384, the ones a card key may be on.
 */
import { KeyStoreError, type EcCurve } from "../core/token/types.js";
import { DerError, TAG, children, octetString, oid, readDer, sequence, unsignedInteger } from "./der.js";
import { bytesToBigInt, type RsaPrivateComponents } from "./crypto/rsa-raw.js";
import { decryptPkcs8 } from "./crypto/pbes2.js";

export const OID_RSA = "1.2.840.113549.1.1.1";
export const OID_EC = "1.2.840.10045.2.1";
/** RFC 5480 §2.1.1.1 named curves. */
export const CURVE_OF_OID: Readonly<Record<string, EcCurve>> = {
  "1.2.840.10045.3.1.7": "P-256",
  "1.3.132.0.34": "P-384",
};
export const EC_FIELD_BYTES: Readonly<Record<EcCurve, number>> = { "P-256": 32, "P-384": 48 };

/** One PEM block: its label ("CERTIFICATE", "PRIVATE KEY", ...) and DER. */
export interface PemBlock {
  readonly label: string;
  readonly der: Uint8Array;
}

function base64ToBytes(text: string): Uint8Array {
  const bin = atob(text.replace(/\s+/g, ""));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Every PEM block in `text`, in order (RFC 7468 §2; explanatory text around them is skipped). */
export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    // Encapsulated headers (Proc-Type: 4,ENCRYPTED) mark OpenSSL's legacy encrypted keys.
    if (/^\s*[A-Za-z-]+:/m.test(m[2])) {
      throw new KeyStoreError("KEYSTORE_UNSUPPORTED", `a PEM ${m[1]} with headers (OpenSSL's legacy encryption): convert it with \`openssl pkcs8 -topk8\``);
    }
    try {
      out.push({ label: m[1], der: base64ToBytes(m[2]) });
    } catch {
      throw new KeyStoreError("KEYSTORE_CORRUPT", `the PEM ${m[1]} block is not base64`);
    }
  }
  return out;
}

/** A file's bytes as PEM blocks, or as one DER value labelled `derLabel` when it is not text. */
export function fileBlocks(bytes: Uint8Array, derLabel: string): PemBlock[] {
  if (bytes[0] === TAG.SEQUENCE) return [{ label: derLabel, der: bytes }];
  return pemBlocks(new TextDecoder().decode(bytes));
}

/** A private key the page can use. */
export type ParsedPrivateKey =
  | { readonly kind: "rsa"; readonly bits: number; readonly rsa: RsaPrivateComponents }
  | { readonly kind: "ec"; readonly curve: EcCurve; readonly d: Uint8Array };

/** A key file before its password: encrypted or not. */
export type KeyFile =
  | { readonly encrypted: false; readonly key: ParsedPrivateKey }
  | { readonly encrypted: true; readonly der: Uint8Array };

const int = (node: Parameters<typeof unsignedInteger>[0]) => bytesToBigInt(unsignedInteger(node));

function rsaPrivateKey(der: Uint8Array): ParsedPrivateKey {
  // RSAPrivateKey: version, n, e, d, p, q, dp, dq, qi (two-prime only).
  const f = sequence(readDer(der), 9);
  if (unsignedInteger(f[0])[0] !== 0) throw new KeyStoreError("KEYSTORE_UNSUPPORTED", "multi-prime RSA keys are not supported");
  const [n, e, d, p, q, dp, dq, qi] = f.slice(1, 9).map(int);
  return { kind: "rsa", bits: n.toString(2).length, rsa: { n, e, d, p, q, dp, dq, qi } };
}

function ecPrivateKey(der: Uint8Array, curveFromAlgorithm: string | null): ParsedPrivateKey {
  // ECPrivateKey: version 1, privateKey OCTET STRING, [0] parameters, [1] publicKey.
  const f = sequence(readDer(der), 2);
  const params = f.find((x) => x.tag === 0xa0);
  const curveOid = curveFromAlgorithm ?? (params ? oid(children(params)[0]) : null);
  const curve = curveOid === null ? undefined : CURVE_OF_OID[curveOid];
  if (curve === undefined) throw new KeyStoreError("KEYSTORE_UNSUPPORTED", `EC curve ${curveOid ?? "(none given)"} (P-256 and P-384 only)`);
  const raw = octetString(f[1]);
  const size = EC_FIELD_BYTES[curve];
  if (raw.length > size) throw new KeyStoreError("KEYSTORE_CORRUPT", `EC private key of ${raw.length} bytes on ${curve}`);
  const d = new Uint8Array(size);
  d.set(raw, size - raw.length);
  return { kind: "ec", curve, d };
}

/** A PrivateKeyInfo (RFC 5208 §5) to key components. */
export function parsePrivateKeyInfo(der: Uint8Array): ParsedPrivateKey {
  const [, algorithm, privateKey] = sequence(readDer(der), 3);
  const [algOid, params] = sequence(algorithm, 1);
  const kind = oid(algOid);
  if (kind === OID_RSA) return rsaPrivateKey(octetString(privateKey));
  if (kind === OID_EC) return ecPrivateKey(octetString(privateKey), params?.tag === TAG.OID ? oid(params) : null);
  throw new KeyStoreError("KEYSTORE_UNSUPPORTED", `key algorithm ${kind} (RSA and EC P-256/P-384 only)`);
}

/** Reads a key file (PEM or DER); `source` names it in errors. */
export function readKeyFile(bytes: Uint8Array, source: string): KeyFile {
  try {
    const block = fileBlocks(bytes, "PRIVATE KEY").find((b) => b.label.endsWith("PRIVATE KEY"));
    if (block === undefined) throw new KeyStoreError("KEYSTORE_CORRUPT", `${source} holds no private key`);
    switch (block.label) {
      case "PRIVATE KEY":
        // A DER file may be either; an EncryptedPrivateKeyInfo starts with an AlgorithmIdentifier SEQUENCE.
        if (sequence(readDer(block.der), 2)[0].tag === TAG.SEQUENCE) return { encrypted: true, der: block.der };
        return { encrypted: false, key: parsePrivateKeyInfo(block.der) };
      case "ENCRYPTED PRIVATE KEY":
        return { encrypted: true, der: block.der };
      case "RSA PRIVATE KEY":
        return { encrypted: false, key: rsaPrivateKey(block.der) };
      case "EC PRIVATE KEY":
        return { encrypted: false, key: ecPrivateKey(block.der, null) };
      default:
        throw new KeyStoreError("KEYSTORE_UNSUPPORTED", `${source}: a PEM "${block.label}" block`);
    }
  } catch (e) {
    if (e instanceof DerError) throw new KeyStoreError("KEYSTORE_CORRUPT", `${source} is not a readable private key (${e.message})`);
    if (e instanceof KeyStoreError && !e.message.startsWith(source)) throw new KeyStoreError(e.code, `${source}: ${e.message}`);
    throw e;
  }
}

/** The key in `file`, decrypting it with `password` when it is encrypted. */
export async function openKeyFile(file: KeyFile, password: Uint8Array | undefined, source: string): Promise<ParsedPrivateKey> {
  if (!file.encrypted) return file.key;
  if (password === undefined || password.length === 0) throw new KeyStoreError("KEYSTORE_BAD_PASSWORD", `${source} is encrypted: a password is needed`);
  const der = await decryptPkcs8(file.der, password, source);
  try {
    return parsePrivateKeyInfo(der);
  } catch (e) {
    if (e instanceof DerError) throw new KeyStoreError("KEYSTORE_CORRUPT", `${source}: the decrypted key is not readable (${e.message})`);
    throw e;
  }
}
