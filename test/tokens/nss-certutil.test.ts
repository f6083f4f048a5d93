/**
 * The NSS reader against databases the real certutil makes at test time, so
 * the tests follow whatever NSS version is installed. In CI a missing
 * certutil fails the suite instead of skipping it.
 */
import { createPrivateKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openKeyStore } from "../../src/tokens/index.js";
import { decryptNssData, parseEncryptedData } from "../../src/tokens/nss/pbe.js";
import { derivePassKey } from "../../src/tokens/nss/password.js";
import { rsaModulusOf } from "../../src/tokens/soft-key.js";
import { readBdbHashItems } from "./helpers/bdb.js";
import { exportCertificate, HAVE_CERTUTIL, IN_CI, makeNssDb, mergeIntoSqlDb } from "./helpers/certutil.js";
import { fingerprint, makeTempDir, utf8, rejection } from "./helpers/fixtures.js";
import { certModulus, keyBits, modulusBytes, operand, publicRaw, roundTrips, rsaRaw, session } from "./helpers/rsa.js";

it("has certutil when running in CI", () => {
  if (IN_CI) expect(HAVE_CERTUTIL, "certutil (libnss3-tools) must be installed in CI").toBe(true);
});

describe.skipIf(!HAVE_CERTUTIL)("DBs made by certutil", () => {
  let tmp: { dir: string; cleanup: () => void };
  beforeAll(() => {
    tmp = makeTempDir();
  });
  afterAll(() => tmp.cleanup());

  describe("certutil -N --empty-password", () => {
    let dir: string;
    beforeAll(() => {
      dir = join(tmp.dir, "empty");
      makeNssDb(dir, { certs: [{ nickname: "alice" }, { nickname: "bob smith", bits: 1024 }, { nickname: "carol", bits: 3072 }] });
    });

    it("reads every certificate as certutil exports it, with its key size", async () => {
      const store = await openKeyStore({ db: dir, nicknames: ["carol", "alice", "bob smith"] });
      expect(store.loginRequired).toBe(false);
      expect(keyBits(store)).toEqual([3072, 2048, 1024]);
      expect(store.credentials.every((c) => c.hasPrivateKey)).toBe(true);
      // @peculiar/x509 prints RDNs in DER order (certutil -s puts O before CN).
      expect(store.credentials[2].subject).toBe("O=cacard test, CN=bob smith");
      for (const c of store.credentials) {
        expect(Buffer.from(c.certificate)).toEqual(Buffer.from(exportCertificate(dir, c.label)));
      }
    });

    it("does raw RSA with each key that its certificate undoes", async () => {
      const store = await openKeyStore({ db: dir, nicknames: ["alice", "bob smith", "carol"] });
      const keys = (await session(store, utf8("any pin")))!;
      expect([0, 1, 2].map((i) => modulusBytes(keys, i))).toEqual([256, 128, 384]);
      for (let i = 0; i < 3; i++) expect(await roundTrips(keys, i, store.credentials[i])).toBe(true);
    });

    it("leaves the DB byte-identical", async () => {
      const before = fingerprint(dir);
      const store = await openKeyStore({ db: `sql:${dir}`, nicknames: ["alice"] });
      await rsaRaw((await session(store))!, 0, operand(256));
      expect(fingerprint(dir)).toEqual(before);
    });
  });

  describe("certutil -N -f pwfile, then certutil -S", () => {
    const password = "s3cret pass";
    let dir: string;
    beforeAll(() => {
      dir = join(tmp.dir, "password");
      makeNssDb(dir, { password, certs: [{ nickname: "signing" }, { nickname: "encryption" }] });
    });

    it("reads certificates without the password and needs it for the keys", async () => {
      const store = await openKeyStore({ db: dir, nicknames: ["signing", "encryption"] });
      expect(store.loginRequired).toBe(true);
      expect(Buffer.from(store.credentials[0].certificate)).toEqual(Buffer.from(exportCertificate(dir, "signing")));
      expect(await store.login()).toEqual({ ok: false, reason: "wrong-pin" });
      expect(await session(store, utf8("s3cret pas"))).toBeNull();
      const keys = await session(store, utf8(password));
      expect(keys).not.toBeNull();
      expect(await roundTrips(keys!, 0, store.credentials[0])).toBe(true);
      expect(await roundTrips(keys!, 1, store.credentials[1])).toBe(true);
    });

    it("checks a password given at open time", async () => {
      const err = await rejection(openKeyStore({ db: dir, nicknames: ["signing"], password: utf8("wrong") }));
      expect(err.code).toBe("KEYSTORE_BAD_PASSWORD");
      expect(err.message).toContain(dir);
      const store = await openKeyStore({ db: dir, nicknames: ["signing"], password: utf8(password) });
      expect(await session(store, utf8("wrong"))).toBeNull();
      expect(await roundTrips((await session(store, utf8(password)))!, 0, store.credentials[0])).toBe(true);
    });

    it("leaves the DB byte-identical", async () => {
      const before = fingerprint(dir);
      const store = await openKeyStore({ db: dir, nicknames: ["signing", "encryption"] });
      await rsaRaw((await session(store, utf8(password)))!, 1, operand(256));
      await store.login(utf8("wrong"));
      expect(fingerprint(dir)).toEqual(before);
    });
  });

  describe("legacy dbm: databases (cert8.db/key3.db)", () => {
    const password = "legacy pw";
    let dir: string;
    beforeAll(() => {
      dir = join(tmp.dir, "legacy");
      makeNssDb(dir, { password, format: "dbm", certs: [{ nickname: "legacy1" }] });
    });

    it("are refused with the conversion command in the message", async () => {
      const err = await rejection(openKeyStore({ db: dir, nicknames: ["legacy1"] }));
      expect(err.code).toBe("KEYSTORE_UNSUPPORTED");
      expect(err.message).toContain(dir);
      expect(err.message).toMatch(/certutil --merge/);
    });

    it("read fine after the suggested certutil --merge", async () => {
      const converted = join(tmp.dir, "converted");
      mergeIntoSqlDb(converted, dir, password);
      const store = await openKeyStore({ db: converted, nicknames: ["legacy1"] });
      expect(Buffer.from(store.credentials[0].certificate)).toEqual(Buffer.from(exportCertificate(dir, "legacy1", "dbm")));
      const keys = (await session(store, utf8(password)))!;
      const x = operand(256);
      expect(Buffer.from(publicRaw(store.credentials[0], (await rsaRaw(keys, 0, x))!))).toEqual(Buffer.from(x));
    });

    it("their key3.db 3DES entries decrypt with the legacy PBE (a real NSS vector for lowpbe.c)", async () => {
      const items = readBdbHashItems(new Uint8Array(readFileSync(join(dir, "key3.db"))));
      const globalSalt = items.get("global-salt")!;
      expect(globalSalt).toHaveLength(20);
      const passKey = derivePassKey(globalSalt, utf8(password));

      // password-check: 03 | saltLen | nickLen | salt | nickname | oidLen | OID | ciphertext
      const pc = items.get("password-check")!;
      const saltLen = pc[1];
      const nickLen = pc[2];
      const salt = pc.subarray(3, 3 + saltLen);
      const oidLen = pc[3 + saltLen + nickLen];
      const ciphertext = pc.subarray(3 + saltLen + nickLen + 1 + oidLen);
      const check = { scheme: "pkcs12-v0-3des", salt, iterations: 1, ciphertext } as const;
      expect(Buffer.from((await decryptNssData(check, passKey)) ?? []).toString()).toBe("password-check");
      // A wrong password fails the padding check, or (rarely) decrypts to garbage.
      const wrong = await decryptNssData(check, derivePassKey(globalSalt, utf8("wrong")));
      expect(wrong === null ? null : Buffer.from(wrong).toString("latin1")).not.toBe("password-check");

      // The private key: version | saltLen | nickLen | salt | nickname | EncryptedPrivateKeyInfo.
      let key: KeyObject | undefined;
      for (const [name, data] of items) {
        if (name === "password-check" || data.length < 100 || data[0] !== 3) continue;
        const epki = data.subarray(3 + data[1] + data[2]);
        if (epki[0] !== 0x30) continue; // not an entry of this shape
        const pkcs8 = await decryptNssData(parseEncryptedData(epki), passKey);
        if (pkcs8 !== null) key = createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" });
      }
      expect(key).toBeDefined();
      const certDer = exportCertificate(dir, "legacy1", "dbm");
      const modulus = certModulus(certDer);
      expect(Buffer.from(rsaModulusOf(key!)!)).toEqual(Buffer.from(modulus));
    });
  });
});
