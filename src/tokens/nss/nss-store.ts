/**
 * The NSS key store: certificates from cert9.db by nickname, their private
 * keys from key4.db by CKA_ID, decrypted with the DB password — without NSS.
 *
 * Everything is read at open time and both SQLite files are closed again;
 * later calls never touch the disk. Lookup follows libcacard/NSS (reference
 * nss-db-and-qemu.md §A.1.2): the certificate is the nssPublic object of
 * class CKO_CERTIFICATE whose CKA_LABEL is the nickname, and its key is the
 * nssPrivate CKO_PRIVATE_KEY object with the same CKA_ID.
 */
import type { SqlJsStatic } from "sql.js";
import { parseCertificate, type ParsedCertificate } from "../credential.js";
import { RsaKeyRing, sameUnsigned, stripLeadingZeros } from "../rsa-ring.js";
import { copySecret, secretsEqual } from "../secret.js";
import { selectCredentials } from "../selection.js";
import {
  KeyStoreError,
  type Credential,
  type KeyRing,
  type KeyStore,
  type OpenKeyStoreOptions,
} from "../types.js";
import { CKA, type MetaDataItem, type NssObject } from "./attributes.js";
import { readNssDbFiles, type NssDbFiles } from "./db-files.js";
import { NssPbeFormatError } from "./pbe.js";
import { checkPassword, readPasswordEntry, type PasswordEntry } from "./password.js";
import { findCertificate, findKey } from "./lookup.js";
import { decryptRsaKey, isRsaKeyObject } from "./private-key.js";
import { readNssTables, type NssTables } from "./tables.js";

const EMPTY_PASSWORD = new Uint8Array(0);

/** What key4.db says about login and how to decrypt one credential's key. */
interface KeySource {
  readonly passwordEntry: PasswordEntry | undefined;
  readonly meta: ReadonlyMap<string, MetaDataItem>;
  /** Per credential: its key4.db object, or null when it has none. */
  readonly keys: readonly (NssObject | null)[];
  /** Per credential: the certificate's RSA modulus, which its key must have. */
  readonly certModuli: readonly (Uint8Array | null)[];
}

/**
 * Opens the NSS DB of `options` with an already loaded sql.js engine.
 * Synchronous; `openKeyStore` (open.ts) is the usual async entry point.
 */
export function openNssKeyStoreWith(engine: SqlJsStatic, options: OpenKeyStoreOptions): KeyStore {
  return buildNssKeyStore(engine, readNssDbFiles(options.db), options);
}

/** Builds the store from DB file contents already read (see readNssDbFiles). */
export function buildNssKeyStore(engine: SqlJsStatic, files: NssDbFiles, options: OpenKeyStoreOptions): KeyStore {
  return nssKeyStoreFromTables(readNssTables(engine, files), files, options);
}

/**
 * Builds the store from the rows of both files (see tables.ts), wherever they
 * were read. Checks the password and, unless deferred, decrypts the keys.
 */
export function nssKeyStoreFromTables(
  tables: NssTables,
  files: Pick<NssDbFiles, "dir" | "keyDbPath">,
  options: OpenKeyStoreOptions,
): KeyStore {
  const where = `NSS database ${files.dir}`;
  const { certObjects, keyObjects, meta } = tables;

  const selected = selectCredentials(options, where, (nickname) => findCertificate(certObjects, keyObjects, nickname));
  const parsed: ParsedCertificate[] = selected.map(({ nickname, found }) => {
    const der = found.attributes.get(CKA.VALUE);
    const source = `certificate ${JSON.stringify(nickname)} in ${where}`;
    if (der === undefined || der.length === 0) throw new KeyStoreError("KEYSTORE_CORRUPT", `${source} has no DER value`);
    return parseCertificate(nickname, der, source);
  });
  const keys = selected.map(({ found }, i) => findKey(keyObjects, found, parsed[i].rsaModulus));

  let passwordEntry: PasswordEntry | undefined;
  try {
    passwordEntry = readPasswordEntry(meta);
  } catch (err) {
    throw pbeError(err, files.keyDbPath);
  }
  if (passwordEntry === undefined && keys.some((k) => k !== null)) {
    throw new KeyStoreError("KEYSTORE_CORRUPT", `${files.keyDbPath} holds private keys but no password entry`);
  }
  return new NssKeyStore(
    files.dir,
    parsed.map((p) => p.credential),
    { passwordEntry, meta, keys, certModuli: parsed.map((p) => p.rsaModulus) },
    options.password,
    files.keyDbPath,
    options.deferKeyDecryption === true,
  );
}

class NssKeyStore implements KeyStore {
  readonly kind = "nss";
  readonly loginRequired: boolean;
  /** Decrypted keys, built once (at open, or at the first good PIN) and reused. */
  #ring: RsaKeyRing | undefined;
  /** The password given at open time, which VERIFY must then match exactly. */
  readonly #password: Uint8Array | undefined;

  constructor(
    readonly location: string,
    readonly credentials: readonly Credential[],
    private readonly source: KeySource,
    password: Uint8Array | undefined,
    private readonly keyDbPath: string,
    private readonly deferKeys: boolean,
  ) {
    const entry = source.passwordEntry;
    if (entry === undefined) {
      // No password entry: no key can exist (checked by the caller).
      this.loginRequired = false;
      this.#ring = new RsaKeyRing(source.keys.map(() => null));
      return;
    }
    const emptyKey = checkPassword(entry, EMPTY_PASSWORD);
    this.loginRequired = emptyKey === null;
    if (emptyKey !== null) {
      // A DB without a password: NSS needs no login and any PIN is accepted.
      // A password given by the caller is then irrelevant and ignored.
      this.#ring = this.#deferredRing(emptyKey);
      return;
    }
    if (password !== undefined) {
      const passKey = checkPassword(entry, password);
      if (passKey === null) throw new KeyStoreError("KEYSTORE_BAD_PASSWORD", `wrong password for NSS database ${this.location}`);
      this.#ring = this.#deferredRing(passKey);
      this.#password = copySecret(password);
    }
  }

  openKeys(pin?: Uint8Array): KeyRing | null {
    if (!this.loginRequired) return this.#ring ?? null;
    if (pin === undefined) return null;
    if (this.#password !== undefined) return secretsEqual(pin, this.#password) ? (this.#ring ?? null) : null;
    // No password given up front: the PIN is tried as the DB password.
    const entry = this.source.passwordEntry;
    if (entry === undefined) return null;
    const passKey = checkPassword(entry, pin);
    if (passKey === null) return null;
    if (this.#ring === undefined) this.#ring = this.#deferredRing(passKey);
    else passKey.fill(0);
    return this.#ring;
  }

  /**
   * A ring whose keys are decrypted on first use (see DeferredRsaKey). What can
   * be checked without decrypting is checked now: each key's clear modulus
   * must be its certificate's. Takes ownership of `passKey` and zeroes it once
   * every key is loaded.
   */
  #deferredRing(passKey: Uint8Array): RsaKeyRing {
    const pass = Uint8Array.from(passKey);
    passKey.fill(0);
    let pending = 0;
    const entries = this.source.keys.map((key, i) => {
      if (key === null || !isRsaKeyObject(key)) return null;
      const what = `private key of ${JSON.stringify(this.credentials[i].nickname)} in ${this.keyDbPath}`;
      // Matched by CKA_ID, which is only a label; the numbers must agree too.
      const keyModulus = key.attributes.get(CKA.MODULUS);
      const certModulus = this.source.certModuli[i];
      if (keyModulus === undefined || certModulus === null || !sameUnsigned(keyModulus, certModulus)) {
        throw new KeyStoreError("KEYSTORE_CORRUPT", `${what} does not match its certificate's public key`);
      }
      pending++;
      return {
        modulusLength: stripLeadingZeros(certModulus).length,
        load: () => {
          const rsa = decryptRsaKey(key, pass, this.source.meta, what);
          if (--pending === 0) pass.fill(0);
          return rsa;
        },
      };
    });
    if (pending === 0) pass.fill(0);
    const ring = new RsaKeyRing(entries);
    if (!this.deferKeys) ring.loadAll();
    return ring;
  }
}

function pbeError(err: unknown, path: string): unknown {
  if (err instanceof NssPbeFormatError) {
    const code = err.reason === "unsupported" ? "KEYSTORE_UNSUPPORTED" : "KEYSTORE_CORRUPT";
    return new KeyStoreError(code, `${path}: password entry: ${err.message}`);
  }
  return err;
}
