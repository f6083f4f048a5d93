/**
 * The NSS key store: certificates from cert9.db by nickname, their private
 * keys from key4.db by CKA_ID, decrypted with the DB password — without NSS.
 *
 * Everything is read at open time and both SQLite files are closed again;
 * later calls never touch the disk. Lookup follows libcacard/NSS (libcacard
 * vcard_emul_nss.c, NSS PK11_FindCertFromNickname): the certificate is the nssPublic object of
 * class CKO_CERTIFICATE whose CKA_LABEL is the nickname, and its key is the
 * nssPrivate CKO_PRIVATE_KEY object with the same CKA_ID.
 */
import type { KeyObject } from "node:crypto";
import { parseCertificate, toCredential, type ParsedCertificate } from "../credential.js";
import { DeferredPrivateKey, rsaModulusOf, sameUnsigned, SoftSession } from "../soft-key.js";
import { copySecret, secretsEqual } from "../secret.js";
import { selectCredentials } from "../selection.js";
import { KeyStoreError, type KeyStore, type LoginResult, type PrivateKey } from "../../core/token/types.js";
import type { OpenKeyStoreOptions } from "../options.js";
import { CKA, type MetaDataItem, type NssObject } from "./attributes.js";
import type { NssDbFiles } from "./db-files.js";
import { NssPbeFormatError } from "./pbe.js";
import { checkPassword, readPasswordEntry, type PasswordEntry } from "./password.js";
import { findCertificate, findKey } from "./lookup.js";
import { decryptEcKey, decryptRsaKey, ecKeyCurve, keyObjectType } from "./private-key.js";
import type { NssTables } from "./tables.js";

const EMPTY_PASSWORD = new Uint8Array(0);
const WRONG_PIN: LoginResult = { ok: false, reason: "wrong-pin" };

/** What key4.db says about login and how to decrypt one credential's key. */
interface KeySource {
  readonly passwordEntry: PasswordEntry | undefined;
  readonly meta: ReadonlyMap<string, MetaDataItem>;
  /** Per credential: its usable key4.db object, or null when it has none. */
  readonly keys: readonly (NssObject | null)[];
  readonly certificates: readonly ParsedCertificate[];
}

/**
 * Builds the store from the rows of both files (see tables.ts), wherever they
 * were read. Checks the password and, unless deferred, decrypts the keys.
 */
export async function nssKeyStoreFromTables(
  tables: NssTables,
  files: Pick<NssDbFiles, "dir" | "keyDbPath">,
  options: OpenKeyStoreOptions,
): Promise<KeyStore> {
  const where = `NSS database ${files.dir}`;
  const { certObjects, keyObjects, meta } = tables;

  const selected = selectCredentials(options, where, (nickname) => findCertificate(certObjects, keyObjects, nickname));
  const certificates: ParsedCertificate[] = selected.map(({ nickname, found }) => {
    const der = found.attributes.get(CKA.VALUE);
    const source = `certificate ${JSON.stringify(nickname)} in ${where}`;
    if (der === undefined || der.length === 0) throw new KeyStoreError("KEYSTORE_CORRUPT", `${source} has no DER value`);
    return parseCertificate(nickname, der, source);
  });
  const keys = selected.map(({ found }, i) => {
    const modulus = certificates[i].publicKey ? rsaModulusOf(certificates[i].publicKey!) : null;
    const key = findKey(keyObjects, found, modulus);
    // A key of a type the card cannot use (DSA, ...) counts as no key.
    return key !== null && keyObjectType(key) !== "other" ? key : null;
  });

  let passwordEntry: PasswordEntry | undefined;
  try {
    passwordEntry = readPasswordEntry(meta);
  } catch (err) {
    throw pbeError(err, files.keyDbPath);
  }
  if (passwordEntry === undefined && keys.some((k) => k !== null)) {
    throw new KeyStoreError("KEYSTORE_CORRUPT", `${files.keyDbPath} holds private keys but no password entry`);
  }
  const store = new NssKeyStore(files.dir, { passwordEntry, meta, keys, certificates }, files.keyDbPath);
  await store.open(options.password, options.deferKeyDecryption === true);
  return store;
}

class NssKeyStore implements KeyStore {
  readonly kind = "nss";
  readonly credentials;
  loginRequired = false;
  /** The session over the keys, built once (at open, or at the first good PIN) and reused. */
  #session: SoftSession | undefined;
  /** The password given at open time, which VERIFY must then match exactly. */
  #password: Uint8Array | undefined;
  #deferKeys = false;

  constructor(
    readonly location: string,
    private readonly source: KeySource,
    private readonly keyDbPath: string,
  ) {
    this.credentials = source.certificates.map((c, i) => toCredential(c, source.keys[i] !== null));
  }

  async open(password: Uint8Array | undefined, deferKeys: boolean): Promise<void> {
    this.#deferKeys = deferKeys;
    const entry = this.source.passwordEntry;
    if (entry === undefined) {
      // No password entry: no key can exist (checked by the caller).
      this.#session = new SoftSession(this.source.keys.map(() => null));
      return;
    }
    const emptyKey = await checkPassword(entry, EMPTY_PASSWORD);
    this.loginRequired = emptyKey === null;
    if (emptyKey !== null) {
      // A DB without a password: NSS needs no login and any PIN is accepted.
      // A password given by the caller is then irrelevant and ignored.
      this.#session = await this.#sessionWith(emptyKey);
      return;
    }
    if (password !== undefined) {
      const passKey = await checkPassword(entry, password);
      if (passKey === null) throw new KeyStoreError("KEYSTORE_BAD_PASSWORD", `wrong password for NSS database ${this.location}`);
      this.#session = await this.#sessionWith(passKey);
      this.#password = copySecret(password);
    }
  }

  /**
   * Synchronous when nothing needs deriving (no password, or the password
   * given at open time to compare with): VERIFY then stays on the card's
   * synchronous path. A PIN tried as the DB password runs PBKDF2 off the
   * event loop.
   */
  login(pin?: Uint8Array): LoginResult | Promise<LoginResult> {
    const result = (session: SoftSession | undefined): LoginResult =>
      session === undefined ? WRONG_PIN : { ok: true, session };
    if (!this.loginRequired) return result(this.#session);
    if (pin === undefined) return WRONG_PIN;
    if (this.#password !== undefined) return result(secretsEqual(pin, this.#password) ? this.#session : undefined);
    return this.#derive(pin).then(result);
  }

  async #derive(pin: Uint8Array): Promise<SoftSession | undefined> {
    // No password given up front: the PIN is tried as the DB password.
    const entry = this.source.passwordEntry;
    if (entry === undefined) return undefined;
    const passKey = await checkPassword(entry, pin);
    if (passKey === null) return undefined;
    if (this.#session === undefined) this.#session = await this.#sessionWith(passKey);
    else passKey.fill(0);
    return this.#session;
  }

  /**
   * A session whose keys are decrypted on first use (DeferredPrivateKey). What
   * can be checked without decrypting is checked now: an RSA key's clear
   * modulus must be its certificate's, an EC key's curve its certificate's.
   * Takes ownership of `passKey` and zeroes it once every key is loaded.
   */
  async #sessionWith(passKey: Uint8Array): Promise<SoftSession> {
    const pass = Uint8Array.from(passKey);
    passKey.fill(0);
    let pending = 0;
    const keys = this.source.keys.map((key, i): PrivateKey | null => {
      if (key === null) return null;
      const certificate = this.source.certificates[i];
      const what = `private key of ${JSON.stringify(certificate.label)} in ${this.keyDbPath}`;
      const mismatch = () => new KeyStoreError("KEYSTORE_CORRUPT", `${what} does not match its certificate's public key`);
      const { algorithm, publicKey } = certificate;
      let load: () => Promise<KeyObject>;
      if (keyObjectType(key) === "rsa") {
        // Matched by CKA_ID, which is only a label; the numbers must agree too.
        const keyModulus = key.attributes.get(CKA.MODULUS);
        const certModulus = publicKey ? rsaModulusOf(publicKey) : null;
        if (keyModulus === undefined || certModulus === null || !sameUnsigned(keyModulus, certModulus)) throw mismatch();
        load = () => decryptRsaKey(key, pass, this.source.meta, what);
      } else {
        const curve = ecKeyCurve(key);
        if (algorithm.kind !== "ec" || curve !== algorithm.curve || publicKey === null) throw mismatch();
        const point = ecPoint(publicKey);
        load = () => decryptEcKey(key, curve, point, pass, this.source.meta, what);
      }
      pending++;
      return new DeferredPrivateKey(algorithm, async () => {
        const loaded = await load();
        if (--pending === 0) pass.fill(0);
        return loaded;
      });
    });
    if (pending === 0) pass.fill(0);
    const session = new SoftSession(keys);
    if (!this.#deferKeys) await session.loadAll();
    return session;
  }
}

/** An EC public key's uncompressed point 04 || X || Y. */
function ecPoint(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: "jwk" });
  const x = Buffer.from(String(jwk.x), "base64url");
  const y = Buffer.from(String(jwk.y), "base64url");
  return Uint8Array.from(Buffer.concat([Uint8Array.of(0x04), x, y]));
}

function pbeError(err: unknown, path: string): unknown {
  if (err instanceof NssPbeFormatError) {
    const code = err.code === "NSS_PBE_UNSUPPORTED" ? "KEYSTORE_UNSUPPORTED" : "KEYSTORE_CORRUPT";
    return new KeyStoreError(code, `${path}: password entry: ${err.message}`);
  }
  return err;
}
