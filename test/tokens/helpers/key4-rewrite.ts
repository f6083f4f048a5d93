/**
 * Rewrites a key4.db in memory (sql.js), for tests: re-encrypt every private
 * attribute under another password and scheme, or run arbitrary SQL to damage
 * it. The source DB's values are decrypted with the reader under test, which
 * other tests check against certutil-made DBs.
 */
import type { Database } from "sql.js";
import { loadSqlEngine } from "../../../src/tokens/nss/sqlite.js";
import { decryptNssData, parseEncryptedData } from "../../../src/tokens/nss/pbe.js";
import { encryptLegacy3des, encryptPbes2, makeMac, passKeyFor, PASSWORD_CHECK, type Digest } from "./nss-writer.js";
import { SeededBytes } from "./seeded.js";

/** New global salts: seeded, so a rewritten DB is the same on every run. */
const salts = new SeededBytes("key4 global salts");

/** CKA_VALUE and the six RSA CRT attributes: the ones NSS encrypts (sftkdb.c sftkdb_isPrivateAttribute). */
const ENCRYPTED_COLUMNS: Record<string, number> = {
  a11: 0x11, a123: 0x123, a124: 0x124, a125: 0x125, a126: 0x126, a127: 0x127, a128: 0x128,
};

export type RewriteScheme =
  | { kind: "pbes2"; globalSaltBytes: 20 | 48; prf?: Digest; iterations?: number; macDigest?: Digest }
  | { kind: "legacy-3des"; iterations?: number };

async function withDb<T>(bytes: Uint8Array, edit: (db: Database) => T | Promise<T>): Promise<{ bytes: Uint8Array; result: T }> {
  const SQL = await loadSqlEngine();
  const db = new SQL.Database(bytes);
  try {
    const result = await edit(db);
    return { bytes: db.export(), result };
  } finally {
    db.close();
  }
}

/** Runs `sql` (one or more statements) against a copy of the DB and returns the new file bytes. */
export async function editDb(bytes: Uint8Array, sql: string): Promise<Uint8Array> {
  return (await withDb(bytes, (db) => db.exec(sql))).bytes;
}

/** Re-encrypts the whole key DB under `newPassword` with `scheme`, as a different NSS version would have. */
export async function rewriteKey4(
  key4: Uint8Array,
  oldPassword: string,
  newPassword: string,
  scheme: RewriteScheme,
): Promise<Uint8Array> {
  const { bytes } = await withDb(key4, async (db) => {
    const pw = db.exec("SELECT item1 FROM metaData WHERE id = 'password'")[0].values[0][0] as Uint8Array;
    const oldKey = passKeyFor(pw, oldPassword);
    const newSalt = salts.next(scheme.kind === "pbes2" ? scheme.globalSaltBytes : 20);
    const newKey = passKeyFor(newSalt, newPassword);
    const encrypt = (plain: Uint8Array) =>
      scheme.kind === "pbes2"
        ? encryptPbes2(plain, newKey, { prf: scheme.prf ?? "sha256", iterations: scheme.iterations ?? 1 })
        : encryptLegacy3des(plain, newKey, scheme.iterations ?? 1);
    db.run("UPDATE metaData SET item1 = ?, item2 = ? WHERE id = 'password'", [newSalt, encrypt(PASSWORD_CHECK)]);
    // The pre-3.49 format has no MACs; for PBES2 only the encrypted values' MACs are rewritten.
    db.run("DELETE FROM metaData WHERE id LIKE 'sig_%'");
    const rows = db.exec("SELECT * FROM nssPrivate")[0];
    for (const values of rows.values) {
      const id = values[rows.columns.indexOf("id")] as number;
      for (const [column, type] of Object.entries(ENCRYPTED_COLUMNS)) {
        const i = rows.columns.indexOf(column);
        const blob = i < 0 ? null : values[i];
        if (!(blob instanceof Uint8Array)) continue;
        const plain = await decryptNssData(parseEncryptedData(blob), oldKey);
        if (plain === null) throw new Error(`cannot decrypt ${column} of ${id} with the old password`);
        db.run(`UPDATE nssPrivate SET ${column} = ? WHERE id = ?`, [encrypt(plain), id]);
        if (scheme.kind === "pbes2") {
          const rowId = `sig_key_${id.toString(16).padStart(8, "0")}_${type.toString(16).padStart(8, "0")}`;
          const mac = makeMac(newKey, 0, type, plain, { digest: scheme.macDigest ?? "sha256", iterations: scheme.iterations ?? 1 });
          db.run("INSERT INTO metaData (id, item1) VALUES (?, ?)", [rowId, mac]);
        }
      }
    }
  });
  return bytes;
}
