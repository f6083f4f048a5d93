/**
 * openKeyStore: one entry point for every kind of key store, chosen by what
 * the directory holds.
 *
 * It is async for one reason only: the NSS reader uses sql.js, whose
 * WebAssembly engine loads asynchronously. Everything is read and checked
 * before the promise resolves, and the KeyStore it returns is fully
 * synchronous (openKeys, rsaPrivate, …), as the card's transmit path needs.
 */
import { readdirSync } from "node:fs";
import { extname, join } from "node:path";
import {
  CERT_DB_FILE,
  isLegacyNssDirectory,
  isNssDirectory,
  keyStoreListable,
  keyStoreStat,
  nssDirectory,
  readNssDbFiles,
} from "./nss/db-files.js";
import { CERT_EXTENSIONS } from "./pem-files.js";
import { openPemKeyStore } from "./pem.js";
import { KeyStoreError, type KeyStore } from "../core/token/types.js";
import type { OpenKeyStoreOptions } from "./options.js";

/** The NSS prefix that forces the NSS reader. */
const SQL_PREFIX = "sql:";

/**
 * Opens `options.db`: a directory with cert9.db (or a "sql:" path) is an NSS
 * database; a directory with *.pem or *.crt files is a PEM store. Rejects
 * with KeyStoreError (see types.ts for the codes).
 */
export async function openKeyStore(options: OpenKeyStoreOptions): Promise<KeyStore> {
  const kind = detectKind(options.db);
  if (kind === "pem") return openPemKeyStore(options);
  return openNssKeyStore(options);
}

/** Opens an NSS sql: database directory (cert9.db + key4.db). */
export async function openNssKeyStore(options: OpenKeyStoreOptions): Promise<KeyStore> {
  // Read (and fail on a missing or legacy DB) before paying for the engine.
  const files = readNssDbFiles(options.db);
  // Loaded on first use, so that PEM stores never load SQLite or ASN.1; the
  // engine's WebAssembly compiles while the rest of the NSS code loads.
  const engine = import("./nss/sqlite.js").then((m) => m.loadSqlEngine());
  const [{ readNssTables }, { nssKeyStoreFromTables }] = await Promise.all([
    import("./nss/tables.js"),
    import("./nss/nss-store.js"),
  ]);
  const rows = readNssTables(await engine, files);
  return nssKeyStoreFromTables(rows, files, options);
}

function detectKind(db: string): "nss" | "pem" {
  // nssDirectory rejects dbm:/extern:/rdb: prefixes with KEYSTORE_UNSUPPORTED.
  const dir = nssDirectory(db);
  if (db.startsWith(SQL_PREFIX)) return "nss";
  const st = keyStoreStat(dir);
  if (st === null || !st.isDirectory()) {
    const what = st !== null ? "is not a directory" : "does not exist";
    throw new KeyStoreError("KEYSTORE_NOT_FOUND", `key store directory ${dir} ${what}`);
  }
  // A directory this user may not read would otherwise look empty: say so.
  keyStoreListable(dir);
  keyStoreStat(join(dir, CERT_DB_FILE));
  if (isNssDirectory(dir) || isLegacyNssDirectory(dir)) return "nss";
  if (hasCertificateFiles(dir)) return "pem";
  throw new KeyStoreError(
    "KEYSTORE_NOT_FOUND",
    `${dir} is neither an NSS database (no cert9.db) nor a PEM directory (no *.pem or *.crt files)`,
  );
}

function hasCertificateFiles(dir: string): boolean {
  try {
    return readdirSync(dir).some((name) => (CERT_EXTENSIONS as readonly string[]).includes(extname(name).toLowerCase()));
  } catch {
    return false;
  }
}


