/**
 * The NSS reader against the committed sample DBs (certs-sample/): nssdb has
 * no password, nssdb-pw has password 12345678, pem/ holds the same keys.
 */
import { verify, X509Certificate } from "node:crypto";
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyOperationError, openKeyStore, openNssKeyStore, type KeyStore } from "../../src/tokens/index.js";
import {
  copyStore,
  fingerprint,
  makeTempDir,
  NICKNAMES,
  pemCertificateDer,
  SAMPLE_NSS,
  SAMPLE_NSS_PW,
  SAMPLE_PASSWORD,
  SAMPLE_PEM,
  utf8,
  rejection,
} from "./helpers/fixtures.js";
import { keyBits, modulusBytes, operand, pkcs1Sha256Block, publicRaw, roundTrips, rsaRaw, session } from "./helpers/rsa.js";

const PW = utf8(SAMPLE_PASSWORD);

describe("NSS DB without a password (certs-sample/nssdb)", () => {
  let store: KeyStore;
  let pem: KeyStore;
  beforeAll(async () => {
    store = await openKeyStore({ db: SAMPLE_NSS, nicknames: NICKNAMES });
    pem = await openKeyStore({ db: SAMPLE_PEM, nicknames: NICKNAMES });
  });

  it("lists the three certificates in the order asked for", () => {
    expect(store.kind).toBe("nss");
    expect(store.location).toBe(SAMPLE_NSS);
    expect(store.credentials.map((c) => c.label)).toEqual(NICKNAMES);
    expect(store.credentials.map((c) => c.subject)).toEqual(["CN=cert1", "CN=cert2", "CN=cert3"]);
    expect(store.credentials.map((c) => c.algorithm)).toEqual(NICKNAMES.map(() => ({ kind: "rsa", bits: 2048 })));
    expect(keyBits(store)).toEqual([2048, 2048, 2048]);
    expect(store.credentials.every((c) => c.hasPrivateKey)).toBe(true);
  });

  it("serves each certificate's DER exactly as the PEM copy holds it", () => {
    NICKNAMES.forEach((nick, i) => {
      expect(Buffer.from(store.credentials[i].certificate)).toEqual(Buffer.from(pemCertificateDer(join(SAMPLE_PEM, `${nick}.pem`))));
    });
  });

  it("follows the nickname order, not the DB order", async () => {
    const s = await openKeyStore({ db: SAMPLE_NSS, nicknames: ["cert3", "cert1"] });
    expect(s.credentials.map((c) => c.subject)).toEqual(["CN=cert3", "CN=cert1"]);
    expect(await roundTrips((await session(s))!, 0, s.credentials[0])).toBe(true);
  });

  it("needs no login and accepts any PIN", async () => {
    expect(store.loginRequired).toBe(false);
    const keys = await session(store);
    expect(keys).not.toBeNull();
    expect(await session(store, utf8("77777777"))).toBe(keys);
    expect(await session(store, new Uint8Array(0))).toBe(keys);
    expect(modulusBytes(keys!, 0)).toBe(256);
    expect(keys!.key(0)!.algorithm).toEqual({ kind: "rsa", bits: 2048 });
  });

  it("does raw RSA that the certificate's public key undoes, equal to the PEM key's result", async () => {
    const keys = (await session(store))!;
    const pemKeys = (await session(pem))!;
    for (let i = 0; i < 3; i++) {
      const x = operand(256);
      const y = (await rsaRaw(keys, i, x))!;
      expect(y).toBeInstanceOf(Uint8Array);
      expect(y.length).toBe(256);
      expect(Buffer.from(y)).toEqual(Buffer.from((await rsaRaw(pemKeys, i, x))!));
      expect(Buffer.from(publicRaw(store.credentials[i], y))).toEqual(Buffer.from(x));
    }
  });

  it("makes a PKCS#1 v1.5 signature that verifies, as SIGN_DECRYPT does", async () => {
    const message = utf8("hello smartcard");
    const sig = (await rsaRaw((await session(store))!, 1, pkcs1Sha256Block(message, 256)))!;
    const publicKey = new X509Certificate(store.credentials[1].certificate).publicKey;
    expect(verify("sha256", message, publicKey, sig)).toBe(true);
  });

  it("has RSA keys only: no ECDSA or ECDH", async () => {
    const key = (await session(store))!.key(0)!;
    expect(key.ecdsaSign).toBeUndefined();
    expect(key.ecdh).toBeUndefined();
  });

  it("rejects operands of the wrong length or not below the modulus", async () => {
    const keys = (await session(store))!;
    for (const length of [0, 1, 255, 257, 512]) {
      await expect(rsaRaw(keys, 0, operand(length))).rejects.toThrow(KeyOperationError);
    }
    await expect(rsaRaw(keys, 0, new Uint8Array(256).fill(0xff))).rejects.toThrow(KeyOperationError);
    const n = new Uint8Array(Buffer.from(new X509Certificate(store.credentials[0].certificate).publicKey.export({ format: "jwk" }).n as string, "base64url"));
    await expect(rsaRaw(keys, 0, n)).rejects.toThrow(/not below the modulus/);
    const nMinus1 = Uint8Array.from(n);
    nMinus1[255] -= 1;
    expect(await rsaRaw(keys, 0, nMinus1)).toHaveLength(256);
  });

  it("answers null / 0 for an index without a credential", async () => {
    const keys = (await session(store))!;
    expect(keys.key(3)).toBeNull();
    expect(keys.key(-1)).toBeNull();
    expect(await rsaRaw(keys, 3, operand(256))).toBeNull();
    expect(modulusBytes(keys, 3)).toBe(0);
  });

  it("accepts the sql: prefix and the internal token prefix of certutil -K", async () => {
    const s = await openKeyStore({ db: `sql:${SAMPLE_NSS}`, nicknames: ["NSS Certificate DB:cert2"] });
    expect(s.kind).toBe("nss");
    expect(s.credentials[0].subject).toBe("CN=cert2");
    expect(s.credentials[0].label).toBe("NSS Certificate DB:cert2");
  });

  it("ignores a password given for a DB that has none", async () => {
    const s = await openKeyStore({ db: SAMPLE_NSS, nicknames: ["cert1"], password: utf8("whatever") });
    expect(s.loginRequired).toBe(false);
    expect(await session(s, utf8("anything"))).not.toBeNull();
  });
});

describe("NSS DB with a password (certs-sample/nssdb-pw, 12345678)", () => {
  it("reads certificates without the password; the keys stay closed", async () => {
    const s = await openKeyStore({ db: SAMPLE_NSS_PW, nicknames: NICKNAMES });
    const plain = await openKeyStore({ db: SAMPLE_NSS, nicknames: NICKNAMES });
    expect(s.loginRequired).toBe(true);
    expect(s.credentials.map((c) => Buffer.from(c.certificate))).toEqual(plain.credentials.map((c) => Buffer.from(c.certificate)));
    expect(s.credentials.every((c) => c.hasPrivateKey)).toBe(true);
    expect(await s.login()).toEqual({ ok: false, reason: "wrong-pin" });
    expect(await s.login(new Uint8Array(0))).toEqual({ ok: false, reason: "wrong-pin" });
    expect(await session(s, utf8("1234567"))).toBeNull();
    expect(await session(s, utf8("123456789"))).toBeNull();
  });

  it("opens the keys with the password as PIN; the keys equal the passwordless copy's", async () => {
    const s = await openKeyStore({ db: SAMPLE_NSS_PW, nicknames: NICKNAMES });
    const keys = await session(s, PW);
    expect(keys).not.toBeNull();
    expect(await session(s, PW)).toBe(keys); // decrypted once, then reused
    expect(await session(s, utf8("wrong"))).toBeNull(); // a wrong PIN still fails afterwards
    const plainKeys = (await session(await openKeyStore({ db: SAMPLE_NSS, nicknames: NICKNAMES })))!;
    for (let i = 0; i < 3; i++) {
      const x = operand(256);
      expect(Buffer.from((await rsaRaw(keys!, i, x))!)).toEqual(Buffer.from((await rsaRaw(plainKeys, i, x))!));
    }
  });

  it("checks a password given at open time and then wants exactly it as PIN", async () => {
    const s = await openKeyStore({ db: SAMPLE_NSS_PW, nicknames: NICKNAMES, password: PW });
    expect(s.loginRequired).toBe(true);
    expect(await session(s)).toBeNull();
    expect(await session(s, utf8("12345679"))).toBeNull();
    expect(await session(s, utf8("123456780"))).toBeNull();
    const keys = await session(s, PW);
    expect(keys).not.toBeNull();
    expect(await roundTrips(keys!, 2, s.credentials[2])).toBe(true);
  });

  it("rejects a wrong password at open time, naming the DB and not the password", async () => {
    const err = await rejection(openKeyStore({ db: SAMPLE_NSS_PW, nicknames: NICKNAMES, password: utf8("hunter2") }));
    expect(err.code).toBe("KEYSTORE_BAD_PASSWORD");
    expect(err.message).toContain(SAMPLE_NSS_PW);
    expect(err.message).not.toContain("hunter2");
  });

  it("rejects the empty password at open time", async () => {
    const err = await rejection(openKeyStore({ db: SAMPLE_NSS_PW, nicknames: NICKNAMES, password: new Uint8Array(0) }));
    expect(err.code).toBe("KEYSTORE_BAD_PASSWORD");
  });
});

describe("nickname selection", () => {
  it("rejects an unknown nickname, naming it and the DB", async () => {
    const err = await rejection(openKeyStore({ db: SAMPLE_NSS, nicknames: ["cert1", "nope"] }));
    expect(err.code).toBe("KEYSTORE_NO_SUCH_CERT");
    expect(err.message).toContain('"nope"');
    expect(err.message).toContain(SAMPLE_NSS);
  });

  it("skips unknown (and empty) nicknames with skipMissing, moving later ones down as libcacard does", async () => {
    const s = await openKeyStore({ db: SAMPLE_NSS, nicknames: ["nope", "cert2", "", "cert3"], skipMissing: true });
    expect(s.credentials.map((c) => c.label)).toEqual(["cert2", "cert3"]);
    const keys = (await session(s))!;
    expect(await roundTrips(keys, 0, s.credentials[0])).toBe(true);
    expect(await roundTrips(keys, 1, s.credentials[1])).toBe(true);
  });

  it("fails when nothing is left after skipping", async () => {
    const err = await rejection(openKeyStore({ db: SAMPLE_NSS, nicknames: ["x", "y"], skipMissing: true }));
    expect(err.code).toBe("KEYSTORE_NO_SUCH_CERT");
  });

  it("fails for no nicknames and for more than ten", async () => {
    expect((await rejection(openKeyStore({ db: SAMPLE_NSS, nicknames: [] }))).code).toBe("KEYSTORE_NO_SUCH_CERT");
    const eleven = Array.from({ length: 11 }, () => "cert1");
    expect((await rejection(openKeyStore({ db: SAMPLE_NSS, nicknames: eleven }))).code).toBe("KEYSTORE_TOO_MANY");
  });

  it("allows ten, repeating a certificate", async () => {
    const ten = Array.from({ length: 10 }, (_, i) => NICKNAMES[i % 3]);
    const s = await openKeyStore({ db: SAMPLE_NSS, nicknames: ten });
    expect(s.credentials).toHaveLength(10);
    expect(s.credentials[9].subject).toBe("CN=cert1");
  });

  it("does not look up labels of keys or other objects (private key labels are empty)", async () => {
    const err = await rejection(openKeyStore({ db: SAMPLE_NSS, nicknames: [""] }));
    expect(err.code).toBe("KEYSTORE_NO_SUCH_CERT");
  });
});

describe("the DB files are never written", () => {
  it("leaves cert9.db, key4.db and pkcs11.txt byte-identical after opening and using both sample DBs", async () => {
    const before = [fingerprint(SAMPLE_NSS), fingerprint(SAMPLE_NSS_PW)];
    const a = await openKeyStore({ db: SAMPLE_NSS, nicknames: NICKNAMES });
    const b = await openKeyStore({ db: SAMPLE_NSS_PW, nicknames: NICKNAMES });
    for (const s of [a, b]) {
      const keys = (await session(s, PW))!;
      for (let i = 0; i < 3; i++) await rsaRaw(keys, i, operand(256));
    }
    expect([fingerprint(SAMPLE_NSS), fingerprint(SAMPLE_NSS_PW)]).toEqual(before);
  });
});

describe("missing and damaged DBs", () => {
  let tmp: { dir: string; cleanup: () => void };
  beforeAll(() => {
    tmp = makeTempDir();
  });
  afterAll(() => tmp.cleanup());

  it("reports a missing directory", async () => {
    const missing = join(tmp.dir, "does-not-exist");
    const err = await rejection(openNssKeyStore({ db: missing, nicknames: ["cert1"] }));
    expect(err.code).toBe("KEYSTORE_NOT_FOUND");
    expect(err.message).toContain(missing);
    expect((await rejection(openKeyStore({ db: `sql:${missing}`, nicknames: ["cert1"] }))).code).toBe("KEYSTORE_NOT_FOUND");
  });

  it("reports a missing key4.db by its path", async () => {
    const dir = copyStore(SAMPLE_NSS, tmp.dir, "no-key4");
    rmSync(join(dir, "key4.db"));
    const err = await rejection(openKeyStore({ db: dir, nicknames: ["cert1"] }));
    expect(err.code).toBe("KEYSTORE_NOT_FOUND");
    expect(err.message).toContain(join(dir, "key4.db"));
  });

  it.each([
    ["random bytes", () => new Uint8Array(Buffer.alloc(8192, 0x5a))],
    ["an empty file", () => new Uint8Array(0)],
  ])("reports %s as key4.db as corrupt", async (_name, bytes) => {
    const dir = copyStore(SAMPLE_NSS, tmp.dir, `bad-key4-${_name.replace(/ /g, "-")}`);
    writeFileSync(join(dir, "key4.db"), bytes());
    const err = await rejection(openKeyStore({ db: dir, nicknames: ["cert1"] }));
    expect(err.code).toBe("KEYSTORE_CORRUPT");
    expect(err.message).toContain(join(dir, "key4.db"));
  });

  it("reports a truncated cert9.db as corrupt", async () => {
    const dir = copyStore(SAMPLE_NSS, tmp.dir, "short-cert9");
    writeFileSync(join(dir, "cert9.db"), readFileSync(join(dir, "cert9.db")).subarray(0, 4096 + 100));
    const err = await rejection(openKeyStore({ db: dir, nicknames: ["cert1"] }));
    expect(err.code).toBe("KEYSTORE_CORRUPT");
    expect(err.message).toContain("cert9.db");
  });

  it("reports cert9.db and key4.db swapped as not an NSS database", async () => {
    const dir = copyStore(SAMPLE_NSS, tmp.dir, "swapped");
    renameSync(join(dir, "cert9.db"), join(dir, "tmp.db"));
    renameSync(join(dir, "key4.db"), join(dir, "cert9.db"));
    renameSync(join(dir, "tmp.db"), join(dir, "key4.db"));
    const err = await rejection(openKeyStore({ db: dir, nicknames: ["cert1"] }));
    expect(err.code).toBe("KEYSTORE_CORRUPT");
    expect(err.message).toMatch(/no nssPublic table/);
  });

  it("refuses dbm: databases with a hint to convert them", async () => {
    const err = await rejection(openKeyStore({ db: `dbm:${SAMPLE_NSS}`, nicknames: ["cert1"] }));
    expect(err.code).toBe("KEYSTORE_UNSUPPORTED");
    expect(err.message).toMatch(/certutil --merge/);
  });
});
