/**
 * PKCS#11 objects as NSS's sql: databases store them (NSS
 * lib/softoken/sdb.c): one row per object, one column per attribute
 * type named "a" + lowercase hex of the CKA_ value, every value a BLOB.
 */
import type { SqliteCell, SqliteSnapshot } from "./sqlite.js";

/** PKCS#11 attribute types used here (pkcs11t.h). */
export const CKA = {
  CLASS: 0x000,
  LABEL: 0x003,
  VALUE: 0x011,
  KEY_TYPE: 0x100,
  ID: 0x102,
  MODULUS: 0x120,
  PUBLIC_EXPONENT: 0x122,
  PRIVATE_EXPONENT: 0x123,
  PRIME_1: 0x124,
  PRIME_2: 0x125,
  EXPONENT_1: 0x126,
  EXPONENT_2: 0x127,
  COEFFICIENT: 0x128,
  /** The curve's DER OID (CKA_EC_PARAMS, also CKA_ECDSA_PARAMS). */
  EC_PARAMS: 0x180,
} as const;

/** Object classes (CKO_*) and key types (CKK_*). */
export const CKO_CERTIFICATE = 0x1;
export const CKO_PRIVATE_KEY = 0x3;
export const CKK_RSA = 0x0;
export const CKK_EC = 0x3;

/** Table names: certificates live in cert9.db, private keys and metadata in key4.db (sdb.c). */
export const PUBLIC_TABLE = "nssPublic";
export const PRIVATE_TABLE = "nssPrivate";
export const META_TABLE = "metaData";

/**
 * An attribute present with length 0 is stored as these 3 bytes, because
 * SQLite NULL already means "absent" (sdb.c SQLITE_EXPLICIT_NULL, sdb.c).
 */
const EXPLICIT_EMPTY = Uint8Array.of(0xa5, 0x00, 0x5a);

/** CK_ULONG attributes are stored as 4-byte big-endian numbers (SDB_ULONG_SIZE, sdb.c). */
const STORED_ULONG_BYTES = 4;

/** The row id column; NSS's object handle in the DB. */
const ID_COLUMN = "id";

/** Column name of an attribute type: "a" + lowercase hex, no zero padding (format "a%x"). */
export function attributeColumn(type: number): string {
  return "a" + type.toString(16);
}

/** The stored form of a CK_ULONG value, e.g. for matching CKA_CLASS in SQL. */
export function encodeStoredULong(value: number): Uint8Array {
  const out = new Uint8Array(STORED_ULONG_BYTES);
  new DataView(out.buffer).setUint32(0, value >>> 0, false);
  return out;
}

/** Reads a stored CK_ULONG; undefined when the value is not exactly 4 bytes. */
export function decodeStoredULong(value: Uint8Array | undefined): number | undefined {
  if (value === undefined || value.length !== STORED_ULONG_BYTES) return undefined;
  return new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(0, false);
}

/**
 * Turns one cell into an attribute value: undefined when absent (SQL NULL),
 * empty for the explicit-empty marker, the bytes otherwise. A TEXT cell (a
 * hand-edited DB) is read as its UTF-8 bytes; a number is not an attribute.
 */
export function decodeCell(cell: SqliteCell | undefined): Uint8Array | undefined {
  if (cell === null || cell === undefined) return undefined;
  if (cell instanceof Uint8Array) return isExplicitEmpty(cell) ? new Uint8Array(0) : cell;
  if (typeof cell === "string") return new TextEncoder().encode(cell);
  return undefined;
}

function isExplicitEmpty(value: Uint8Array): boolean {
  return (
    value.length === EXPLICIT_EMPTY.length &&
    value[0] === EXPLICIT_EMPTY[0] &&
    value[1] === EXPLICIT_EMPTY[1] &&
    value[2] === EXPLICIT_EMPTY[2]
  );
}

/** The attributes to read from nssPrivate: an RSA key's, then an EC key's (its private value is CKA_VALUE). */
export const KEY_ATTRIBUTES: readonly number[] = [
  CKA.KEY_TYPE,
  CKA.ID,
  CKA.MODULUS,
  CKA.PUBLIC_EXPONENT,
  CKA.PRIVATE_EXPONENT,
  CKA.PRIME_1,
  CKA.PRIME_2,
  CKA.EXPONENT_1,
  CKA.EXPONENT_2,
  CKA.COEFFICIENT,
  CKA.EC_PARAMS,
  CKA.VALUE,
];

/** One PKCS#11 object read from a table: its row id and the attributes asked for that it has. */
export interface NssObject {
  readonly id: number;
  readonly attributes: ReadonlyMap<number, Uint8Array>;
}

/**
 * Reads every object of class `objectClass` from `table`, with the attribute
 * types in `types`. The table's columns are read from its schema first: NSS
 * adds columns over time (sdb_update_column), so a column we want may be
 * missing from an older file, which simply means "attribute absent".
 */
export function readObjects(
  db: SqliteSnapshot,
  table: string,
  objectClass: number,
  types: readonly number[],
): NssObject[] {
  const present = new Set(db.columns(table));
  const classColumn = attributeColumn(CKA.CLASS);
  if (!present.has(ID_COLUMN) || !present.has(classColumn)) return [];
  const wanted = types.map((t) => ({ type: t, column: attributeColumn(t) })).filter((w) => present.has(w.column));
  const rows = db.select(table, [ID_COLUMN, ...wanted.map((w) => w.column)], {
    column: classColumn,
    equals: encodeStoredULong(objectClass),
  });
  const objects: NssObject[] = [];
  for (const row of rows) {
    const id = row.get(ID_COLUMN);
    if (typeof id !== "number" || !Number.isSafeInteger(id)) continue;
    const attributes = new Map<number, Uint8Array>();
    for (const w of wanted) {
      const value = decodeCell(row.get(w.column));
      if (value !== undefined) attributes.set(w.type, value);
    }
    objects.push({ id, attributes });
  }
  return objects;
}

/** A metaData row: item1 and item2 as bytes (absent → undefined). */
export interface MetaDataItem {
  readonly item1: Uint8Array | undefined;
  readonly item2: Uint8Array | undefined;
}

/** Reads every key4.db metaData row by id ("password", "sig_key_…", sftkpwd.c). */
export function readMetaData(db: SqliteSnapshot): Map<string, MetaDataItem> {
  const out = new Map<string, MetaDataItem>();
  const present = new Set(db.columns(META_TABLE));
  if (!present.has(ID_COLUMN)) return out;
  const columns = [ID_COLUMN, "item1", "item2"].filter((c) => present.has(c));
  for (const row of db.select(META_TABLE, columns)) {
    const id = row.get(ID_COLUMN);
    if (typeof id !== "string") continue;
    // metaData items are plain BLOBs; the explicit-empty marker does not apply here.
    out.set(id, { item1: blobOf(row.get("item1")), item2: blobOf(row.get("item2")) });
  }
  return out;
}

function blobOf(cell: SqliteCell | undefined): Uint8Array | undefined {
  return cell instanceof Uint8Array ? cell : undefined;
}
