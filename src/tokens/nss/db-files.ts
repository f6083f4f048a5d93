/**
 * Locating and reading the two files of an NSS sql: database. Only cert9.db
 * and key4.db are read; pkcs11.txt is never opened, because loading the
 * modules it lists is how a card ends up talking to itself through PC/SC
 * (virt_cacard issue #3: NSS loading OpenSC through p11-kit deadlocked on its own PC/SC card).
 */
import { join, resolve } from "node:path";
import { checkListable, isDirectory, isFile, statOrNull } from "../../util/fs.js";
import { FileReadError, readFileBounded } from "../../util/read-file.js";
import { KeyStoreError } from "../../core/token/types.js";

export const CERT_DB_FILE = "cert9.db";
export const KEY_DB_FILE = "key4.db";
/** The legacy Berkeley-DB pair (NSS lib/softoken/legacydb). */
const LEGACY_CERT_DB_FILE = "cert8.db";
const LEGACY_KEY_DB_FILE = "key3.db";

/** NSS's database-type prefixes; only sql: is read. */
const SQL_PREFIX = "sql:";
const OTHER_PREFIXES = ["dbm:", "extern:", "rdb:", "multiaccess:"];

/**
 * Largest cert9.db or key4.db read. Real NSS DBs are tens of KiB (a few MiB
 * with thousands of certificates). sql.js copies the file into its
 * WebAssembly memory, which only grows, and reads the tables into objects:
 * a DB costs about 5-6 times its size for the life of the process (155 MB
 * took 874 MB), so a wrong path (a disk image, a huge or hostile DB) is
 * refused from its size before any of it is read.
 */
export const MAX_DB_FILE_BYTES = 32 * 1024 * 1024;

/** How to turn a legacy dbm: DB into one this reader understands (verified with NSS 3.87). */
const CONVERT_HINT =
  "convert it with: certutil -N -d sql:NEWDIR && certutil --merge -d sql:NEWDIR --source-dir dbm:OLDDIR";

export interface NssDbFiles {
  /** The absolute directory, without any "sql:" prefix. */
  readonly dir: string;
  readonly certDbPath: string;
  readonly keyDbPath: string;
  readonly certDb: Uint8Array;
  readonly keyDb: Uint8Array;
}

/** Strips an optional "sql:" prefix and resolves the directory. Throws for other prefixes. */
export function nssDirectory(db: string): string {
  if (db.startsWith(SQL_PREFIX)) return resolve(db.slice(SQL_PREFIX.length));
  const other = OTHER_PREFIXES.find((p) => db.startsWith(p));
  if (other !== undefined) {
    const hint = other === "dbm:" ? `; ${CONVERT_HINT}` : "";
    throw new KeyStoreError("KEYSTORE_UNSUPPORTED", `${db}: only sql: NSS databases can be read${hint}`);
  }
  return resolve(db);
}

/** True when `dir` holds a cert9.db (what openKeyStore uses to pick this reader). */
export function isNssDirectory(dir: string): boolean {
  return isFile(join(dir, CERT_DB_FILE));
}

/** True when `dir` holds only the legacy cert8.db/key3.db pair. */
export function isLegacyNssDirectory(dir: string): boolean {
  return !isFile(join(dir, CERT_DB_FILE)) && isFile(join(dir, LEGACY_CERT_DB_FILE)) && isFile(join(dir, LEGACY_KEY_DB_FILE));
}

/**
 * Reads cert9.db and key4.db of the DB named by `db` (a directory, "sql:"
 * allowed). Throws KEYSTORE_NOT_FOUND for a missing directory or file,
 * KEYSTORE_UNSUPPORTED for a legacy dbm: DB.
 */
export function readNssDbFiles(db: string): NssDbFiles {
  const dir = nssDirectory(db);
  const st = keyStoreStat(dir);
  if (st === null || !st.isDirectory()) {
    const what = st === null ? "does not exist" : "is a file, not a directory";
    throw new KeyStoreError("KEYSTORE_NOT_FOUND", `NSS database directory ${dir} ${what}`);
  }
  keyStoreListable(dir);
  if (isLegacyNssDirectory(dir)) {
    throw new KeyStoreError(
      "KEYSTORE_UNSUPPORTED",
      `${dir} is a legacy dbm: NSS database (cert8.db/key3.db), which is not supported; ${CONVERT_HINT}`,
    );
  }
  const certDbPath = join(dir, CERT_DB_FILE);
  const keyDbPath = join(dir, KEY_DB_FILE);
  return { dir, certDbPath, keyDbPath, certDb: readDbFile(certDbPath), keyDb: readDbFile(keyDbPath) };
}

/** stat() for key-store paths: null when missing, KEYSTORE_UNREADABLE when the OS refuses. */
export function keyStoreStat(path: string): ReturnType<typeof statOrNull> {
  try {
    return statOrNull(path);
  } catch (e) {
    throw unreadable(e);
  }
}

/** KEYSTORE_UNREADABLE when a key-store directory cannot be listed (permissions). */
export function keyStoreListable(dir: string): void {
  try {
    checkListable(dir);
  } catch (e) {
    throw unreadable(e);
  }
}

function unreadable(e: unknown): unknown {
  return e instanceof FileReadError ? new KeyStoreError("KEYSTORE_UNREADABLE", e.message, { cause: e }) : e;
}

function readDbFile(path: string): Uint8Array {
  const st = keyStoreStat(path);
  if (st === null) throw new KeyStoreError("KEYSTORE_NOT_FOUND", `${path} does not exist`);
  if (!st.isFile()) throw new KeyStoreError("KEYSTORE_NOT_FOUND", `${path} is not a file`);
  if (st.size > MAX_DB_FILE_BYTES) {
    throw new KeyStoreError(
      "KEYSTORE_CORRUPT",
      `${path} is ${st.size} bytes; an NSS database file may have at most ${MAX_DB_FILE_BYTES} (MAX_DB_FILE_BYTES)`,
    );
  }
  try {
    return readFileBounded(path, { maxBytes: MAX_DB_FILE_BYTES });
  } catch (err) {
    if (!(err instanceof FileReadError)) throw err;
    const code =
      err.code === "FILE_ACCESS" ? "KEYSTORE_UNREADABLE" : err.code === "FILE_TOO_LARGE" ? "KEYSTORE_CORRUPT" : "KEYSTORE_NOT_FOUND";
    throw new KeyStoreError(code, `${path} cannot be read: ${err.reason}`, { cause: err });
  }
}
