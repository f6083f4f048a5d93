/**
 * Key decryption does not block the event loop: NSS PBKDF2 runs on libuv's
 * thread pool, so while a key with a high iteration count is being
 * decrypted, other work (other cards of the process) keeps being served.
 * Measured with a setImmediate ticker: a blocking derivation lets it tick
 * zero times, an asynchronous one lets it tick while the promise is pending.
 */
import { pbkdf2Sync } from "node:crypto";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openKeyStore } from "../../src/tokens/index.js";
import { parseEncryptedData } from "../../src/tokens/nss/pbe.js";
import { loadSqlEngine } from "../../src/tokens/nss/sqlite.js";
import { makeTempDir, SAMPLE_NSS, utf8 } from "./helpers/fixtures.js";
import { rewriteKey4 } from "./helpers/key4-rewrite.js";
import { operand, publicRaw, session } from "./helpers/rsa.js";

/** High enough that one key's dozen derivations take a noticeable time; NSS's own default is 10000. */
const ITERATIONS = 50_000;
const PASSWORD = "slow password";

/** Runs `work` while a setImmediate ticker counts the event loop turns until its promise settles. */
async function ticksWhile<T>(work: () => Promise<T>): Promise<{ result: T; ticks: number; maxGapMs: number }> {
  let ticks = 0;
  let done = false;
  let last = performance.now();
  let maxGapMs = 0;
  const tick = () => {
    if (done) return;
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
    ticks++;
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    return { result: await work(), ticks, maxGapMs };
  } finally {
    done = true;
  }
}

let tmp: { dir: string; cleanup: () => void };
let dir: string;
beforeAll(async () => {
  tmp = makeTempDir("cacard-loop-");
  dir = join(tmp.dir, "slow");
  cpSync(SAMPLE_NSS, dir, { recursive: true });
  const key4 = new Uint8Array(readFileSync(join(SAMPLE_NSS, "key4.db")));
  writeFileSync(join(dir, "key4.db"), await rewriteKey4(key4, "", PASSWORD, { kind: "pbes2", globalSaltBytes: 20, iterations: ITERATIONS }));
});
afterAll(() => tmp.cleanup());

describe("NSS key decryption and the event loop", () => {
  it("the DB really uses the high iteration count for every encrypted value", async () => {
    const SQL = await loadSqlEngine();
    const db = new SQL.Database(readFileSync(join(dir, "key4.db")));
    try {
      const blobs = db.exec("SELECT a123, a128 FROM nssPrivate")[0].values.flat() as Uint8Array[];
      expect(blobs.length).toBeGreaterThan(0);
      for (const blob of blobs) {
        const data = parseEncryptedData(blob);
        expect(data.scheme === "pbes2" && data.kdf.iterations).toBe(ITERATIONS);
      }
    } finally {
      db.close();
    }
  });

  it("the ticker sees a blocking derivation of the same cost as zero turns (the control)", async () => {
    const { ticks } = await ticksWhile(async () => {
      for (let i = 0; i < 3; i++) pbkdf2Sync("p", "salt", ITERATIONS, 32, "sha256");
    });
    expect(ticks).toBe(0);
  });

  it("keeps turning while a deferred key is decrypted at its first use", async () => {
    const store = await openKeyStore({ db: dir, nicknames: ["cert1"], password: utf8(PASSWORD), deferKeyDecryption: true });
    const key = (await session(store, utf8(PASSWORD)))!.key(0)!;
    const x = operand(256);
    const { result, ticks, maxGapMs } = await ticksWhile(() => key.rsaRaw!(x));
    expect(ticks, `max gap ${maxGapMs.toFixed(1)} ms`).toBeGreaterThan(0);
    expect(Buffer.from(publicRaw(store.credentials[0], result))).toEqual(Buffer.from(x));
  });

  it("keeps turning while a login checks the PIN and decrypts the keys", async () => {
    const store = await openKeyStore({ db: dir, nicknames: ["cert1", "cert2"] });
    const { result, ticks, maxGapMs } = await ticksWhile(async () => store.login(utf8(PASSWORD)));
    expect(ticks, `max gap ${maxGapMs.toFixed(1)} ms`).toBeGreaterThan(0);
    expect(result.ok).toBe(true);
    const wrong = await ticksWhile(async () => store.login(utf8("wrong")));
    expect(wrong.result).toEqual({ ok: false, reason: "wrong-pin" });
    expect(wrong.ticks).toBeGreaterThan(0);
  });
});
