/**
 * The page's token: certificates and private keys from files the user
 * picked, held in the page's memory only (never stored, never sent).
 *
 * Login follows the PEM store of the CLI (src/tokens/pem.ts): when any key is
 * encrypted, loginRequired is true and the card PIN is the key password (one
 * password for all keys), unless the password was given when the files were
 * loaded, in which case the PIN must equal it; with no encrypted key any PIN
 * opens the keys.
 *
 * The private operations run in the page: raw RSA with BigInt CRT and
 * blinding (crypto/rsa-raw.ts), ECDSA over the given digest and ECDH with
 * @noble/curves. Web Crypto has neither raw RSA nor ECDSA over a digest (it
 * always hashes the message itself).
 */
import { p256, p384 } from "@noble/curves/nist.js";
import { MAX_PKI_APPLETS } from "../core/cac/aids.js";
import { bytesEqual } from "../core/bytes.js";
import {
  KeyOperationError,
  KeyStoreError,
  type Credential,
  type KeyAlgorithm,
  type LoginResult,
  type PrivateKey,
  type Token,
  type TokenSession,
} from "../core/token/types.js";
import { readCertificateFile, type ParsedCertificate } from "./certificate.js";
import { rsaRawPrivate, type RsaRawOptions } from "./crypto/rsa-raw.js";
import { EC_FIELD_BYTES, openKeyFile, readKeyFile, type KeyFile, type ParsedPrivateKey } from "./keys.js";

const NOBLE = { "P-256": p256, "P-384": p384 } as const;

/** One credential as picked: a certificate file and, maybe, its key file. */
export interface CredentialFiles {
  /** The card's label for it (the file stem, as the PEM store names it). */
  readonly label: string;
  readonly certificate: Uint8Array;
  readonly key?: Uint8Array;
  /** File names for messages; default the label. */
  readonly certificateName?: string;
  readonly keyName?: string;
}

export interface BrowserTokenOptions {
  /** Password of the encrypted keys, when known up front (then VERIFY must match it). */
  readonly password?: Uint8Array;
  /** Shown to people as where the token came from. Default "browser files". */
  readonly location?: string;
  /** For tests: the blinding randomness of the RSA operation. */
  readonly rsa?: RsaRawOptions;
}

/** A key in page memory behind the token seam. */
export class BrowserPrivateKey implements PrivateKey {
  readonly algorithm: KeyAlgorithm;
  readonly #key: ParsedPrivateKey;
  readonly #rsaOptions: RsaRawOptions;

  constructor(key: ParsedPrivateKey, rsaOptions: RsaRawOptions = {}) {
    this.#key = key;
    this.#rsaOptions = rsaOptions;
    this.algorithm = key.kind === "rsa" ? { kind: "rsa", bits: key.bits } : { kind: "ec", curve: key.curve };
    if (key.kind !== "rsa") this.rsaRaw = undefined;
    if (key.kind !== "ec") {
      this.ecdsaSign = undefined;
      this.ecdh = undefined;
    }
  }

  rsaRaw?: (input: Uint8Array) => Promise<Uint8Array> = async (input) => {
    const key = this.#key as Extract<ParsedPrivateKey, { kind: "rsa" }>;
    try {
      return rsaRawPrivate(key.rsa, input, this.#rsaOptions);
    } catch (e) {
      if (e instanceof RangeError) throw new KeyOperationError(`RSA: ${e.message}`);
      throw e;
    }
  };

  ecdsaSign?: (digest: Uint8Array) => Promise<Uint8Array> = async (digest) => {
    const key = this.#key as Extract<ParsedPrivateKey, { kind: "ec" }>;
    if (digest.length === 0) throw new KeyOperationError("ECDSA over an empty digest");
    // prehash false: the bytes are the digest (a longer one is truncated to
    // the order's size, FIPS 186-4 §6.4), as CKM_ECDSA does; lowS false keeps
    // s as computed, as NSS and OpenSSL do. k is RFC 6979 deterministic.
    return NOBLE[key.curve].sign(digest, key.d, { prehash: false, lowS: false, format: "compact" });
  };

  ecdh?: (peerPoint: Uint8Array) => Promise<Uint8Array> = async (peerPoint) => {
    const key = this.#key as Extract<ParsedPrivateKey, { kind: "ec" }>;
    const size = EC_FIELD_BYTES[key.curve];
    if (peerPoint.length !== 1 + 2 * size || peerPoint[0] !== 0x04) {
      throw new KeyOperationError(`ECDH needs an uncompressed ${key.curve} point of ${1 + 2 * size} bytes`);
    }
    let shared: Uint8Array;
    try {
      shared = NOBLE[key.curve].getSharedSecret(key.d, peerPoint, false);
    } catch {
      throw new KeyOperationError(`the peer's point is not on ${key.curve}`);
    }
    return shared.slice(1, 1 + size);
  };
}

class BrowserSession implements TokenSession {
  constructor(readonly keys: readonly (BrowserPrivateKey | null)[]) {}
  key(index: number): PrivateKey | null {
    return this.keys[index] ?? null;
  }
}

/** True when the private key belongs to the certificate's public key. */
export function keyMatchesCertificate(key: ParsedPrivateKey, cert: ParsedCertificate): boolean {
  const pub = cert.publicKey;
  if (key.kind === "rsa") return pub.kind === "rsa" && pub.n === key.rsa.n && pub.e === key.rsa.e;
  if (pub.kind !== "ec" || cert.algorithm.kind !== "ec" || cert.algorithm.curve !== key.curve) return false;
  return bytesEqual(NOBLE[key.curve].getPublicKey(key.d, false), pub.point);
}

interface Slot {
  readonly label: string;
  readonly cert: ParsedCertificate;
  readonly file: KeyFile | null;
  readonly keyName: string;
}

/** Equal without an early exit on the first differing byte. */
function secretsEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

const WRONG_PIN: LoginResult = { ok: false, reason: "wrong-pin" };

export class BrowserToken implements Token {
  readonly kind = "browser";
  readonly location: string;
  readonly credentials: readonly Credential[];
  readonly loginRequired: boolean;
  readonly #slots: readonly Slot[];
  readonly #rsa: RsaRawOptions;
  #session: BrowserSession | null = null;
  #password: Uint8Array | null = null;

  private constructor(slots: readonly Slot[], options: BrowserTokenOptions) {
    this.#slots = slots;
    this.#rsa = options.rsa ?? {};
    this.location = options.location ?? "browser files";
    this.loginRequired = slots.some((s) => s.file?.encrypted === true);
    this.credentials = slots.map((s) => ({
      label: s.label,
      certificate: s.cert.der,
      subject: s.cert.subject,
      algorithm: s.cert.algorithm,
      hasPrivateKey: s.file !== null && s.cert.algorithm.kind !== "unsupported",
    }));
  }

  /**
   * Reads the files. Throws KeyStoreError: a file that is not a certificate
   * or key (KEYSTORE_CORRUPT, also for a key that does not belong to its
   * certificate), a wrong `options.password` (KEYSTORE_BAD_PASSWORD), more
   * credentials than the card holds (KEYSTORE_TOO_MANY), a format the page
   * cannot read (KEYSTORE_UNSUPPORTED).
   */
  static async open(files: readonly CredentialFiles[], options: BrowserTokenOptions = {}): Promise<BrowserToken> {
    if (files.length === 0) throw new KeyStoreError("KEYSTORE_NOT_FOUND", "no certificate was given");
    if (files.length > MAX_PKI_APPLETS) {
      throw new KeyStoreError("KEYSTORE_TOO_MANY", `${files.length} certificates; the card holds ${MAX_PKI_APPLETS}`);
    }
    const slots: Slot[] = files.map((f) => {
      const keyName = f.keyName ?? `${f.label} key`;
      return {
        label: f.label,
        cert: readCertificateFile(f.certificate, f.certificateName ?? f.label),
        file: f.key === undefined ? null : readKeyFile(f.key, keyName),
        keyName,
      };
    });
    const token = new BrowserToken(slots, options);
    if (!token.loginRequired) {
      // Nothing encrypted: check every key now, so a wrong file fails at load.
      token.#session = await token.#loadAll(undefined);
    } else if (options.password !== undefined) {
      token.#session = await token.#loadAll(options.password);
      token.#password = options.password.slice();
    }
    return token;
  }

  login(pin?: Uint8Array): LoginResult | Promise<LoginResult> {
    if (!this.loginRequired) return this.#session === null ? WRONG_PIN : { ok: true, session: this.#session };
    if (pin === undefined || pin.length === 0) return WRONG_PIN;
    if (this.#password !== null) {
      return secretsEqual(pin, this.#password) && this.#session !== null ? { ok: true, session: this.#session } : WRONG_PIN;
    }
    return this.#loadAll(pin).then(
      (session) => {
        // The keys are kept (a later login re-derives to check the PIN; see #loadAll).
        this.#session = session;
        return { ok: true, session } as LoginResult;
      },
      (e) => {
        if (e instanceof KeyStoreError && e.code === "KEYSTORE_BAD_PASSWORD") return WRONG_PIN;
        throw e;
      },
    );
  }

  /** Parses and checks every key with `password`; KEYSTORE_BAD_PASSWORD when it does not open one. */
  async #loadAll(password: Uint8Array | undefined): Promise<BrowserSession> {
    const keys: (BrowserPrivateKey | null)[] = [];
    for (const slot of this.#slots) {
      if (slot.file === null) {
        keys.push(null);
        continue;
      }
      const key = await openKeyFile(slot.file, password, slot.keyName);
      if (!keyMatchesCertificate(key, slot.cert)) {
        throw new KeyStoreError("KEYSTORE_CORRUPT", `${slot.keyName} does not match its certificate's public key`);
      }
      keys.push(slot.cert.algorithm.kind === "unsupported" ? null : new BrowserPrivateKey(key, this.#rsa));
    }
    return new BrowserSession(keys);
  }
}
