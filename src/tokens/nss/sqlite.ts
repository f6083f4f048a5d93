/**
 * A read-only view of one SQLite file, through sql.js (SQLite compiled to
 * WebAssembly). The file's bytes are handed to sql.js in memory, so the file
 * on disk is never opened for writing, never locked and never journaled: the
 * card can read a DB that Firefox or certutil has open at the same time.
 *
 * sql.js initialises asynchronously (it compiles its wasm module), so the
 * engine is loaded once with `loadSqlEngine()`; everything after that,
 * including `SqliteSnapshot`, is synchronous.
 */
import { createRequire } from "node:module";
import type initSqlJsType from "sql.js";
import type { Database, SqlJsStatic, SqlValue } from "sql.js";

/**
 * sql.js is CommonJS. Loaded through `require`, not `import`: an ES import of
 * a CommonJS module makes Node scan its source for export names first
 * (cjs-module-lexer), 10-17 ms of every start for a name we do not need.
 */
const requireCjs = createRequire(import.meta.url);

/** The 16-byte header every SQLite 3 file starts with ("SQLite format 3\0"). */
const SQLITE_MAGIC = new TextEncoder().encode("SQLite format 3\0");

/** Table and column names we put into SQL text must look like this (NSS uses "a<hex>", "id", "item1"). */
const SAFE_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One cell: sql.js gives BLOBs as Uint8Array, INTEGER/REAL as number, TEXT as string. */
export type SqliteCell = SqlValue;
export type SqliteRow = ReadonlyMap<string, SqliteCell>;

/** Why a file could not be used; the NSS store turns this into a KeyStoreError naming the path. */
export class SqliteReadError extends Error {
  constructor(
    readonly reason: "not-sqlite" | "corrupt",
    message: string,
  ) {
    super(message);
    this.name = "SqliteReadError";
  }
}

/*
 * The compiled engine is cached for the process: compiling the wasm module is
 * the only expensive, asynchronous step, and an engine holds no per-database
 * state (each Database has its own handle). A failed load is not cached, so a
 * later call can retry.
 */
let enginePromise: Promise<SqlJsStatic> | undefined;

/** Loads (once) the sql.js engine. The only asynchronous step of reading an NSS DB. */
export function loadSqlEngine(): Promise<SqlJsStatic> {
  if (enginePromise === undefined) {
    // Hold the event loop open while the WebAssembly compiles: with no libuv
    // handle alive, Node 20 waits in NodePlatform::DrainTasks for background
    // jobs, and a concurrent TurboFan job that needs a GC can deadlock it.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    const initSqlJs = requireCjs("sql.js") as typeof initSqlJsType;
    enginePromise = initSqlJs()
      .catch((err: unknown) => {
        enginePromise = undefined;
        throw err;
      })
      .finally(() => clearInterval(keepAlive));
  }
  return enginePromise;
}

/** True when `bytes` starts with the SQLite 3 file header. */
export function looksLikeSqlite(bytes: Uint8Array): boolean {
  if (bytes.length < SQLITE_MAGIC.length) return false;
  for (let i = 0; i < SQLITE_MAGIC.length; i++) if (bytes[i] !== SQLITE_MAGIC[i]) return false;
  return true;
}

function quoteIdentifier(name: string): string {
  // Identifiers come from the file's own schema; refuse anything that is not a
  // plain name instead of trying to escape it.
  if (!SAFE_IDENTIFIER.test(name)) throw new SqliteReadError("corrupt", `unexpected SQL identifier ${JSON.stringify(name)}`);
  return `"${name}"`;
}

/** An in-memory copy of one SQLite file. Call close() when done (it frees wasm memory). */
export class SqliteSnapshot {
  readonly #db: Database;

  private constructor(db: Database) {
    this.#db = db;
  }

  /**
   * Opens a copy of `bytes`. Throws SqliteReadError("not-sqlite") when the
   * header is wrong and ("corrupt") when SQLite cannot read the schema.
   */
  static open(engine: SqlJsStatic, bytes: Uint8Array): SqliteSnapshot {
    if (!looksLikeSqlite(bytes)) throw new SqliteReadError("not-sqlite", "not an SQLite 3 database (bad file header)");
    let db: Database | undefined;
    try {
      db = new engine.Database(bytes);
      // sql.js opens lazily; touching the schema makes a damaged file fail here.
      db.exec("SELECT count(*) FROM sqlite_master");
      return new SqliteSnapshot(db);
    } catch (err) {
      db?.close();
      throw new SqliteReadError("corrupt", `SQLite cannot read it (${errorText(err)})`);
    }
  }

  /** Names of the ordinary tables in the file. */
  tableNames(): string[] {
    const rows = this.#query("SELECT name FROM sqlite_master WHERE type = 'table'");
    return rows.map((r) => String(r.get("name")));
  }

  /** The column names of `table`, in schema order (empty when the table does not exist). */
  columns(table: string): string[] {
    const rows = this.#query(`PRAGMA table_info(${quoteIdentifier(table)})`);
    return rows.map((r) => String(r.get("name")));
  }

  /**
   * Reads `columns` of every row of `table`; when `where` is given only rows
   * whose column equals the value (bound as a parameter, never spliced in).
   */
  select(table: string, columns: readonly string[], where?: { column: string; equals: SqliteCell }): SqliteRow[] {
    if (columns.length === 0) return [];
    let sql = `SELECT ${columns.map(quoteIdentifier).join(", ")} FROM ${quoteIdentifier(table)}`;
    const params: SqliteCell[] = [];
    if (where !== undefined) {
      sql += ` WHERE ${quoteIdentifier(where.column)} = ?`;
      params.push(where.equals);
    }
    return this.#query(sql, params);
  }

  close(): void {
    this.#db.close();
  }

  #query(sql: string, params: SqliteCell[] = []): SqliteRow[] {
    let stmt;
    try {
      stmt = this.#db.prepare(sql, params);
      const rows: SqliteRow[] = [];
      while (stmt.step()) {
        const names = stmt.getColumnNames();
        const values = stmt.get();
        const row = new Map<string, SqliteCell>();
        names.forEach((name, i) => row.set(name, values[i] ?? null));
        rows.push(row);
      }
      return rows;
    } catch (err) {
      throw new SqliteReadError("corrupt", `SQLite cannot read it (${errorText(err)})`);
    } finally {
      stmt?.free();
    }
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
