/**
 * Private keys held in this process as node:crypto KeyObjects (NSS and PEM
 * stores), behind the token seam's PrivateKey. Keys are parsed once; a key
 * may also be decrypted only at its first use (NSS), which keeps PBKDF2 off
 * the start-up path for keys that are never used.
 *
 * RSA is the raw private operation (privateDecrypt with no padding, as
 * libcacard's PK11_PrivDecryptRaw / CKM_RSA_X_509: the card receives an
 * already padded block). ECDSA signs the digest it is given, as CKM_ECDSA
 * and PIV GENERAL AUTHENTICATE do: node:crypto cannot (sign(null, ...) hashes
 * with SHA-256 for EC keys), so @noble/curves does it, with RFC 6979
 * deterministic nonces, answering r || s. ECDH is node's diffieHellman.
 */
import { constants, createPublicKey, diffieHellman, privateDecrypt, type KeyObject } from "node:crypto";
import {
  KeyOperationError,
  type EcCurve,
  type KeyAlgorithm,
  type PrivateKey,
  type TokenSession,
} from "../core/token/types.js";

/** Field sizes in bytes: a point coordinate, an ECDSA r or s, an ECDH secret. */
export const EC_FIELD_BYTES: Readonly<Record<EcCurve, number>> = { "P-256": 32, "P-384": 48 };

/** OpenSSL's curve names for the curves a card key may be on. */
const CURVE_OF_OPENSSL_NAME: Readonly<Record<string, EcCurve>> = {
  prime256v1: "P-256",
  "P-256": "P-256",
  secp384r1: "P-384",
  "P-384": "P-384",
};

/** What a public or private KeyObject is, as the token seam names it. */
export function keyAlgorithmOf(key: KeyObject): KeyAlgorithm {
  const details = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case "rsa":
      return details?.modulusLength ? { kind: "rsa", bits: details.modulusLength } : { kind: "unsupported", name: "RSA ?" };
    case "ec": {
      const curve = CURVE_OF_OPENSSL_NAME[details?.namedCurve ?? ""];
      return curve ? { kind: "ec", curve } : { kind: "unsupported", name: `EC ${details?.namedCurve ?? "?"}` };
    }
    default:
      return { kind: "unsupported", name: key.asymmetricKeyType ?? "unknown key" };
  }
}

/** True when `key` (private) belongs to the certificate's public key. */
export function keyMatchesPublic(key: KeyObject, publicKey: KeyObject): boolean {
  const mine = createPublicKey(key).export({ format: "der", type: "spki" });
  const theirs = publicKey.export({ format: "der", type: "spki" });
  return mine.equals(theirs);
}

/** A private key usable by the card, from a loaded KeyObject. */
export class SoftPrivateKey implements PrivateKey {
  readonly algorithm: KeyAlgorithm;
  readonly #key: KeyObject;
  readonly #modulus: Uint8Array | null;

  constructor(key: KeyObject) {
    // keyAlgorithmOf reads public keys too; a public key passed here by
    // mistake would otherwise only fail inside node:crypto at the first SIGN.
    if (key.type !== "private") throw new TypeError(`a ${key.type} key is not a private key`);
    this.#key = key;
    this.algorithm = keyAlgorithmOf(key);
    this.#modulus = this.algorithm.kind === "rsa" ? rsaModulusOf(key) : null;
    if (this.algorithm.kind !== "rsa") this.rsaRaw = undefined;
    if (this.algorithm.kind !== "ec") {
      this.ecdsaSign = undefined;
      this.ecdh = undefined;
    }
  }

  rsaRaw?: (input: Uint8Array) => Promise<Uint8Array> = async (input) => {
    const modulus = this.#modulus!;
    if (input.length !== modulus.length) {
      throw new KeyOperationError(`RSA input is ${input.length} bytes, the modulus is ${modulus.length}`);
    }
    if (!lessThan(input, modulus)) throw new KeyOperationError("RSA input is not below the modulus");
    // OpenSSL returns the result left-padded to the modulus length; copy it
    // into a plain Uint8Array so callers never hold a pooled Buffer.
    return Uint8Array.from(privateDecrypt({ key: this.#key, padding: constants.RSA_NO_PADDING }, input));
  };

  ecdsaSign?: (digest: Uint8Array) => Promise<Uint8Array> = async (digest) => {
    if (digest.length === 0) throw new KeyOperationError("ECDSA over an empty digest");
    const curve = (this.algorithm as { curve: EcCurve }).curve;
    const scalar = ecPrivateScalar(this.#key, EC_FIELD_BYTES[curve]);
    try {
      // prehash false: the bytes are the digest (a longer one is truncated
      // to the order's size, FIPS 186-4 §6.4), as CKM_ECDSA does.
      return (await nobleCurve(curve)).sign(digest, scalar, { prehash: false });
    } finally {
      scalar.fill(0);
    }
  };

  ecdh?: (peerPoint: Uint8Array) => Promise<Uint8Array> = async (peerPoint) => {
    const curve = (this.algorithm as { curve: EcCurve }).curve;
    const size = EC_FIELD_BYTES[curve];
    if (peerPoint.length !== 1 + 2 * size || peerPoint[0] !== 0x04) {
      throw new KeyOperationError(`ECDH needs an uncompressed ${curve} point of ${1 + 2 * size} bytes`);
    }
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({
        key: {
          kty: "EC",
          crv: curve,
          x: Buffer.from(peerPoint.subarray(1, 1 + size)).toString("base64url"),
          y: Buffer.from(peerPoint.subarray(1 + size)).toString("base64url"),
        },
        format: "jwk",
      });
    } catch {
      throw new KeyOperationError(`the peer's point is not on ${curve}`);
    }
    return Uint8Array.from(diffieHellman({ privateKey: this.#key, publicKey }));
  };
}

/**
 * A key decrypted at its first use. `load` may be slow (PBKDF2) and is asked
 * once; its failure (a damaged key: KeyStoreError) reaches the operation that
 * needed the key and is asked again next time.
 */
export class DeferredPrivateKey implements PrivateKey {
  #loaded: Promise<SoftPrivateKey> | null = null;

  constructor(
    readonly algorithm: KeyAlgorithm,
    private readonly load: () => Promise<KeyObject>,
  ) {
    if (algorithm.kind !== "rsa") this.rsaRaw = undefined;
    if (algorithm.kind !== "ec") {
      this.ecdsaSign = undefined;
      this.ecdh = undefined;
    }
  }

  /** The loaded key; rejects with the load's error (and forgets it, so a later call tries again). */
  key(): Promise<SoftPrivateKey> {
    if (this.#loaded === null) {
      this.#loaded = this.load().then((k) => new SoftPrivateKey(k));
      this.#loaded.catch(() => (this.#loaded = null));
    }
    return this.#loaded;
  }

  rsaRaw?: (input: Uint8Array) => Promise<Uint8Array> = async (input) => (await this.key()).rsaRaw!(input);
  ecdsaSign?: (digest: Uint8Array) => Promise<Uint8Array> = async (digest) => (await this.key()).ecdsaSign!(digest);
  ecdh?: (peerPoint: Uint8Array) => Promise<Uint8Array> = async (point) => (await this.key()).ecdh!(point);
}

/**
 * @noble/curves, loaded at the first ECDSA signature: it costs ~50 ms to
 * load, which an RSA-only card should not pay at start.
 */
async function nobleCurve(curve: EcCurve) {
  const { p256, p384 } = await import("@noble/curves/nist.js");
  return curve === "P-256" ? p256 : p384;
}

/**
 * The private scalar of an EC key, from its SEC 1 ECPrivateKey DER (RFC 5915
 * §3): SEQUENCE { INTEGER 1, OCTET STRING privateKey, ... }. The caller
 * zeroes it after use.
 */
function ecPrivateScalar(key: KeyObject, size: number): Uint8Array {
  const der = key.export({ format: "der", type: "sec1" });
  try {
    let at = 0;
    const expect = (byte: number) => {
      if (der[at++] !== byte) throw new KeyOperationError("unexpected EC private key encoding");
    };
    const length = (): number => {
      const first = der[at++];
      if (first < 0x80) return first;
      const count = first & 0x7f;
      if (count === 0 || count > 2) throw new KeyOperationError("unexpected EC private key encoding");
      let n = 0;
      for (let i = 0; i < count; i++) n = (n << 8) | der[at++];
      return n;
    };
    expect(0x30);
    length();
    expect(0x02);
    expect(0x01);
    expect(0x01);
    expect(0x04);
    const n = length();
    if (n > size || at + n > der.length) throw new KeyOperationError("unexpected EC private key encoding");
    // Left-pad: the OCTET STRING is normally the field size already.
    const out = new Uint8Array(size);
    out.set(der.subarray(at, at + n), size - n);
    return out;
  } finally {
    der.fill(0);
  }
}

/** A session over keys held in this process; index i is credential i (null = no private key). */
export class SoftSession implements TokenSession {
  readonly #keys: readonly (PrivateKey | null)[];

  constructor(keys: readonly (PrivateKey | null)[]) {
    this.#keys = keys;
  }

  key(index: number): PrivateKey | null {
    if (!Number.isInteger(index) || index < 0 || index >= this.#keys.length) return null;
    return this.#keys[index];
  }

  /** Loads every deferred key now; rejects with the first KeyStoreError. */
  async loadAll(): Promise<void> {
    for (const key of this.#keys) if (key instanceof DeferredPrivateKey) await key.key();
  }
}

/** The modulus of an RSA key (public or private), unsigned big-endian without leading zeros; null when not RSA. */
export function rsaModulusOf(key: KeyObject): Uint8Array | null {
  if (key.asymmetricKeyType !== "rsa") return null;
  // Export only the public half: the private JWK would put secrets in JS strings.
  const pub = key.type === "private" ? createPublicKey(key) : key;
  const jwk = pub.export({ format: "jwk" });
  if (typeof jwk.n !== "string") return null;
  return stripLeadingZeros(new Uint8Array(Buffer.from(jwk.n, "base64url")));
}

/** Unsigned big-endian integer equality, ignoring leading zero bytes. */
export function sameUnsigned(a: Uint8Array, b: Uint8Array): boolean {
  const x = stripLeadingZeros(a);
  const y = stripLeadingZeros(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

export function stripLeadingZeros(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

/** a < b for big-endian unsigned numbers of equal length. */
function lessThan(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i] < b[i];
  }
  return false;
}
