/**
 * The encrypting side of NSS's key4.db PBE, for tests only: builds the DER
 * blobs NSS would write (NSS lib/softoken/sftkpwd.c, lowpbe.c), so the reader can
 * be tested on schemes this machine's NSS does not write (SHA-384 global salt,
 * other PRFs, the pre-3.49 3DES scheme) and on damaged input.
 */
import { createCipheriv, createHash, createHmac, pbkdf2Sync } from "node:crypto";
import * as asn1js from "asn1js";
import { SeededBytes } from "./seeded.js";

/** Salts and IVs: seeded, so every run writes the same blobs. */
const random = new SeededBytes("nss-writer");
const seeded = (length: number): Uint8Array => random.next(length);

export const OIDS = {
  PBES2: "1.2.840.113549.1.5.13",
  PBKDF2: "1.2.840.113549.1.5.12",
  PBMAC1: "1.2.840.113549.1.5.14",
  LEGACY_3DES: "1.2.840.113549.1.12.5.1.3",
  AES256_CBC: "2.16.840.1.101.3.4.1.42",
  AES128_CBC: "2.16.840.1.101.3.4.1.2",
  HMAC: { sha1: "1.2.840.113549.2.7", sha256: "1.2.840.113549.2.9", sha384: "1.2.840.113549.2.10", sha512: "1.2.840.113549.2.11" },
} as const;
export type Digest = keyof typeof OIDS.HMAC;

const der = (node: asn1js.BaseBlock): Uint8Array => new Uint8Array(node.toBER(false));
const oid = (value: string) => new asn1js.ObjectIdentifier({ value });
const octets = (bytes: Uint8Array) => new asn1js.OctetString({ valueHex: bytes });
const int = (value: number) => new asn1js.Integer({ value });
const seq = (...value: asn1js.BaseBlock[]) => new asn1js.Sequence({ value });

/** SEQUENCE { AlgorithmIdentifier, OCTET STRING } around `data`. */
function encryptedDataInfo(algorithm: asn1js.BaseBlock, data: Uint8Array): Uint8Array {
  return der(seq(algorithm, octets(data)));
}

function pbkdf2Params(salt: Uint8Array, iterations: number, keyLength: number | undefined, prf: Digest | undefined) {
  const parts: asn1js.BaseBlock[] = [octets(salt), int(iterations)];
  if (keyLength !== undefined) parts.push(int(keyLength));
  // NSS writes the PRF AlgorithmIdentifier without parameters (300a 0608 …).
  if (prf !== undefined) parts.push(seq(oid(OIDS.HMAC[prf])));
  return seq(oid(OIDS.PBKDF2), seq(...parts));
}

export interface Pbes2Options {
  iterations?: number;
  /** PBKDF2 PRF; undefined leaves it out (RFC 8018 default: HMAC-SHA-1). */
  prf?: Digest;
  /** "nss": 14 random bytes whose DER (04 0e …) is the IV; "standard": a 16-byte IV. */
  ivStyle?: "nss" | "standard";
  cipher?: "aes-256-cbc" | "aes-128-cbc";
  saltBytes?: number;
  /** Leave keyLength out of the PBKDF2 parameters. */
  omitKeyLength?: boolean;
}

/** PBES2 (PBKDF2 + AES-CBC) as NSS ≥ 3.49 writes it (sftkpwd.c). */
export function encryptPbes2(plain: Uint8Array, passKey: Uint8Array, o: Pbes2Options = {}): Uint8Array {
  const cipher = o.cipher ?? "aes-256-cbc";
  const keyBytes = cipher === "aes-256-cbc" ? 32 : 16;
  const salt = seeded(o.saltBytes ?? 32);
  const iterations = o.iterations ?? 1;
  const prf = "prf" in o ? o.prf : "sha256";
  let ivParam: asn1js.OctetString;
  let iv: Uint8Array;
  if ((o.ivStyle ?? "nss") === "nss") {
    ivParam = octets(seeded(14));
    iv = der(ivParam);
  } else {
    iv = seeded(16);
    ivParam = octets(iv);
  }
  const key = pbkdf2Sync(passKey, salt, iterations, keyBytes, prf ?? "sha1");
  const c = createCipheriv(cipher, key, iv);
  const ct = Buffer.concat([c.update(plain), c.final()]);
  const scheme = seq(oid(cipher === "aes-256-cbc" ? OIDS.AES256_CBC : OIDS.AES128_CBC), ivParam);
  const kdf = pbkdf2Params(salt, iterations, o.omitKeyLength ? undefined : keyBytes, prf);
  return encryptedDataInfo(seq(oid(OIDS.PBES2), seq(kdf, scheme)), ct);
}

/** The integrity MAC NSS stores in metaData (sftkpwd.c sftkdb_SignAttribute). */
export function makeMac(
  passKey: Uint8Array,
  objectId: number,
  type: number,
  value: Uint8Array,
  o: { iterations?: number; digest?: Digest } = {},
): Uint8Array {
  const digest = o.digest ?? "sha256";
  const salt = seeded(32);
  const iterations = o.iterations ?? 1;
  const macKey = pbkdf2Sync(passKey, salt, iterations, 32, digest);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(objectId >>> 0, 0);
  header.writeUInt32BE(type >>> 0, 4);
  const mac = createHmac(digest, macKey).update(header).update(value).digest();
  const params = seq(pbkdf2Params(salt, iterations, 32, digest), seq(oid(OIDS.HMAC[digest])));
  return encryptedDataInfo(seq(oid(OIDS.PBMAC1), params), mac);
}

/** Derives the 3DES key and IV of NSS's legacy PBE (lowpbe.c), written independently of src/. */
function legacyKeyIv(passKey: Uint8Array, salt: Uint8Array, iterations: number): { key: Buffer; iv: Buffer } {
  let h = createHash("sha1").update(Buffer.concat([passKey, salt])).digest();
  for (let i = 1; i < iterations; i++) h = createHash("sha1").update(h).digest();
  const pes = Buffer.alloc(20);
  Buffer.from(salt).copy(pes);
  const k1 = createHmac("sha1", h).update(Buffer.concat([pes, salt])).digest();
  const tk = createHmac("sha1", h).update(pes).digest();
  const k2 = createHmac("sha1", h).update(Buffer.concat([tk, salt])).digest();
  const k = Buffer.concat([k1, k2]);
  return { key: k.subarray(0, 24), iv: k.subarray(32, 40) };
}

/** The pre-3.49 scheme: SEC_OID_PKCS12_PBE_WITH_SHA1_AND_TRIPLE_DES_CBC, params { salt, iterations }. */
export function encryptLegacy3des(plain: Uint8Array, passKey: Uint8Array, iterations = 1): Uint8Array {
  const salt = seeded(20);
  const { key, iv } = legacyKeyIv(passKey, salt, iterations);
  const c = createCipheriv("des-ede3-cbc", key, iv);
  const ct = Buffer.concat([c.update(plain), c.final()]);
  return encryptedDataInfo(seq(oid(OIDS.LEGACY_3DES), seq(octets(salt), int(iterations))), ct);
}

/** passKey as NSS derives it: SHA-1, or SHA-384 for a 48-byte global salt (sftkpwd.c sftkdb_passwordToKey). */
export function passKeyFor(globalSalt: Uint8Array, password: string): Uint8Array {
  const digest = globalSalt.length === 48 ? "sha384" : "sha1";
  return new Uint8Array(createHash(digest).update(globalSalt).update(password, "utf8").digest());
}

export const PASSWORD_CHECK = new TextEncoder().encode("password-check");
