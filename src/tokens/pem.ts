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
import { readdirSync } from "node:fs";
import { basename, extname, resolve } from "node:path";
import { isDirectory } from "../util/fs.js";
import { parseCertificate, toCredential, type ParsedCertificate } from "./credential.js";
import { CERT_EXTENSIONS, findCertificateFile, isFileStem, readCertificateFile, readKeyFile, type PemKeyFile } from "./pem-files.js";
import { keyMatchesPublic, SoftPrivateKey, SoftSession } from "./soft-key.js";
import { copySecret, secretsEqual } from "./secret.js";
import { selectCredentials } from "./selection.js";
import { KeyStoreError, type Credential, type KeyStore, type LoginResult } from "../core/token/types.js";
import type { OpenKeyStoreOptions } from "./options.js";

/** One credential's key file together with the certificate it must belong to. */
interface KeySlot {
  readonly file: PemKeyFile;
  readonly certificate: ParsedCertificate;
}

const WRONG_PIN: LoginResult = { ok: false, reason: "wrong-pin" };

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
  const selected = selectCredentials(
    options,
    where,
    (nickname) => findCertificateFile(dir, nickname),
    () => pemNicknames(dir),
  );
  const credentials: Credential[] = [];
  const slots: (KeySlot | null)[] = [];
  for (const { nickname, found: certPath } of selected) {
    const parsed = parseCertificate(nickname, readCertificateFile(certPath), certPath);
    const file = readKeyFile(dir, nickname);
    // A key the card cannot use (Ed25519, ...) counts as none, as in the NSS store.
    credentials.push(toCredential(parsed, file !== undefined && parsed.algorithm.kind !== "unsupported"));
    slots.push(file === undefined ? null : { file, certificate: parsed });
  }
  return new PemKeyStore(dir, credentials, slots, options.password);
}

/** The file stems of a PEM directory's certificates (.pem and .crt), sorted. */
export function pemNicknames(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const stems = names
    .filter((n) => (CERT_EXTENSIONS as readonly string[]).includes(extname(n).toLowerCase()))
    .map((n) => basename(n, extname(n)))
    .filter(isFileStem);
  return [...new Set(stems)].sort();
}

class PemKeyStore implements KeyStore {
  readonly kind = "pem";
  readonly loginRequired: boolean;
  /** Keys parsed once (at open, or at the first good PIN) and reused. */
  #session: SoftSession | undefined;
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
      this.#session = this.#loadAll(undefined) ?? undefined;
    } else if (password !== undefined) {
      const session = this.#loadAll(password);
      if (session === null) throw new KeyStoreError("KEYSTORE_BAD_PASSWORD", `wrong password for the keys in PEM directory ${location}`);
      this.#session = session;
      this.#password = copySecret(password);
    }
  }

  login(pin?: Uint8Array): LoginResult {
    const session = this.#open(pin);
    return session === null ? WRONG_PIN : { ok: true, session };
  }

  #open(pin: Uint8Array | undefined): SoftSession | null {
    if (!this.loginRequired) return this.#session ?? null;
    if (pin === undefined) return null;
    if (this.#password !== undefined) return secretsEqual(pin, this.#password) ? (this.#session ?? null) : null;
    if (this.#session === undefined) {
      this.#session = this.#loadAll(pin) ?? undefined;
      return this.#session ?? null;
    }
    // Keys already loaded: the PIN must still be the password. Decrypting one
    // key again checks it without keeping the password around.
    const probe = this.#slots.find((s) => s?.file.encrypted === true);
    return probe && decryptKey(probe.file, pin) !== null ? this.#session : null;
  }

  /** Parses every key; null when `password` does not decrypt one of them. */
  #loadAll(password: Uint8Array | undefined): SoftSession | null {
    const keys: (SoftPrivateKey | null)[] = [];
    // Keys the card cannot use (an Ed25519 key) are checked like the others, then left out.
    for (const slot of this.#slots) {
      if (slot === null) {
        keys.push(null);
        continue;
      }
      const key = slot.file.encrypted ? decryptKey(slot.file, password) : plainKey(slot.file);
      if (key === null) return null;
      const checked = checkedKey(key, slot);
      keys.push(checked.algorithm.kind === "unsupported" ? null : checked);
    }
    return new SoftSession(keys);
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

/** The key, checked to belong to its certificate: KEYSTORE_CORRUPT naming the file otherwise. */
function checkedKey(key: KeyObject, slot: KeySlot): SoftPrivateKey {
  const { publicKey } = slot.certificate;
  if (publicKey === null || !keyMatchesPublic(key, publicKey)) {
    throw new KeyStoreError("KEYSTORE_CORRUPT", `${slot.file.path} does not match its certificate's public key`);
  }
  return new SoftPrivateKey(key);
}
