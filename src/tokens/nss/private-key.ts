/**
 * Rebuilding an RSA private key from its key4.db object (NSS
 * lib/softoken/sftkdb.c and sftkpwd.c): the modulus and public exponent
 * are stored in the clear, the other six CRT values each as their own
 * encrypted blob, and each encrypted value has an integrity MAC in metaData.
 */
import { createPrivateKey, type KeyObject } from "node:crypto";
import type { EcCurve } from "../../core/token/types.js";
import { EC_FIELD_BYTES, stripLeadingZeros } from "../soft-key.js";
import { KeyStoreError } from "../../core/token/types.js";
import { CKA, CKK_EC, CKK_RSA, decodeStoredULong, type MetaDataItem, type NssObject } from "./attributes.js";
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
 * CK_INVALID_HANDLE, although the row name carries the real id (sftkpwd.c sftkdb_SignAttribute).
 */
const MAC_OBJECT_ID_FOR_ENCRYPTED = 0;

/** metaData row name of an attribute's MAC: sig_key_<id %08x>_<type %08x> (sftkpwd.c sftkdb_SignAttribute). */
function macRowId(objectId: number, type: number): string {
  const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, "0");
  return `sig_key_${hex8(objectId)}_${hex8(type)}`;
}

/** The key type of a key4.db object, for the types a card can use. */
export function keyObjectType(key: NssObject): "rsa" | "ec" | "other" {
  const type = decodeStoredULong(key.attributes.get(CKA.KEY_TYPE));
  return type === CKK_RSA ? "rsa" : type === CKK_EC ? "ec" : "other";
}

/** CKA_EC_PARAMS as the DER of a named curve's OID (RFC 5480 §2.1.1.1). */
const CURVE_OIDS: readonly { curve: EcCurve; der: Uint8Array }[] = [
  { curve: "P-256", der: Uint8Array.of(0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07) },
  { curve: "P-384", der: Uint8Array.of(0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22) },
];

/** The curve named by an EC key object's CKA_EC_PARAMS; undefined for any other. */
export function ecKeyCurve(key: NssObject): EcCurve | undefined {
  const params = key.attributes.get(CKA.EC_PARAMS);
  if (params === undefined) return undefined;
  return CURVE_OIDS.find((c) => c.der.length === params.length && c.der.every((b, i) => b === params[i]))?.curve;
}


/**
 * Decrypts an EC key's private value (CKA_VALUE) and pairs it with the
 * certificate's public point `point` (04 || X || Y), after checking that the
 * scalar gives that point: key4.db keeps no public value NSS insists on.
 */
export async function decryptEcKey(
  key: NssObject,
  curve: EcCurve,
  point: Uint8Array,
  passKey: Uint8Array,
  meta: ReadonlyMap<string, MetaDataItem>,
  where: string,
): Promise<KeyObject> {
  const corrupt = (why: string) => new KeyStoreError("KEYSTORE_CORRUPT", `${where}: ${why}`);
  const size = EC_FIELD_BYTES[curve];
  const value = await decryptAttribute(key, CKA.VALUE, passKey, meta, where);
  const scalar = new Uint8Array(size);
  try {
    const stripped = stripLeadingZeros(value);
    if (stripped.length > size) throw corrupt("the private value is longer than the curve's order");
    scalar.set(stripped, size - stripped.length);
    let derived: Uint8Array;
    try {
      // Loaded here, not at start: only an EC key's first use needs it.
      const { p256, p384 } = await import("@noble/curves/nist.js");
      derived = (curve === "P-256" ? p256 : p384).getPublicKey(scalar, false);
    } catch {
      throw corrupt("the private value is not a valid scalar");
    }
    if (derived.length !== point.length || !derived.every((b, i) => b === point[i])) {
      throw corrupt("does not match its certificate's public key");
    }
    const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64url");
    return createPrivateKey({
      key: { kty: "EC", crv: curve, x: b64(point.subarray(1, 1 + size)), y: b64(point.subarray(1 + size)), d: b64(scalar) },
      format: "jwk",
    });
  } finally {
    value.fill(0);
    scalar.fill(0);
  }
}

/**
 * Decrypts `key` with `passKey` (from a password that passed the check) and
 * returns it as a KeyObject. `where` names the key in messages. Throws
 * KeyStoreError: a value that does not decrypt, a missing or wrong MAC, or
 * inconsistent numbers mean a damaged DB (KEYSTORE_CORRUPT).
 */
export async function decryptRsaKey(
  key: NssObject,
  passKey: Uint8Array,
  meta: ReadonlyMap<string, MetaDataItem>,
  where: string,
): Promise<KeyObject> {
  const corrupt = (why: string) => new KeyStoreError("KEYSTORE_CORRUPT", `${where}: ${why}`);
  const n = key.attributes.get(CKA.MODULUS);
  const e = key.attributes.get(CKA.PUBLIC_EXPONENT);
  if (n === undefined || n.length === 0 || e === undefined || e.length === 0) throw corrupt("modulus or exponent missing");

  const jwk: Record<string, string> = { kty: "RSA", n: base64url(n), e: base64url(e) };
  const plain: Uint8Array[] = [];
  try {
    for (const part of ENCRYPTED_RSA_PARTS) {
      const value = await decryptAttribute(key, part.type, passKey, meta, where);
      plain.push(value);
      jwk[part.jwk] = base64url(value);
    }
    // JWK import does not check that the numbers belong together; p·q = n
    // catches a damaged value that slipped past the checks above.
    if (bigOf(plain[1]) * bigOf(plain[2]) !== bigOf(n)) throw corrupt("the primes do not multiply to the modulus");
    try {
      return createPrivateKey({ key: jwk, format: "jwk" });
    } catch {
      throw corrupt("the decrypted values do not form an RSA key");
    }
  } finally {
    for (const p of plain) p.fill(0);
  }
}

async function decryptAttribute(
  key: NssObject,
  type: number,
  passKey: Uint8Array,
  meta: ReadonlyMap<string, MetaDataItem>,
  where: string,
): Promise<Uint8Array> {
  const label = `attribute 0x${type.toString(16)}`;
  const corrupt = (why: string) => new KeyStoreError("KEYSTORE_CORRUPT", `${where}: ${label} ${why}`);
  const blob = key.attributes.get(type);
  if (blob === undefined || blob.length === 0) throw corrupt("is missing");
  try {
    const encrypted = parseEncryptedData(blob);
    const value = await decryptNssData(encrypted, passKey);
    if (value === null || value.length === 0) throw corrupt("does not decrypt");
    // NSS refuses an AES-encrypted value whose MAC is missing or wrong; the
    // legacy 3DES scheme predates the MACs (sftkpwd.c, lowpbe.c).
    if (encrypted.scheme === "pbes2") {
      const mac = meta.get(macRowId(key.id, type))?.item1;
      if (mac === undefined) throw corrupt("has no integrity MAC");
      if (!(await verifyNssMac(mac, passKey, MAC_OBJECT_ID_FOR_ENCRYPTED, type, value))) throw corrupt("fails its integrity MAC");
    }
    return value;
  } catch (err) {
    if (err instanceof NssPbeFormatError) {
      const code = err.code === "NSS_PBE_UNSUPPORTED" ? "KEYSTORE_UNSUPPORTED" : "KEYSTORE_CORRUPT";
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
