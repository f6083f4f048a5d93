/**
 * The SQLite half of reading an NSS database: the rows of cert9.db's
 * nssPublic certificates, key4.db's nssPrivate RSA keys and its metaData, as
 * plain data (numbers, strings, Uint8Arrays in Maps). Plain so that it can
 * cross a worker boundary by structured clone (see table-reader.ts); nothing
 * here interprets or decrypts anything.
 */
import type { SqlJsStatic } from "sql.js";
import { KeyStoreError } from "../../core/token/types.js";
import {
  CKA,
  CKO_CERTIFICATE,
  CKO_PRIVATE_KEY,
  PRIVATE_TABLE,
  PUBLIC_TABLE,
  readMetaData,
  readObjects,
  type MetaDataItem,
  KEY_ATTRIBUTES,
  type NssObject,
} from "./attributes.js";
import type { NssDbFiles } from "./db-files.js";
import { SqliteReadError, SqliteSnapshot } from "./sqlite.js";

export interface NssTables {
  /** CKO_CERTIFICATE objects of cert9.db with CKA_LABEL, CKA_VALUE, CKA_ID. */
  readonly certObjects: NssObject[];
  /** CKO_PRIVATE_KEY objects of key4.db with the RSA key attributes. */
  readonly keyObjects: NssObject[];
  /** key4.db metaData rows by id (password check, integrity MACs). */
  readonly meta: Map<string, MetaDataItem>;
}

/** The two files' bytes, and their paths for error messages. */
export type NssTableInput = Pick<NssDbFiles, "certDb" | "keyDb" | "certDbPath" | "keyDbPath">;

/** Reads both files. SQLite problems become KEYSTORE_CORRUPT naming the file. */
export function readNssTables(engine: SqlJsStatic, input: NssTableInput): NssTables {
  const certObjects = withSnapshot(engine, input.certDb, input.certDbPath, (db) => {
    requireTable(db, PUBLIC_TABLE, input.certDbPath);
    return readObjects(db, PUBLIC_TABLE, CKO_CERTIFICATE, [CKA.LABEL, CKA.VALUE, CKA.ID]);
  });
  const { keyObjects, meta } = withSnapshot(engine, input.keyDb, input.keyDbPath, (db) => {
    requireTable(db, PRIVATE_TABLE, input.keyDbPath);
    return { keyObjects: readObjects(db, PRIVATE_TABLE, CKO_PRIVATE_KEY, KEY_ATTRIBUTES), meta: readMetaData(db) };
  });
  return { certObjects, keyObjects, meta };
}

/** Opens `bytes`, runs `read`, always closes; SQLite problems become KEYSTORE_CORRUPT naming `path`. */
function withSnapshot<T>(engine: SqlJsStatic, bytes: Uint8Array, path: string, read: (db: SqliteSnapshot) => T): T {
  let db: SqliteSnapshot | undefined;
  try {
    db = SqliteSnapshot.open(engine, bytes);
    return read(db);
  } catch (err) {
    if (err instanceof SqliteReadError) throw new KeyStoreError("KEYSTORE_CORRUPT", `${path}: ${err.message}`);
    throw err;
  } finally {
    db?.close();
  }
}

function requireTable(db: SqliteSnapshot, table: string, path: string): void {
  if (!db.tableNames().includes(table)) {
    throw new KeyStoreError("KEYSTORE_CORRUPT", `${path} is not an NSS database (no ${table} table)`);
  }
}
