/**
 * The raw RSA private operation over node:crypto KeyObjects, shared by every
 * key store. Keys are parsed once when the ring is built; an operation is one
 * privateDecrypt call with no padding (libcacard's PK11_PrivDecryptRaw,
 * CKM_RSA_X_509: the card receives an already padded block).
 */
import { constants, createPublicKey, privateDecrypt, type KeyObject } from "node:crypto";
import { KeyOperationError, type KeyRing } from "./types.js";

/** A private key ready for use, with its modulus (unsigned big-endian, no leading zeros). */
export interface RsaPrivateKey {
  readonly key: KeyObject;
  readonly modulus: Uint8Array;
}

/** The modulus of an RSA key (public or private), or null when the key is not RSA. */
export function rsaModulusOf(key: KeyObject): Uint8Array | null {
  if (key.asymmetricKeyType !== "rsa") return null;
  // Export only the public half: the private JWK would put secrets in JS strings.
  const pub = key.type === "private" ? createPublicKey(key) : key;
  const jwk = pub.export({ format: "jwk" });
  if (typeof jwk.n !== "string") return null;
  return stripLeadingZeros(new Uint8Array(Buffer.from(jwk.n, "base64url")));
}

/** Wraps an RSA private KeyObject; null when it is not an RSA key. */
export function toRsaPrivateKey(key: KeyObject): RsaPrivateKey | null {
  if (key.type !== "private") return null;
  const modulus = rsaModulusOf(key);
  return modulus === null ? null : { key, modulus };
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

/**
 * A private key decrypted on first use. Decrypting NSS keys costs tens of
 * PBKDF2 derivations and MAC checks; deferring them keeps them off the
 * start-up path (the 250 ms start-to-ATR budget) for keys never used.
 */
export interface DeferredRsaKey {
  /** Modulus length in bytes, known from clear attributes without decrypting. */
  readonly modulusLength: number;
  /** Decrypts the key; throws KeyStoreError when it turns out damaged. */
  load(): RsaPrivateKey;
}

export type RingEntry = RsaPrivateKey | DeferredRsaKey | null;

function isDeferred(entry: RingEntry): entry is DeferredRsaKey {
  return entry !== null && "load" in entry;
}

/** A KeyRing over keys parsed once (now or at first use); index i is credential i (null = no private key). */
export class RsaKeyRing implements KeyRing {
  readonly #keys: RingEntry[];

  constructor(keys: readonly RingEntry[]) {
    this.#keys = [...keys];
  }

  rsaPrivate(index: number, input: Uint8Array): Uint8Array | null {
    const entry = this.#keyAt(index);
    if (entry === null) return null;
    const { modulus } = entry;
    if (input.length !== modulus.length) {
      throw new KeyOperationError(`RSA input is ${input.length} bytes, the modulus is ${modulus.length}`);
    }
    if (!lessThan(input, modulus)) throw new KeyOperationError("RSA input is not below the modulus");
    const out = privateDecrypt({ key: entry.key, padding: constants.RSA_NO_PADDING }, input);
    // OpenSSL returns the result left-padded to the modulus length; copy it
    // into a plain Uint8Array so callers never hold a pooled Buffer.
    return Uint8Array.from(out);
  }

  /** Decrypts every deferred key now; throws the first KeyStoreError. */
  loadAll(): void {
    for (let i = 0; i < this.#keys.length; i++) this.#keyAt(i);
  }

  modulusBytes(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.#keys.length) return 0;
    const entry = this.#keys[index];
    if (entry === null) return 0;
    return isDeferred(entry) ? entry.modulusLength : entry.modulus.length;
  }

  #keyAt(index: number): RsaPrivateKey | null {
    if (!Number.isInteger(index) || index < 0 || index >= this.#keys.length) return null;
    const entry = this.#keys[index];
    if (!isDeferred(entry)) return entry;
    const loaded = entry.load();
    this.#keys[index] = loaded;
    return loaded;
  }
}

/** a < b for big-endian unsigned numbers of equal length. */
function lessThan(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i] < b[i];
  }
  return false;
}
