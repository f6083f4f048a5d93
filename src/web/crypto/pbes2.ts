/**
 * Encrypted PKCS#8 (RFC 5958 §3 EncryptedPrivateKeyInfo) with PBES2 (RFC 8018
 * §6.2): PBKDF2 (§5.2) with HMAC-SHA-1/256/384/512, then AES-128/256-CBC
 * (RFC 8018 B.2.5), all through Web Crypto. That is what `openssl pkcs8
 * -topk8` and OpenSSL 3's PEM writers produce by default.
 *
 * Not here, because Web Crypto has none of them: scrypt (`-scrypt`), the
 * PKCS#12 PBEs (3DES, RC2: `-v1`), and AES-192 (Chromium refuses 192-bit AES
 * keys). Those files are refused with KEYSTORE_UNSUPPORTED and a way out.
 */
import { KeyStoreError } from "../../core/token/types.js";
import { DerError, TAG, octetString, oid, readDer, sequence, smallInteger } from "../der.js";

const OID_PBES2 = "1.2.840.113549.1.5.13";
const OID_PBKDF2 = "1.2.840.113549.1.5.12";
/** RFC 8018 B.1.1/B.1.2 PRF identifiers to Web Crypto hash names. */
const PRF: Readonly<Record<string, string>> = {
  "1.2.840.113549.2.7": "SHA-1",
  "1.2.840.113549.2.9": "SHA-256",
  "1.2.840.113549.2.10": "SHA-384",
  "1.2.840.113549.2.11": "SHA-512",
};
/** RFC 8018 B.2.5 (NIST AES-CBC OIDs) to key bits. */
const AES_CBC: Readonly<Record<string, number>> = {
  "2.16.840.1.101.3.4.1.2": 128,
  "2.16.840.1.101.3.4.1.42": 256,
};
/** Refuse absurd iteration counts from a file before spending minutes on them. */
export const MAX_PBKDF2_ITERATIONS = 10_000_000;

const REEXPORT = "re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc` or load it unencrypted";

interface Pbes2Params {
  readonly salt: Uint8Array;
  readonly iterations: number;
  readonly hash: string;
  readonly bits: number;
  readonly iv: Uint8Array;
  readonly ciphertext: Uint8Array;
}

function parse(der: Uint8Array, source: string): Pbes2Params {
  try {
    const [alg, data] = sequence(readDer(der), 2);
    const [algOid, params] = sequence(alg, 2);
    const scheme = oid(algOid);
    if (scheme !== OID_PBES2) {
      throw new KeyStoreError("KEYSTORE_UNSUPPORTED", `${source}: encryption ${scheme} is not PBES2; ${REEXPORT}`);
    }
    const [kdf, enc] = sequence(params, 2);
    const [kdfOid, kdfParams] = sequence(kdf, 2);
    if (oid(kdfOid) !== OID_PBKDF2) {
      throw new KeyStoreError("KEYSTORE_UNSUPPORTED", `${source}: key derivation ${oid(kdfOid)} (scrypt?) is not PBKDF2; ${REEXPORT}`);
    }
    const fields = sequence(kdfParams, 2);
    // PBKDF2-params: salt, iterationCount, keyLength OPTIONAL, prf DEFAULT hmacWithSHA1.
    const prf = fields.slice(2).find((f) => f.tag === TAG.SEQUENCE);
    const prfOid = prf ? oid(sequence(prf, 1)[0]) : "1.2.840.113549.2.7";
    const [encOid, iv] = sequence(enc, 2);
    const hash = PRF[prfOid];
    const bits = AES_CBC[oid(encOid)];
    if (hash === undefined) throw new KeyStoreError("KEYSTORE_UNSUPPORTED", `${source}: PBKDF2 PRF ${prfOid} not supported`);
    if (bits === undefined) {
      throw new KeyStoreError("KEYSTORE_UNSUPPORTED", `${source}: cipher ${oid(encOid)} not supported here (AES-128/256-CBC only); ${REEXPORT}`);
    }
    const iterations = smallInteger(fields[1]);
    if (iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS) {
      throw new KeyStoreError("KEYSTORE_CORRUPT", `${source}: PBKDF2 iteration count ${iterations}`);
    }
    return { salt: octetString(fields[0]), iterations, hash, bits, iv: octetString(iv), ciphertext: octetString(data) };
  } catch (e) {
    if (e instanceof DerError) throw new KeyStoreError("KEYSTORE_CORRUPT", `${source}: not an EncryptedPrivateKeyInfo (${e.message})`);
    throw e;
  }
}

/**
 * Decrypts an EncryptedPrivateKeyInfo to its PrivateKeyInfo DER. `password`
 * is taken as the bytes given (RFC 8018 §3: an octet string; OpenSSL uses
 * the UTF-8 bytes). A wrong password is KEYSTORE_BAD_PASSWORD.
 */
export async function decryptPkcs8(der: Uint8Array, password: Uint8Array, source = "key"): Promise<Uint8Array> {
  const p = parse(der, source);
  // Web Crypto takes ArrayBuffer-backed views; slice() gives fresh ones.
  const subtle = globalThis.crypto.subtle;
  const base = await subtle.importKey("raw", password.slice(), "PBKDF2", false, ["deriveKey"]);
  const key = await subtle.deriveKey(
    { name: "PBKDF2", salt: p.salt.slice(), iterations: p.iterations, hash: p.hash },
    base,
    { name: "AES-CBC", length: p.bits },
    false,
    ["decrypt"],
  );
  let plain: Uint8Array;
  try {
    // Web Crypto checks and strips the PKCS#7 padding; a wrong password almost always breaks it.
    plain = new Uint8Array(await subtle.decrypt({ name: "AES-CBC", iv: p.iv.slice() }, key, p.ciphertext.slice()));
  } catch {
    throw new KeyStoreError("KEYSTORE_BAD_PASSWORD", `${source}: wrong password`);
  }
  // The 1-in-256 padding that survives a wrong password leaves garbage, not a SEQUENCE.
  try {
    sequence(readDer(plain), 3);
  } catch {
    throw new KeyStoreError("KEYSTORE_BAD_PASSWORD", `${source}: wrong password`);
  }
  return plain;
}
