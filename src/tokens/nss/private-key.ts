/**
 * Rebuilding an RSA private key from its key4.db object (reference
 * nss-db-and-qemu.md §A.1.2, §A.2.3, §A.2.4): the modulus and public exponent
 * are stored in the clear, the other six CRT values each as their own
 * encrypted blob, and each encrypted value has an integrity MAC in metaData.
 */
import { createPrivateKey } from "node:crypto";
import { toRsaPrivateKey, stripLeadingZeros, type RsaPrivateKey } from "../rsa-ring.js";
import { KeyStoreError } from "../types.js";
import { CKA, CKK_RSA, decodeStoredULong, type MetaDataItem, type NssObject } from "./attributes.js";
import { decryptNssData, NssPbeFormatError, parseEncryptedData, verifyNssMac } from "./pbe.js";

/** The encrypted RSA attributes and their JWK member names (RFC 7518 §6.3.2). */
const ENCRYPTED_RSA_PARTS: readonly { type: number; jwk: "d" | "p" | "q" | "dp" | "dq" | "qi" }[] = [
  { type: CKA.PRIVATE_EXPONENT, jwk: "d" },
  { type: CKA.PRIME_1, jwk: "p" },
  { type: CKA.PRIME_2, jwk: "q" },
  { type: CKA.EXPONENT_1, jwk: "dp" },
  { type: CKA.EXPONENT_2, jwk: "dq" },
  { type: CKA.COEFFICIENT, jwk: "qi" },
];

/**
 * MACs of encrypted attributes are computed with object id
 * CK_INVALID_HANDLE, although the row name carries the real id (§A.2.4).
 */
const MAC_OBJECT_ID_FOR_ENCRYPTED = 0;

/** metaData row name of an attribute's MAC: sig_key_<id %08x>_<type %08x> (§A.2.4). */
function macRowId(objectId: number, type: number): string {
  const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, "0");
  return `sig_key_${hex8(objectId)}_${hex8(type)}`;
}

/** True when the object is an RSA key (CKA_KEY_TYPE = CKK_RSA). */
export function isRsaKeyObject(key: NssObject): boolean {
  return decodeStoredULong(key.attributes.get(CKA.KEY_TYPE)) === CKK_RSA;
}

/**
 * Decrypts `key` with `passKey` (from a password that passed the check) and
 * returns it as a KeyObject. `where` names the key in messages. Throws
 * KeyStoreError: a value that does not decrypt, a missing or wrong MAC, or
 * inconsistent numbers mean a damaged DB (KEYSTORE_CORRUPT).
 */
export function decryptRsaKey(
  key: NssObject,
  passKey: Uint8Array,
  meta: ReadonlyMap<string, MetaDataItem>,
  where: string,
): RsaPrivateKey {
  const corrupt = (why: string) => new KeyStoreError("KEYSTORE_CORRUPT", `${where}: ${why}`);
  const n = key.attributes.get(CKA.MODULUS);
  const e = key.attributes.get(CKA.PUBLIC_EXPONENT);
  if (n === undefined || n.length === 0 || e === undefined || e.length === 0) throw corrupt("modulus or exponent missing");

  const jwk: Record<string, string> = { kty: "RSA", n: base64url(n), e: base64url(e) };
  const plain: Uint8Array[] = [];
  try {
    for (const part of ENCRYPTED_RSA_PARTS) {
      const value = decryptAttribute(key, part.type, passKey, meta, where);
      plain.push(value);
      jwk[part.jwk] = base64url(value);
    }
    // JWK import does not check that the numbers belong together; p·q = n
    // catches a damaged value that slipped past the checks above.
    if (bigOf(plain[1]) * bigOf(plain[2]) !== bigOf(n)) throw corrupt("the primes do not multiply to the modulus");
    let keyObject;
    try {
      keyObject = createPrivateKey({ key: jwk, format: "jwk" });
    } catch {
      throw corrupt("the decrypted values do not form an RSA key");
    }
    const rsa = toRsaPrivateKey(keyObject);
    if (rsa === null) throw corrupt("the decrypted values do not form an RSA key");
    return rsa;
  } finally {
    for (const p of plain) p.fill(0);
  }
}

function decryptAttribute(
  key: NssObject,
  type: number,
  passKey: Uint8Array,
  meta: ReadonlyMap<string, MetaDataItem>,
  where: string,
): Uint8Array {
  const label = `attribute 0x${type.toString(16)}`;
  const corrupt = (why: string) => new KeyStoreError("KEYSTORE_CORRUPT", `${where}: ${label} ${why}`);
  const blob = key.attributes.get(type);
  if (blob === undefined || blob.length === 0) throw corrupt("is missing");
  try {
    const encrypted = parseEncryptedData(blob);
    const value = decryptNssData(encrypted, passKey);
    if (value === null || value.length === 0) throw corrupt("does not decrypt");
    // NSS refuses an AES-encrypted value whose MAC is missing or wrong; the
    // legacy 3DES scheme predates the MACs (§A.2.4, §A.2.5).
    if (encrypted.scheme === "pbes2") {
      const mac = meta.get(macRowId(key.id, type))?.item1;
      if (mac === undefined) throw corrupt("has no integrity MAC");
      if (!verifyNssMac(mac, passKey, MAC_OBJECT_ID_FOR_ENCRYPTED, type, value)) throw corrupt("fails its integrity MAC");
    }
    return value;
  } catch (err) {
    if (err instanceof NssPbeFormatError) {
      const code = err.reason === "unsupported" ? "KEYSTORE_UNSUPPORTED" : "KEYSTORE_CORRUPT";
      throw new KeyStoreError(code, `${where}: ${label}: ${err.message}`);
    }
    throw err;
  }
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(stripLeadingZeros(bytes)).toString("base64url");
}

function bigOf(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt("0x" + Buffer.from(bytes).toString("hex"));
}
