/**
 * key4.db variants this machine's NSS does not write, made by re-encrypting
 * the sample DB: the NSS ≥ 3.118 SHA-384 password hash, other PBKDF2 PRFs,
 * the pre-3.49 3DES scheme; and damaged integrity MACs.
 */
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyStoreError, openKeyStore, type KeyStore } from "../../src/tokens/index.js";
import { makeTempDir, NICKNAMES, SAMPLE_NSS, utf8, rejection } from "./helpers/fixtures.js";
import { editDb, rewriteKey4, type RewriteScheme } from "./helpers/key4-rewrite.js";
import { modulusBytes, operand, rsaRaw, session } from "./helpers/rsa.js";

let tmp: { dir: string; cleanup: () => void };
let reference: KeyStore;
let counter = 0;
beforeAll(async () => {
  tmp = makeTempDir();
  reference = await openKeyStore({ db: SAMPLE_NSS, nicknames: NICKNAMES });
});
afterAll(() => tmp.cleanup());

/** A copy of the sample DB whose key4.db is `key4`. */
function dbWithKey4(key4: Uint8Array): string {
  const dir = join(tmp.dir, `db${counter++}`);
  cpSync(SAMPLE_NSS, dir, { recursive: true });
  writeFileSync(join(dir, "key4.db"), key4);
  return dir;
}

/** A copy of the sample DB whose cert9.db is `cert9`. */
function dbWithCert9(cert9: Uint8Array): string {
  const dir = join(tmp.dir, `db${counter++}`);
  cpSync(SAMPLE_NSS, dir, { recursive: true });
  writeFileSync(join(dir, "cert9.db"), cert9);
  return dir;
}

const sampleCert9 = () => new Uint8Array(readFileSync(join(SAMPLE_NSS, "cert9.db")));
const sampleKey4 = () => new Uint8Array(readFileSync(join(SAMPLE_NSS, "key4.db")));

/** The store's keys give the same raw RSA results as the reference sample's. */
async function sameKeysAsReference(store: KeyStore, pin?: Uint8Array): Promise<void> {
  const keys = await session(store, pin);
  expect(keys).not.toBeNull();
  const refKeys = (await session(reference))!;
  for (let i = 0; i < 3; i++) {
    const x = operand(256);
    expect(Buffer.from((await rsaRaw(keys!, i, x))!)).toEqual(Buffer.from((await rsaRaw(refKeys, i, x))!));
  }
}

describe("password schemes", () => {
  const cases: [string, RewriteScheme][] = [
    ["NSS ≥ 3.118: 48-byte global salt (SHA-384 passKey), PBKDF2-HMAC-SHA384", { kind: "pbes2", globalSaltBytes: 48, prf: "sha384", macDigest: "sha384", iterations: 50 }],
    ["PBKDF2-HMAC-SHA512 with a 20-byte salt", { kind: "pbes2", globalSaltBytes: 20, prf: "sha512", iterations: 20 }],
    ["PBKDF2-HMAC-SHA1", { kind: "pbes2", globalSaltBytes: 20, prf: "sha1" }],
    ["NSS < 3.49: PKCS#12 v0 SHA-1 + 3DES, no MACs", { kind: "legacy-3des", iterations: 1 }],
  ];

  it.each(cases)("%s, with a UTF-8 password", async (_name, scheme) => {
    const password = "pässwörd €";
    const dir = dbWithKey4(await rewriteKey4(sampleKey4(), "", password, scheme));
    const store = await openKeyStore({ db: dir, nicknames: NICKNAMES });
    expect(store.loginRequired).toBe(true);
    expect(await session(store, utf8("passwörd €"))).toBeNull();
    await sameKeysAsReference(store, utf8(password));

    const withPassword = await openKeyStore({ db: dir, nicknames: NICKNAMES, password: utf8(password) });
    await sameKeysAsReference(withPassword, utf8(password));
    expect((await rejection(openKeyStore({ db: dir, nicknames: NICKNAMES, password: utf8("x") }))).code).toBe("KEYSTORE_BAD_PASSWORD");
  });

  it("a pre-3.49 DB without a password needs no login", async () => {
    const dir = dbWithKey4(await rewriteKey4(sampleKey4(), "", "", { kind: "legacy-3des" }));
    const store = await openKeyStore({ db: dir, nicknames: NICKNAMES });
    expect(store.loginRequired).toBe(false);
    await sameKeysAsReference(store);
  });
});

describe("integrity MACs of encrypted attributes (sftkpwd.c sftkdb_SignAttribute)", () => {
  it("rejects a key whose MAC does not match, naming key4.db and the nickname", async () => {
    const key4 = await editDb(
      sampleKey4(),
      "UPDATE metaData SET item1 = (SELECT item1 FROM metaData WHERE id LIKE 'sig_key_%_00000124' LIMIT 1) WHERE id LIKE 'sig_key_%_00000123'",
    );
    const dir = dbWithKey4(key4);
    const err = await rejection(openKeyStore({ db: dir, nicknames: ["cert1"] }));
    expect(err.code).toBe("KEYSTORE_CORRUPT");
    expect(err.message).toContain(join(dir, "key4.db"));
    expect(err.message).toContain('"cert1"');
    expect(err.message).toMatch(/integrity MAC/);
  });

  it("with deferKeyDecryption, opens fast and reports the damaged key at first use", async () => {
    const key4 = await editDb(
      sampleKey4(),
      "UPDATE metaData SET item1 = (SELECT item1 FROM metaData WHERE id LIKE 'sig_key_%_00000124' LIMIT 1) WHERE id LIKE 'sig_key_%_00000123'",
    );
    const dir = dbWithKey4(key4);
    const store = await openKeyStore({ db: dir, nicknames: ["cert1"], deferKeyDecryption: true });
    const keys = (await session(store))!;
    expect(modulusBytes(keys, 0)).toBe(256);
    const err = await rejection(rsaRaw(keys, 0, new Uint8Array(256)));
    expect(err).toBeInstanceOf(KeyStoreError);
    expect(err.code).toBe("KEYSTORE_CORRUPT");
    expect(err.message).toMatch(/integrity MAC/);
    expect(err.message).toContain(join(dir, "key4.db"));
    // Found again at the next use: a damaged key never turns into a good one.
    expect((await rejection(rsaRaw(keys, 0, new Uint8Array(256)))).code).toBe("KEYSTORE_CORRUPT");
  });

  it("rejects a key whose MAC row is missing", async () => {
    const dir = dbWithKey4(await editDb(sampleKey4(), "DELETE FROM metaData WHERE id LIKE 'sig_key_%_00000128'"));
    const err = await rejection(openKeyStore({ db: dir, nicknames: ["cert2"] }));
    expect(err.code).toBe("KEYSTORE_CORRUPT");
    expect(err.message).toMatch(/no integrity MAC/);
  });

  it("rejects an encrypted value moved from another key", async () => {
    const key4 = await editDb(
      sampleKey4(),
      "UPDATE nssPrivate SET a124 = (SELECT a124 FROM nssPrivate ORDER BY id DESC LIMIT 1) WHERE id = (SELECT min(id) FROM nssPrivate)",
    );
    const err = await rejection(openKeyStore({ db: dbWithKey4(key4), nicknames: NICKNAMES }));
    expect(err.code).toBe("KEYSTORE_CORRUPT");
  });

  it("reports an unknown encryption algorithm as unsupported", async () => {
    // The password-check entry's PBES2 OID 1.2.840.113549.1.5.13 turned into …1.5.99.
    const key4 = await editDb(
      sampleKey4(),
      "UPDATE metaData SET item2 = CAST(replace(CAST(item2 AS TEXT), CAST(x'2a864886f70d01050d' AS TEXT), CAST(x'2a864886f70d010563' AS TEXT)) AS BLOB) WHERE id = 'password'",
    );
    const err = await rejection(openKeyStore({ db: dbWithKey4(key4), nicknames: ["cert1"] }));
    expect(err.code).toBe("KEYSTORE_UNSUPPORTED");
    expect(err.message).toContain("1.2.840.113549.1.5.99");
  });

  // x'1e0100' is a BMPString of odd length, on which asn1js throws a
  // RangeError: it must still come out as a damaged DB naming the file.
  it.each([
    ["an encrypted key value", "UPDATE nssPrivate SET a123 = x'1e0100' WHERE id = (SELECT min(id) FROM nssPrivate)"],
    ["the password entry", "UPDATE metaData SET item2 = x'1e0100' WHERE id = 'password'"],
    ["an integrity MAC", "UPDATE metaData SET item1 = x'30051e03000000' WHERE id LIKE 'sig_key_%_00000123'"],
  ])("reports %s that is not DER as KEYSTORE_CORRUPT naming key4.db", async (_name, sql) => {
    const dir = dbWithKey4(await editDb(sampleKey4(), sql));
    const err = await rejection(openKeyStore({ db: dir, nicknames: NICKNAMES }));
    expect(err.code).toBe("KEYSTORE_CORRUPT");
    expect(err.message).toContain(join(dir, "key4.db"));
  });

  it("ignores columns it does not know and copes with columns that are missing", async () => {
    // Newer NSS adds columns (sdb_update_column); older files lack some. Drop
    // an unused one and add a new one: the reader discovers columns.
    let key4 = await editDb(sampleKey4(), "ALTER TABLE nssPrivate ADD COLUMN a99999999");
    key4 = await editDb(key4, "ALTER TABLE nssPrivate DROP COLUMN a170");
    const store = await openKeyStore({ db: dbWithKey4(key4), nicknames: NICKNAMES });
    await sameKeysAsReference(store);
  });

  it("finds a key without CKA_ID (column dropped) by its modulus", async () => {
    const key4 = await editDb(sampleKey4(), "DROP INDEX ckaid; ALTER TABLE nssPrivate DROP COLUMN a102");
    const store = await openKeyStore({ db: dbWithKey4(key4), nicknames: NICKNAMES });
    await sameKeysAsReference(store);
  });

  it("serves a certificate whose key is not in key4.db without a private key", async () => {
    const key4 = await editDb(sampleKey4(), "DELETE FROM nssPrivate WHERE id = (SELECT min(id) FROM nssPrivate)");
    const store = await openKeyStore({ db: dbWithKey4(key4), nicknames: NICKNAMES });
    const keys = (await session(store))!;
    const missing: number[] = [];
    for (const i of [0, 1, 2]) if ((await rsaRaw(keys, i, operand(256))) === null) missing.push(i);
    expect(missing).toHaveLength(1);
    expect(keys.key(missing[0])).toBeNull();
    expect(modulusBytes(keys, missing[0])).toBe(0);
    expect(store.credentials.map((c) => c.hasPrivateKey)).toEqual([0, 1, 2].map((i) => i !== missing[0]));
  });
});

describe("certificate lookup", () => {
  it("with two certificates under one nickname, takes the one whose key is present", async () => {
    // A newer row labelled cert1 holding cert2's DER under a CKA_ID no key has.
    const cert9 = await editDb(
      sampleCert9(),
      `INSERT INTO nssPublic (id, a0, a3, a11, a102)
         SELECT (SELECT max(id) FROM nssPublic) + 1, a0, CAST('cert1' AS BLOB), a11, x'0102030405'
         FROM nssPublic WHERE a3 = CAST('cert2' AS BLOB)`,
    );
    const store = await openKeyStore({ db: dbWithCert9(cert9), nicknames: ["cert1"] });
    expect(store.credentials[0].subject).toBe("CN=cert1");
    await sameKeysAsReference(await openKeyStore({ db: dbWithCert9(cert9), nicknames: ["cert1", "cert2", "cert3"] }));
  });

  it("reads a label stored as TEXT (a hand-edited DB) like a BLOB", async () => {
    const cert9 = await editDb(sampleCert9(), "UPDATE nssPublic SET a3 = 'cert3' WHERE a3 = CAST('cert3' AS BLOB)");
    const store = await openKeyStore({ db: dbWithCert9(cert9), nicknames: ["cert3"] });
    expect(store.credentials[0].subject).toBe("CN=cert3");
  });

  it("reports a certificate object without a value as corrupt", async () => {
    const cert9 = await editDb(sampleCert9(), "UPDATE nssPublic SET a11 = NULL WHERE a3 = CAST('cert2' AS BLOB)");
    const err = await rejection(openKeyStore({ db: dbWithCert9(cert9), nicknames: ["cert2"] }));
    expect(err.code).toBe("KEYSTORE_CORRUPT");
    expect(err.message).toContain('"cert2"');
  });

  it("rejects a key whose CKA_ID points at another certificate's key", async () => {
    // cert1 now carries cert2's CKA_ID, so the lookup finds cert2's key.
    const cert9 = await editDb(
      sampleCert9(),
      `UPDATE nssPublic SET a102 = (SELECT a102 FROM nssPublic WHERE a3 = CAST('cert2' AS BLOB) AND a0 = x'00000001')
         WHERE a3 = CAST('cert1' AS BLOB) AND a0 = x'00000001'`,
    );
    const dir = dbWithCert9(cert9);
    const err = await rejection(openKeyStore({ db: dir, nicknames: ["cert1"] }));
    expect(err.code).toBe("KEYSTORE_CORRUPT");
    expect(err.message).toContain('"cert1"');
    expect(err.message).toMatch(/does not match its certificate/);
  });
});
