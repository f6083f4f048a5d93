/** openKeyStore: picking the reader from what the directory holds. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openKeyStore, openNssKeyStore } from "../../src/tokens/index.js";
import { copyStore, makeTempDir, NICKNAMES, SAMPLE_NSS, SAMPLE_PEM, rejection } from "./helpers/fixtures.js";

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = makeTempDir();
});
afterAll(() => tmp.cleanup());

describe("openKeyStore", () => {
  it("opens a directory with cert9.db as NSS and one with *.pem as PEM", async () => {
    expect((await openKeyStore({ db: SAMPLE_NSS, nicknames: NICKNAMES })).kind).toBe("nss");
    expect((await openKeyStore({ db: SAMPLE_PEM, nicknames: NICKNAMES })).kind).toBe("pem");
  });

  it("resolves to a token that logs in to a session whose keys answer", async () => {
    for (const db of [SAMPLE_NSS, SAMPLE_PEM]) {
      const store = await openKeyStore({ db, nicknames: ["cert1"] });
      const result = await store.login();
      if (!result.ok) throw new Error(`login failed: ${result.reason}`);
      expect(await result.session.key(0)!.rsaRaw!(new Uint8Array(256))).toEqual(new Uint8Array(256));
    }
  });

  it("a PEM token answers login synchronously (the soft store's fast path)", async () => {
    const store = await openKeyStore({ db: SAMPLE_PEM, nicknames: ["cert1"] });
    const result = store.login();
    expect(result).not.toBeInstanceOf(Promise);
    expect((result as { ok: boolean }).ok).toBe(true);
  });

  it("prefers NSS when a directory holds both cert9.db and PEM files", async () => {
    const dir = copyStore(SAMPLE_NSS, tmp.dir, "both");
    writeFileSync(join(dir, "stray.pem"), "");
    expect((await openKeyStore({ db: dir, nicknames: ["cert1"] })).kind).toBe("nss");
  });

  it("treats a sql: path as NSS even when it is missing", async () => {
    const err = await rejection(openKeyStore({ db: `sql:${join(tmp.dir, "nothing")}`, nicknames: ["cert1"] }));
    expect(err.code).toBe("KEYSTORE_NOT_FOUND");
    expect(err.message).toMatch(/NSS database directory/);
  });

  it("reports a missing directory", async () => {
    const missing = join(tmp.dir, "missing");
    const err = await rejection(openKeyStore({ db: missing, nicknames: ["cert1"] }));
    expect(err.code).toBe("KEYSTORE_NOT_FOUND");
    expect(err.message).toContain(missing);
  });

  it("reports a directory that is neither kind", async () => {
    const dir = join(tmp.dir, "empty");
    mkdirSync(dir);
    writeFileSync(join(dir, "notes.txt"), "hi");
    const err = await rejection(openKeyStore({ db: dir, nicknames: ["cert1"] }));
    expect(err.code).toBe("KEYSTORE_NOT_FOUND");
    expect(err.message).toMatch(/neither an NSS database .* nor a PEM directory/);
  });

  it("refuses a legacy cert8.db/key3.db directory with a conversion hint", async () => {
    const dir = join(tmp.dir, "legacy");
    mkdirSync(dir);
    writeFileSync(join(dir, "cert8.db"), "");
    writeFileSync(join(dir, "key3.db"), "");
    const err = await rejection(openKeyStore({ db: dir, nicknames: ["cert1"] }));
    expect(err.code).toBe("KEYSTORE_UNSUPPORTED");
    expect(err.message).toMatch(/certutil --merge/);
  });

  it("refuses other NSS prefixes", async () => {
    for (const prefix of ["dbm:", "extern:", "rdb:"]) {
      expect((await rejection(openKeyStore({ db: `${prefix}${SAMPLE_NSS}`, nicknames: ["cert1"] }))).code).toBe("KEYSTORE_UNSUPPORTED");
    }
  });

  it("openNssKeyStore on a PEM directory says cert9.db is missing", async () => {
    const err = await rejection(openNssKeyStore({ db: SAMPLE_PEM, nicknames: ["cert1"] }));
    expect(err.code).toBe("KEYSTORE_NOT_FOUND");
    expect(err.message).toContain(join(SAMPLE_PEM, "cert9.db"));
  });
});
