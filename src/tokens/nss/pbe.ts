/**
 * Password-based encryption of NSS key4.db values (NSS
 * lib/softoken/sftkpwd.c and lowpbe.c). Every encrypted attribute, and the password
 * check, is a DER `SEQUENCE { AlgorithmIdentifier, OCTET STRING }`
 * (SFTKDBEncryptedDataInfo) whose algorithm is one of:
 *
 * - PBES2 = PBKDF2 (HMAC-SHA-1/256/384/512) + AES-CBC, written by NSS ≥ 3.49;
 * - the NSS "PKCS#12 v0" PBE with SHA-1 and 3DES-CBC, written before 3.49 (lowpbe.c).
 *
 * The PBKDF2 "password" is NOT the user's password but passKey, its hash with
 * the DB's global salt (see password.ts). Integrity MACs (PBMAC1) are checked
 * by `verifyNssMac`. DER is parsed with asn1js; crypto is node:crypto.
 *
 * pkijs has classes for these structures, but loading it costs ~30 ms of
 * start-up on every card start (it is a 1 MB bundle) for three two-to-four
 * field SEQUENCEs; walking asn1js's tree with type checks is as strict.
 */
import { createDecipheriv, createHash, createHmac, pbkdf2, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import { CacardError } from "../../core/errors.js";
import * as asn1js from "asn1js";

/** Object identifiers (PKCS#5 v2.1 / RFC 8018, NIST, and NSS's legacy PBE). */
const OID = {
  PBES2: "1.2.840.113549.1.5.13",
  PBKDF2: "1.2.840.113549.1.5.12",
  PBMAC1: "1.2.840.113549.1.5.14",
  /** SEC_OID_PKCS12_PBE_WITH_SHA1_AND_TRIPLE_DES_CBC, NSS < 3.49 (lowpbe.c). */
  PKCS12_V0_SHA1_3DES: "1.2.840.113549.1.12.5.1.3",
} as const;

/** PBKDF2 PRFs and PBMAC1 MAC schemes → node digest name. RFC 8018 B.1.1 default is HMAC-SHA-1. */
const HMAC_DIGESTS: ReadonlyMap<string, string> = new Map([
  ["1.2.840.113549.2.7", "sha1"],
  ["1.2.840.113549.2.9", "sha256"],
  ["1.2.840.113549.2.10", "sha384"],
  ["1.2.840.113549.2.11", "sha512"],
]);
const DEFAULT_PRF_DIGEST = "sha1";

/** AES-CBC encryption schemes → node cipher name and key length. */
const AES_CBC: ReadonlyMap<string, { cipher: string; keyBytes: number }> = new Map([
  ["2.16.840.1.101.3.4.1.2", { cipher: "aes-128-cbc", keyBytes: 16 }],
  ["2.16.840.1.101.3.4.1.22", { cipher: "aes-192-cbc", keyBytes: 24 }],
  ["2.16.840.1.101.3.4.1.42", { cipher: "aes-256-cbc", keyBytes: 32 }],
]);
const AES_BLOCK_BYTES = 16;

/**
 * NSS refuses larger iteration counts (lowpbe.c MAX_ITERATION_COUNT, non-FIPS
 * build, lowpbe.c); we do the same so a damaged count cannot stall the card.
 */
export const MAX_PBE_ITERATIONS = 100_000_000;

/** Legacy 3DES PBE: 24-byte key from k[0:24], IV from k[32:40] of the 40-byte k (lowpbe.c). */
const TDES_KEY_BYTES = 24;
const TDES_IV_OFFSET = 32;
const TDES_IV_BYTES = 8;
const TDES_BLOCK_BYTES = 8;
const SHA1_BYTES = 20;

/** A structure we cannot use: `unsupported` (unknown algorithm) or `malformed` DER. */
export class NssPbeFormatError extends CacardError {
  declare readonly code: NssPbeFormatErrorCode;
  constructor(reason: "unsupported" | "malformed", message: string) {
    super(reason === "unsupported" ? "NSS_PBE_UNSUPPORTED" : "NSS_PBE_MALFORMED", message);
  }
}

export type NssPbeFormatErrorCode = "NSS_PBE_UNSUPPORTED" | "NSS_PBE_MALFORMED";

/**
 * PBKDF2 on libuv's thread pool: tens of thousands of HMAC rounds per key
 * value must not stall the other cards of the process.
 */
const pbkdf2Async = promisify(pbkdf2);

/** PBKDF2 parameters (RFC 8018 A.2). */
interface Pbkdf2 {
  readonly salt: Uint8Array;
  readonly iterations: number;
  /** 0 when the DER leaves it out (then the cipher's key length is used). */
  readonly keyLength: number;
  readonly digest: string;
}

/** A parsed SFTKDBEncryptedDataInfo. */
export type NssEncryptedData =
  | {
      readonly scheme: "pbes2";
      readonly kdf: Pbkdf2;
      readonly cipher: string;
      readonly keyBytes: number;
      readonly iv: Uint8Array;
      readonly ciphertext: Uint8Array;
    }
  | {
      readonly scheme: "pkcs12-v0-3des";
      readonly salt: Uint8Array;
      readonly iterations: number;
      readonly ciphertext: Uint8Array;
    };

/** Parses an SFTKDBEncryptedDataInfo (sftkpwd.c). Throws NssPbeFormatError. */
export function parseEncryptedData(der: Uint8Array): NssEncryptedData {
  return totalParse(() => {
    const { algorithm, data } = parseAlgorithmAndOctets(der);
    return parseEncryptedAlgorithm(algorithm, data);
  });
}

/**
 * asn1js throws its own errors (a RangeError on some truncated lengths) from
 * deep inside; a damaged key4.db must still come out as one malformed-value
 * error that the store turns into a message naming the file.
 */
function totalParse<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof NssPbeFormatError) throw e;
    throw new NssPbeFormatError("malformed", `encrypted value is not valid DER (${(e as Error)?.message ?? e})`);
  }
}

function parseEncryptedAlgorithm(algorithm: Algorithm, data: Uint8Array): NssEncryptedData {
  switch (algorithm.oid) {
    case OID.PBES2:
      return parsePbes2(algorithm, data);
    case OID.PKCS12_V0_SHA1_3DES:
      return parseLegacy3des(algorithm, data);
    default:
      throw new NssPbeFormatError("unsupported", `unsupported encryption algorithm ${algorithm.oid}`);
  }
}

/**
 * Decrypts with `passKey`. Returns null when the key is wrong (bad padding),
 * which is how a wrong password normally shows (sftkpwd.c sftkdb_CheckPassword).
 */
export async function decryptNssData(data: NssEncryptedData, passKey: Uint8Array): Promise<Uint8Array | null> {
  return data.scheme === "pbes2" ? decryptPbes2(data, passKey) : decryptLegacy3des(data, passKey);
}

/**
 * Checks an integrity MAC row (sftkpwd.c sftkdb_SignAttribute): PBMAC1 { PBKDF2, HMAC } over
 * BE32(objectId) || BE32(attributeType) || value. Throws NssPbeFormatError on
 * an unreadable MAC; returns false when it does not match.
 */
export async function verifyNssMac(
  macDer: Uint8Array,
  passKey: Uint8Array,
  objectId: number,
  attributeType: number,
  value: Uint8Array,
): Promise<boolean> {
  const { expected, kdf, macNode } = totalParse(() => {
    const { algorithm, data } = parseAlgorithmAndOctets(macDer);
    if (algorithm.oid !== OID.PBMAC1) {
      throw new NssPbeFormatError("unsupported", `unsupported MAC algorithm ${algorithm.oid}`);
    }
    // PBMAC1-params is SEQUENCE { keyDerivationFunc, messageAuthScheme }: the
    // same shape as PBES2-params (RFC 8018 A.5).
    const [kdfNode, node] = algorithmPair(algorithm.params, "PBMAC1 parameters");
    return { expected: data, kdf: parsePbkdf2(kdfNode), macNode: node };
  });
  const macDigest = HMAC_DIGESTS.get(macNode.oid);
  if (macDigest === undefined) {
    throw new NssPbeFormatError("unsupported", `unsupported MAC scheme ${macNode.oid}`);
  }
  const macKeyBytes = kdf.keyLength > 0 ? kdf.keyLength : createHash(macDigest).digest().length;
  const macKey = await pbkdf2Async(passKey, kdf.salt, kdf.iterations, macKeyBytes, kdf.digest);
  const header = new Uint8Array(8);
  const view = new DataView(header.buffer);
  view.setUint32(0, objectId >>> 0, false);
  view.setUint32(4, attributeType >>> 0, false);
  const actual = createHmac(macDigest, macKey).update(header).update(value).digest();
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

// ---------------------------------------------------------------------------

/** An AlgorithmIdentifier (RFC 5280 4.1.1.2): OID and the optional parameters as parsed. */
interface Algorithm {
  readonly oid: string;
  readonly params: asn1js.AsnType | undefined;
}

function malformed(what: string): NssPbeFormatError {
  return new NssPbeFormatError("malformed", `unreadable ${what}`);
}

/** The children of a SEQUENCE with `min`..`max` elements, or a format error naming `what`. */
function sequence(node: unknown, min: number, max: number, what: string): asn1js.AsnType[] {
  if (!(node instanceof asn1js.Sequence)) throw malformed(what);
  const items = node.valueBlock.value;
  if (items.length < min || items.length > max) throw malformed(what);
  return items;
}

/** SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }. */
function algorithmIdentifier(node: unknown, what: string): Algorithm {
  const [oidNode, params] = sequence(node, 1, 2, what);
  if (!(oidNode instanceof asn1js.ObjectIdentifier)) throw malformed(what);
  return { oid: oidNode.valueBlock.toString(), params };
}

/** PBES2-params / PBMAC1-params: SEQUENCE { AlgorithmIdentifier, AlgorithmIdentifier }. */
function algorithmPair(node: unknown, what: string): [Algorithm, Algorithm] {
  const [first, second] = sequence(node, 2, 2, what);
  return [algorithmIdentifier(first, what), algorithmIdentifier(second, what)];
}

/** A non-negative INTEGER that fits a JS number, or a format error. */
function smallInteger(node: unknown, what: string): number {
  if (!(node instanceof asn1js.Integer)) throw malformed(what);
  const value = node.toBigInt();
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new NssPbeFormatError("malformed", `${what} ${value} out of range`);
  }
  return Number(value);
}

function parseAlgorithmAndOctets(der: Uint8Array): { algorithm: Algorithm; data: Uint8Array } {
  const parsed = asn1js.fromBER(der);
  if (parsed.offset === -1 || parsed.offset !== der.length) {
    throw new NssPbeFormatError("malformed", "encrypted value is not one DER structure");
  }
  const top = parsed.result;
  if (!(top instanceof asn1js.Sequence) || top.valueBlock.value.length !== 2) {
    throw new NssPbeFormatError("malformed", "encrypted value is not SEQUENCE { algorithm, data }");
  }
  const [algorithmNode, dataNode] = top.valueBlock.value;
  if (!(dataNode instanceof asn1js.OctetString)) {
    throw new NssPbeFormatError("malformed", "encrypted data is not an OCTET STRING");
  }
  const algorithm = algorithmIdentifier(algorithmNode, "algorithm identifier");
  return { algorithm, data: new Uint8Array(dataNode.getValue()) };
}

function parsePbes2(algorithm: Algorithm, ciphertext: Uint8Array): NssEncryptedData {
  const [kdfNode, scheme] = algorithmPair(algorithm.params, "PBES2 parameters");
  const kdf = parsePbkdf2(kdfNode);
  const aes = AES_CBC.get(scheme.oid);
  if (aes === undefined) throw new NssPbeFormatError("unsupported", `unsupported cipher ${scheme.oid}`);
  if (kdf.keyLength !== 0 && kdf.keyLength !== aes.keyBytes) {
    throw new NssPbeFormatError("malformed", `PBKDF2 key length ${kdf.keyLength} does not fit ${aes.cipher}`);
  }
  if (ciphertext.length === 0 || ciphertext.length % AES_BLOCK_BYTES !== 0) {
    throw new NssPbeFormatError("malformed", `ciphertext length ${ciphertext.length} is not a whole number of AES blocks`);
  }
  return { scheme: "pbes2", kdf, cipher: aes.cipher, keyBytes: aes.keyBytes, iv: aesIv(scheme), ciphertext };
}

/**
 * The AES IV. NSS quirk (lowpbe.c): NSS writes 14 random bytes
 * as an OCTET STRING and, when decrypting, uses the whole DER encoding
 * (04 0e + 14 bytes = 16 bytes) as the IV. A standard PBES2 writer puts a
 * 16-byte OCTET STRING there instead; accept both.
 */
function aesIv(scheme: Algorithm): Uint8Array {
  const params = scheme.params;
  if (!(params instanceof asn1js.OctetString)) throw new NssPbeFormatError("malformed", "AES parameters are not an OCTET STRING");
  // The bytes exactly as they were in the file (tag, length and value).
  const encoded = params.valueBeforeDecodeView;
  if (encoded.length === AES_BLOCK_BYTES) return new Uint8Array(encoded);
  const value = new Uint8Array(params.getValue());
  if (value.length === AES_BLOCK_BYTES) return value;
  throw new NssPbeFormatError("malformed", `AES IV of ${value.length} bytes`);
}

/**
 * PBKDF2-params (RFC 8018 A.2): SEQUENCE { salt CHOICE { specified OCTET
 * STRING, otherSource AlgorithmIdentifier }, iterationCount INTEGER,
 * keyLength INTEGER OPTIONAL, prf AlgorithmIdentifier DEFAULT hmacWithSHA1 }.
 */
function parsePbkdf2(kdf: Algorithm): Pbkdf2 {
  if (kdf.oid !== OID.PBKDF2) {
    throw new NssPbeFormatError("unsupported", `unsupported key derivation ${kdf.oid}`);
  }
  const what = "PBKDF2 parameters";
  const [salt, iterationNode, ...rest] = sequence(kdf.params, 2, 4, what);
  // RFC 8018 allows an AlgorithmIdentifier ("otherSource") as salt; nobody uses it.
  if (!(salt instanceof asn1js.OctetString)) throw new NssPbeFormatError("unsupported", "PBKDF2 salt is not an OCTET STRING");
  let keyLength = 0;
  let prfNode: asn1js.AsnType | undefined;
  if (rest.length === 2) [keyLength, prfNode] = [smallInteger(rest[0], "PBKDF2 key length"), rest[1]];
  else if (rest[0] instanceof asn1js.Integer) keyLength = smallInteger(rest[0], "PBKDF2 key length");
  else prfNode = rest[0];
  const prf = prfNode === undefined ? undefined : algorithmIdentifier(prfNode, what);
  const digest = prf === undefined ? DEFAULT_PRF_DIGEST : HMAC_DIGESTS.get(prf.oid);
  if (digest === undefined) throw new NssPbeFormatError("unsupported", `unsupported PBKDF2 PRF ${prf?.oid}`);
  return {
    salt: new Uint8Array(salt.getValue()),
    iterations: checkedIterations(smallInteger(iterationNode, "PBKDF2 iteration count")),
    keyLength,
    digest,
  };
}

async function decryptPbes2(data: Extract<NssEncryptedData, { scheme: "pbes2" }>, passKey: Uint8Array): Promise<Uint8Array | null> {
  const key = await pbkdf2Async(passKey, data.kdf.salt, data.kdf.iterations, data.keyBytes, data.kdf.digest);
  return decipher(data.cipher, key, data.iv, data.ciphertext);
}

/** NSS legacy params: SEQUENCE { salt OCTET STRING, iterations INTEGER } (lowpbe.c). */
function parseLegacy3des(algorithm: Algorithm, ciphertext: Uint8Array): NssEncryptedData {
  const params = algorithm.params;
  if (!(params instanceof asn1js.Sequence) || params.valueBlock.value.length !== 2) {
    throw new NssPbeFormatError("malformed", "3DES PBE parameters are not SEQUENCE { salt, iterations }");
  }
  const [saltNode, iterNode] = params.valueBlock.value;
  if (!(saltNode instanceof asn1js.OctetString) || !(iterNode instanceof asn1js.Integer)) {
    throw new NssPbeFormatError("malformed", "3DES PBE parameters have the wrong types");
  }
  const salt = new Uint8Array(saltNode.getValue());
  if (salt.length === 0 || salt.length > SHA1_BYTES) throw new NssPbeFormatError("malformed", `3DES PBE salt of ${salt.length} bytes`);
  if (ciphertext.length === 0 || ciphertext.length % TDES_BLOCK_BYTES !== 0) {
    throw new NssPbeFormatError("malformed", `ciphertext length ${ciphertext.length} is not a whole number of 3DES blocks`);
  }
  return { scheme: "pkcs12-v0-3des", salt, iterations: checkedIterations(smallInteger(iterNode, "3DES PBE iteration count")), ciphertext };
}

/**
 * NSS's "PBKDF1 extended" + PFX PBE for the legacy OID (lowpbe.c):
 * h = SHA-1(passKey || salt), re-hashed for each extra iteration; with s = salt
 * zero-padded to 20 bytes, k1 = HMAC(h, s || salt), t = HMAC(h, s),
 * k2 = HMAC(h, t || salt), k = k1 || k2; 3DES key k[0:24], IV k[32:40].
 */
function decryptLegacy3des(data: Extract<NssEncryptedData, { scheme: "pkcs12-v0-3des" }>, passKey: Uint8Array): Uint8Array | null {
  let h = createHash("sha1").update(passKey).update(data.salt).digest();
  for (let i = 1; i < data.iterations; i++) h = createHash("sha1").update(h).digest();
  const padded = new Uint8Array(SHA1_BYTES);
  padded.set(data.salt);
  const hmac = (...parts: Uint8Array[]) => {
    const mac = createHmac("sha1", h);
    for (const p of parts) mac.update(p);
    return mac.digest();
  };
  const k1 = hmac(padded, data.salt);
  const k2 = hmac(hmac(padded), data.salt);
  const k = Buffer.concat([k1, k2]);
  const key = k.subarray(0, TDES_KEY_BYTES);
  const iv = k.subarray(TDES_IV_OFFSET, TDES_IV_OFFSET + TDES_IV_BYTES);
  return decipher("des-ede3-cbc", key, iv, data.ciphertext);
}

/** CBC decryption with PKCS#7 padding; null when the padding is wrong (wrong key). */
function decipher(cipher: string, key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Uint8Array | null {
  try {
    const d = createDecipheriv(cipher, key, iv);
    const plain = Buffer.concat([d.update(ciphertext), d.final()]);
    return new Uint8Array(plain.buffer, plain.byteOffset, plain.length);
  } catch {
    return null;
  }
}

function checkedIterations(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_PBE_ITERATIONS) {
    throw new NssPbeFormatError("malformed", `iteration count ${n} outside 1..${MAX_PBE_ITERATIONS}`);
  }
  return n;
}
