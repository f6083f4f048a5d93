/**
 * The PEM key store: a directory of `<nickname>.pem`/`.crt` certificates and
 * `<nickname>.key` private keys (file formats in pem-files.ts).
 *
 * Login follows the NSS store: when any key is encrypted, loginRequired is
 * true and the PIN is the key password (one password for all keys);
 * otherwise any PIN opens the keys. A certificate without a .key file is
 * served without a private key. Synchronous throughout.
 */
import { createPrivateKey, type KeyObject } from "node:crypto";
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { parseCertificate } from "./credential.js";
import { findCertificateFile, readCertificateFile, readKeyFile, type PemKeyFile } from "./pem-files.js";
import { RsaKeyRing, sameUnsigned, toRsaPrivateKey, type RsaPrivateKey } from "./rsa-ring.js";
import { copySecret, secretsEqual } from "./secret.js";
import { selectCredentials } from "./selection.js";
import { KeyStoreError, type Credential, type KeyRing, type KeyStore, type OpenKeyStoreOptions } from "./types.js";

/** One credential's key file together with the modulus its certificate demands. */
interface KeySlot {
  readonly file: PemKeyFile;
  readonly certModulus: Uint8Array | null;
}

/**
 * Opens the PEM directory `options.db`. Throws KeyStoreError: missing
 * directory (KEYSTORE_NOT_FOUND), unknown nickname, unreadable file or a key
 * that does not belong to its certificate (KEYSTORE_CORRUPT), wrong
 * `options.password` (KEYSTORE_BAD_PASSWORD).
 */
export function openPemKeyStore(options: OpenKeyStoreOptions): KeyStore {
  const dir = resolve(options.db);
  if (!isDirectory(dir)) throw new KeyStoreError("KEYSTORE_NOT_FOUND", `PEM key directory ${dir} does not exist`);
  const where = `PEM directory ${dir}`;
  const selected = selectCredentials(options, where, (nickname) => findCertificateFile(dir, nickname));
  const credentials: Credential[] = [];
  const slots: (KeySlot | null)[] = [];
  for (const { nickname, found: certPath } of selected) {
    const { credential, rsaModulus } = parseCertificate(nickname, readCertificateFile(certPath), certPath);
    credentials.push(credential);
    const file = readKeyFile(dir, nickname);
    slots.push(file === undefined ? null : { file, certModulus: rsaModulus });
  }
  return new PemKeyStore(dir, credentials, slots, options.password);
}

class PemKeyStore implements KeyStore {
  readonly kind = "pem";
  readonly loginRequired: boolean;
  /** Keys parsed once (at open, or at the first good PIN) and reused. */
  #ring: RsaKeyRing | undefined;
  /** The password given at open time, which VERIFY must then match exactly. */
  readonly #password: Uint8Array | undefined;
  readonly #slots: readonly (KeySlot | null)[];

  constructor(
    readonly location: string,
    readonly credentials: readonly Credential[],
    slots: readonly (KeySlot | null)[],
    password: Uint8Array | undefined,
  ) {
    this.#slots = slots;
    this.loginRequired = slots.some((s) => s?.file.encrypted === true);
    if (!this.loginRequired) {
      // No encrypted key: parse them all now, so a bad key fails at open.
      this.#ring = this.#loadAll(undefined) ?? undefined;
    } else if (password !== undefined) {
      const ring = this.#loadAll(password);
      if (ring === null) throw new KeyStoreError("KEYSTORE_BAD_PASSWORD", `wrong password for the keys in PEM directory ${location}`);
      this.#ring = ring;
      this.#password = copySecret(password);
    }
  }

  openKeys(pin?: Uint8Array): KeyRing | null {
    if (!this.loginRequired) return this.#ring ?? null;
    if (pin === undefined) return null;
    if (this.#password !== undefined) return secretsEqual(pin, this.#password) ? (this.#ring ?? null) : null;
    if (this.#ring === undefined) {
      this.#ring = this.#loadAll(pin) ?? undefined;
      return this.#ring ?? null;
    }
    // Keys already loaded: the PIN must still be the password. Decrypting one
    // key again checks it without keeping the password around.
    const probe = this.#slots.find((s) => s?.file.encrypted === true);
    return probe && decryptKey(probe.file, pin) !== null ? this.#ring : null;
  }

  /** Parses every key; null when `password` does not decrypt one of them. */
  #loadAll(password: Uint8Array | undefined): RsaKeyRing | null {
    const keys: (RsaPrivateKey | null)[] = [];
    for (const slot of this.#slots) {
      if (slot === null) {
        keys.push(null);
        continue;
      }
      const key = slot.file.encrypted ? decryptKey(slot.file, password) : plainKey(slot.file);
      if (key === null) return null;
      keys.push(checkedRsaKey(key, slot));
    }
    return new RsaKeyRing(keys);
  }
}

function plainKey(file: PemKeyFile): KeyObject {
  try {
    return createPrivateKey({ key: file.pem, format: "pem" });
  } catch {
    throw new KeyStoreError("KEYSTORE_CORRUPT", `${file.path} is not a readable private key`);
  }
}

/** Decrypts an encrypted PEM key; null when the password is wrong (or missing). */
function decryptKey(file: PemKeyFile, password: Uint8Array | undefined): KeyObject | null {
  if (password === undefined || password.length === 0) return null;
  try {
    return createPrivateKey({ key: file.pem, format: "pem", passphrase: Buffer.from(password) });
  } catch {
    // OpenSSL reports a wrong password and a damaged file alike ("bad decrypt").
    return null;
  }
}

/** The key as an RSA key that matches its certificate, or KEYSTORE_CORRUPT/UNSUPPORTED naming the file. */
function checkedRsaKey(key: KeyObject, slot: KeySlot): RsaPrivateKey {
  const rsa = toRsaPrivateKey(key);
  if (rsa === null) {
    throw new KeyStoreError("KEYSTORE_UNSUPPORTED", `${slot.file.path} is a ${key.asymmetricKeyType ?? "non-RSA"} key; only RSA keys are supported`);
  }
  if (slot.certModulus === null || !sameUnsigned(rsa.modulus, slot.certModulus)) {
    throw new KeyStoreError("KEYSTORE_CORRUPT", `${slot.file.path} does not match its certificate's public key`);
  }
  return rsa;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
