/**
 * Locating and reading the two files of an NSS sql: database. Only cert9.db
 * and key4.db are read; pkcs11.txt is never opened, because loading the
 * modules it lists is how a card ends up talking to itself through PC/SC
 * (virt_cacard issue #3: NSS loading OpenSC through p11-kit deadlocked on its own PC/SC card).
 */
import { readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { isDirectory, isFile } from "../../util/fs.js";
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
 * Real NSS DBs are tens of KiB; this bound only stops a wrong path (a disk
 * image, say) from being copied into memory whole.
 */
export const MAX_DB_FILE_BYTES = 256 * 1024 * 1024;

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
  if (!isDirectory(dir)) {
    const what = isFile(dir) ? "is a file, not a directory" : "does not exist";
    throw new KeyStoreError("KEYSTORE_NOT_FOUND", `NSS database directory ${dir} ${what}`);
  }
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

function readDbFile(path: string): Uint8Array {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new KeyStoreError("KEYSTORE_NOT_FOUND", `${path} is not a file`);
    size = st.size;
  } catch (err) {
    if (err instanceof KeyStoreError) throw err;
    throw new KeyStoreError("KEYSTORE_NOT_FOUND", `${path} does not exist`);
  }
  if (size > MAX_DB_FILE_BYTES) {
    throw new KeyStoreError("KEYSTORE_CORRUPT", `${path} is ${size} bytes, too large for an NSS database`);
  }
  try {
    const bytes = readFileSync(path);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw new KeyStoreError("KEYSTORE_NOT_FOUND", `${path} cannot be read (${code})`);
  }
}


