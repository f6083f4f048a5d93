/**
 * EC keys next to RSA in real key stores: an NSS DB made by certutil at test
 * time (certutil -S -k ec for P-256 and P-384, a P-384 key imported with
 * pk12util, a certificate alone, an Ed25519 certificate), with and without a
 * password, and a PEM directory of openssl-made certificates with plain and
 * encrypted PKCS#8 keys. Signatures and ECDH secrets are checked with
 * node:crypto against the certificates.
 */
import { createPrivateKey, verify, X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openKeyStore, type Credential, type KeyStore, type PrivateKey, type TokenSession } from "../../src/tokens/index.js";
import { loadSqlEngine } from "../../src/tokens/nss/sqlite.js";
import { exportCertificate, HAVE_CERTUTIL, IN_CI, importCertificate, importPkcs12, makeNssDb } from "./helpers/certutil.js";
import { ecdhAgrees, ecdsaVerifies, seededEcKey, seededEd25519Key } from "./helpers/ec.js";
import { copyStore, fingerprint, makeTempDir, rejection, utf8 } from "./helpers/fixtures.js";
import { editDb } from "./helpers/key4-rewrite.js";
import { encryptedPkcs8, HAVE_OPENSSL, pkcs12, selfSigned } from "./helpers/openssl.js";
import { pkcs1Sha256Block, session } from "./helpers/rsa.js";

const NSS_NICKS = ["rsa", "ec256", "ec384", "imported", "lonely", "ed"];
const NSS_ALGORITHMS = [
  { kind: "rsa", bits: 2048 },
  { kind: "ec", curve: "P-256" },
  { kind: "ec", curve: "P-384" },
  { kind: "ec", curve: "P-384" },
  { kind: "ec", curve: "P-256" },
  { kind: "unsupported", name: "ed25519" },
];
const NSS_HAS_KEY = [true, true, true, true, false, false];
const P12_PASSWORD = "p12 transport";

it("has certutil and openssl when running in CI", () => {
  if (IN_CI) expect(HAVE_CERTUTIL && HAVE_OPENSSL, "certutil (libnss3-tools) and openssl must be installed in CI").toBe(true);
});

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = makeTempDir("cacard-ec-");
});
afterAll(() => tmp.cleanup());

/** The key of credential `index`, which must be there. */
function keyOf(s: TokenSession, index: number): PrivateKey {
  const key = s.key(index);
  if (key === null) throw new Error(`no key at ${index}`);
  return key;
}

/** Every EC key of `s` signs SHA-256 and SHA-384 digests and agrees on ECDH, checked with its certificate. */
async function checkEcKeys(s: TokenSession, credentials: readonly Credential[]): Promise<number> {
  let checked = 0;
  for (const [i, c] of credentials.entries()) {
    if (c.algorithm.kind !== "ec" || !c.hasPrivateKey) continue;
    const key = keyOf(s, i);
    expect(key.algorithm).toEqual(c.algorithm);
    expect(key.rsaRaw).toBeUndefined();
    for (const hash of ["sha256", "sha384"] as const) {
      expect(await ecdsaVerifies(key, c.certificate, hash, utf8(`${c.label} signs with ${hash}`)), `${c.label} ${hash}`).toBe(true);
    }
    expect(await ecdhAgrees(key, c.certificate, c.label), `${c.label} ECDH`).toBe(true);
    checked++;
  }
  return checked;
}

/** A PKCS#1 v1.5 SHA-256 signature made with raw RSA verifies against the certificate. */
async function checkRsaSignature(s: TokenSession, index: number, c: Credential): Promise<void> {
  const key = keyOf(s, index);
  expect(key.ecdsaSign).toBeUndefined();
  expect(key.ecdh).toBeUndefined();
  const message = utf8("raw RSA next to EC");
  const sig = await key.rsaRaw!(pkcs1Sha256Block(message, 256));
  expect(verify("sha256", message, new X509Certificate(c.certificate).publicKey, sig)).toBe(true);
}

/** CKA_ID (hex) of the certificate labelled `label` in a cert9.db. */
async function ckaIdOf(cert9: Uint8Array, label: string): Promise<string> {
  const SQL = await loadSqlEngine();
  const db = new SQL.Database(cert9);
  try {
    const rows = db.exec("SELECT hex(a102) FROM nssPublic WHERE a0 = x'00000001' AND a3 = CAST(? AS BLOB)", [label]);
    return rows[0].values[0][0] as string;
  } finally {
    db.close();
  }
}

/** The nssPrivate row id of the key with CKA_ID `idHex`, as the 8-digit hex NSS uses in MAC row names. */
async function keyRowOf(key4: Uint8Array, idHex: string): Promise<{ id: number; hex8: string }> {
  const SQL = await loadSqlEngine();
  const db = new SQL.Database(key4);
  try {
    const id = db.exec(`SELECT id FROM nssPrivate WHERE a102 = x'${idHex}'`)[0].values[0][0] as number;
    return { id, hex8: id.toString(16).padStart(8, "0") };
  } finally {
    db.close();
  }
}

describe.skipIf(!HAVE_CERTUTIL || !HAVE_OPENSSL).each([
  { variant: "without a password", password: undefined },
  { variant: "with a password", password: "ec pässword" },
])("NSS DB from certutil with RSA, EC P-256/P-384, a certificate alone and Ed25519, $variant", ({ variant, password }) => {
  let dir: string;
  const pin = password === undefined ? utf8("any pin") : utf8(password);
  beforeAll(async () => {
    dir = join(tmp.dir, variant.replace(/ /g, "-"));
    const work = join(tmp.dir, `${variant.replace(/ /g, "-")}-files`);
    mkdirSync(work);
    makeNssDb(dir, {
      password,
      certs: [{ nickname: "rsa" }, { nickname: "ec256", ecCurve: "nistp256" }, { nickname: "ec384", ecCurve: "secp384r1" }],
    });
    const imported = selfSigned(work, "imported", seededEcKey("P-384", "imported"), "sha384");
    importPkcs12(dir, pkcs12(work, "imported", imported, join(work, "imported.key-plain"), P12_PASSWORD), P12_PASSWORD, password);
    importCertificate(dir, "lonely", selfSigned(work, "lonely", seededEcKey("P-256", "lonely"), "sha256"), password);
    // NSS 3.87's certutil refuses Ed25519 certificates; newer NSS stores
    // them. Add the openssl-made DER as a certificate object of its own.
    const ed = new X509Certificate(readFileSync(selfSigned(work, "ed", seededEd25519Key("nss")))).raw.toString("hex");
    const cert9 = join(dir, "cert9.db");
    const edited = await editDb(
      new Uint8Array(readFileSync(cert9)),
      `INSERT INTO nssPublic (id, a0, a3, a11, a102) VALUES ((SELECT max(id) FROM nssPublic) + 1, x'00000001', CAST('ed' AS BLOB), x'${ed}', x'ed25519ed25519')`,
    );
    writeFileSync(cert9, edited);
  });

  it("lists each credential with its algorithm and whether its private key is there", async () => {
    const store = await openKeyStore({ db: dir, nicknames: NSS_NICKS });
    expect(store.credentials.map((c) => c.label)).toEqual(NSS_NICKS);
    expect(store.credentials.map((c) => c.algorithm)).toEqual(NSS_ALGORITHMS);
    expect(store.credentials.map((c) => c.hasPrivateKey)).toEqual(NSS_HAS_KEY);
    expect(store.loginRequired).toBe(password !== undefined);
    for (const nick of ["rsa", "ec256", "ec384", "imported", "lonely"]) {
      const c = store.credentials[NSS_NICKS.indexOf(nick)];
      expect(Buffer.from(c.certificate)).toEqual(Buffer.from(exportCertificate(dir, nick)));
    }
    expect(store.credentials[2].subject).toBe("O=cacard test, CN=ec384");
  });

  it("signs SHA-256 and SHA-384 digests with ECDSA, agrees on ECDH, and signs with raw RSA", async () => {
    const store = await openKeyStore({ db: dir, nicknames: NSS_NICKS });
    const s = (await session(store, pin))!;
    expect(s).not.toBeNull();
    expect(await checkEcKeys(s, store.credentials)).toBe(3);
    await checkRsaSignature(s, 0, store.credentials[0]);
    expect(s.key(4)).toBeNull();
    expect(s.key(5)).toBeNull();
  });

  it("with the password (if any) given at open and keys decrypted at first use", async () => {
    const store = await openKeyStore({ db: dir, nicknames: NSS_NICKS, password: pin, deferKeyDecryption: true });
    const s = (await session(store, pin))!;
    expect(await checkEcKeys(s, store.credentials)).toBe(3);
    await checkRsaSignature(s, 0, store.credentials[0]);
  });

  // Only a DB with a password has a wrong one (registered for that variant only, so nothing is skipped).
  if (password !== undefined) it("answers wrong-pin to a wrong PIN and KEYSTORE_BAD_PASSWORD to a wrong password", async () => {
    const store = await openKeyStore({ db: dir, nicknames: NSS_NICKS });
    expect(await store.login(utf8("ec password"))).toEqual({ ok: false, reason: "wrong-pin" });
    expect(await store.login()).toEqual({ ok: false, reason: "wrong-pin" });
    expect(await session(store, pin)).not.toBeNull();
    expect(await store.login(utf8("wrong"))).toEqual({ ok: false, reason: "wrong-pin" });
    const err = await rejection(openKeyStore({ db: dir, nicknames: ["ec256"], password: utf8("wrong") }));
    expect(err.code).toBe("KEYSTORE_BAD_PASSWORD");
  });

  it("leaves the DB byte-identical", async () => {
    const before = fingerprint(dir);
    const store = await openKeyStore({ db: dir, nicknames: NSS_NICKS });
    await checkEcKeys((await session(store, pin))!, store.credentials);
    await store.login(utf8("wrong"));
    expect(fingerprint(dir)).toEqual(before);
  });

  describe("a damaged EC key is KEYSTORE_CORRUPT naming key4.db and the certificate", () => {
    let counter = 0;
    /** A copy of the DB with `sql(ids)` run on its key4.db; ids are the key rows of ec256, ec384 and imported. */
    async function damaged(sql: (rows: Record<string, { id: number; hex8: string }>) => string): Promise<string> {
      const copy = copyStore(dir, tmp.dir, `${variant.replace(/ /g, "-")}-damaged-${counter++}`);
      const cert9 = new Uint8Array(readFileSync(join(copy, "cert9.db")));
      const key4 = new Uint8Array(readFileSync(join(copy, "key4.db")));
      const rows: Record<string, { id: number; hex8: string }> = {};
      for (const nick of ["ec256", "ec384", "imported"]) rows[nick] = await keyRowOf(key4, await ckaIdOf(cert9, nick));
      writeFileSync(join(copy, "key4.db"), await editDb(key4, sql(rows)));
      return copy;
    }

    /** The damage shows at open (no password) or at the first login with the right PIN. */
    async function fault(copy: string, nick: string) {
      const open = openKeyStore({ db: copy, nicknames: [nick] });
      if (password === undefined) return rejection(open);
      return rejection(Promise.resolve((await open).login(pin)));
    }

    it.each([
      ["a private value that is not DER", "ec256", (r: Record<string, { id: number }>) => `UPDATE nssPrivate SET a11 = x'1e0100' WHERE id = ${r.ec256.id}`, /attribute 0x11/],
      [
        "a private value whose last cipher block is zeroed",
        "ec256",
        (r: Record<string, { id: number }>) =>
          `UPDATE nssPrivate SET a11 = substr(a11, 1, length(a11) - 16) || zeroblob(16) WHERE id = ${r.ec256.id}`,
        /attribute 0x11/,
      ],
      [
        "another key's private value, moved with its MAC",
        "ec384",
        (r: Record<string, { id: number; hex8: string }>) =>
          `UPDATE nssPrivate SET a11 = (SELECT a11 FROM nssPrivate WHERE id = ${r.imported.id}) WHERE id = ${r.ec384.id};
           UPDATE metaData SET item1 = (SELECT item1 FROM metaData WHERE id = 'sig_key_${r.imported.hex8}_00000011')
             WHERE id = 'sig_key_${r.ec384.hex8}_00000011'`,
        /does not match its certificate/,
      ],
    ])("%s", async (_name, nick, sql, why) => {
      const copy = await damaged(sql);
      const err = await fault(copy, nick);
      expect(err.code).toBe("KEYSTORE_CORRUPT");
      expect(err.message).toContain(join(copy, "key4.db"));
      expect(err.message).toContain(`"${nick}"`);
      expect(err.message).toMatch(why);
    });

    it("a key whose curve (CKA_EC_PARAMS) is not its certificate's, found without decrypting", async () => {
      const p384 = "06052b81040022";
      const copy = await damaged((r) => `UPDATE nssPrivate SET a180 = x'${p384}' WHERE id = ${r.ec256.id}`);
      const err = await rejection(
        (async () => {
          const store = await openKeyStore({ db: copy, nicknames: ["ec256"], deferKeyDecryption: true });
          return store.login(pin);
        })(),
      );
      expect(err.code).toBe("KEYSTORE_CORRUPT");
      expect(err.message).toContain(join(copy, "key4.db"));
      expect(err.message).toMatch(/does not match its certificate/);
    });
  });
});

describe.skipIf(!HAVE_OPENSSL)(HAVE_OPENSSL ? "PEM directory with openssl-made EC certificates" : "PEM directory with openssl-made EC certificates — skipped, openssl not installed", () => {
  const PEM_NICKS = ["p256", "p384", "lonely", "ed"];
  const password = "pem ec pw";
  let plain: string;
  let encrypted: string;
  beforeAll(() => {
    plain = join(tmp.dir, "pem-ec");
    encrypted = join(tmp.dir, "pem-ec-enc");
    mkdirSync(plain);
    mkdirSync(encrypted);
    const keys = { p256: seededEcKey("P-256", "pem"), p384: seededEcKey("P-384", "pem"), lonely: seededEcKey("P-256", "pem lonely") };
    for (const [name, key] of Object.entries(keys)) {
      const cert = selfSigned(plain, name, key, name === "p384" ? "sha384" : "sha256");
      writeFileSync(join(encrypted, `${name}.pem`), readFileSync(cert));
      if (name === "lonely") continue;
      writeFileSync(join(plain, `${name}.key`), key.export({ type: "pkcs8", format: "pem" }));
      writeFileSync(join(encrypted, `${name}.key`), encryptedPkcs8(join(plain, `${name}.key-plain`), password));
    }
    selfSigned(plain, "ed", seededEd25519Key("pem"));
    writeFileSync(join(plain, "ed.key"), readFileSync(join(plain, "ed.key-plain")));
    writeFileSync(join(encrypted, "ed.pem"), readFileSync(join(plain, "ed.pem")));
  });

  function expectCredentials(store: KeyStore): void {
    expect(store.credentials.map((c) => c.algorithm)).toEqual([
      { kind: "ec", curve: "P-256" },
      { kind: "ec", curve: "P-384" },
      { kind: "ec", curve: "P-256" },
      { kind: "unsupported", name: "ed25519" },
    ]);
    expect(store.credentials.map((c) => c.hasPrivateKey)).toEqual([true, true, false, false]);
  }

  it("plain PKCS#8: lists the algorithms, signs and agrees with any PIN", async () => {
    const store = await openKeyStore({ db: plain, nicknames: PEM_NICKS });
    expect(store.kind).toBe("pem");
    expectCredentials(store);
    expect(store.loginRequired).toBe(false);
    const s = (await session(store, utf8("whatever")))!;
    expect(await checkEcKeys(s, store.credentials)).toBe(2);
    expect(s.key(2)).toBeNull();
    // The Ed25519 key is there and matches, but the card cannot use it: no key, as in an NSS DB.
    expect(s.key(3)).toBeNull();
  });

  it("encrypted PKCS#8: wrong PIN is wrong-pin, the password opens the keys", async () => {
    const store = await openKeyStore({ db: encrypted, nicknames: PEM_NICKS });
    expectCredentials(store);
    expect(store.loginRequired).toBe(true);
    expect(await store.login(utf8("pem ec pw "))).toEqual({ ok: false, reason: "wrong-pin" });
    expect(await store.login()).toEqual({ ok: false, reason: "wrong-pin" });
    const s = (await session(store, utf8(password)))!;
    expect(s).not.toBeNull();
    expect(await checkEcKeys(s, store.credentials)).toBe(2);
    expect(await store.login(utf8("wrong"))).toEqual({ ok: false, reason: "wrong-pin" });
    expect((await rejection(openKeyStore({ db: encrypted, nicknames: PEM_NICKS, password: utf8("wrong") }))).code).toBe(
      "KEYSTORE_BAD_PASSWORD",
    );
    const withPassword = await openKeyStore({ db: encrypted, nicknames: PEM_NICKS, password: utf8(password) });
    expect(await checkEcKeys((await session(withPassword, utf8(password)))!, withPassword.credentials)).toBe(2);
  });

  it("reads a SEC 1 'EC PRIVATE KEY' file, openssl's own EC key format", async () => {
    const dir = join(tmp.dir, "pem-sec1");
    mkdirSync(dir);
    writeFileSync(join(dir, "p384.pem"), readFileSync(join(plain, "p384.pem")));
    const key = createPrivateKey(readFileSync(join(plain, "p384.key-plain")));
    writeFileSync(join(dir, "p384.key"), key.export({ type: "sec1", format: "pem" }));
    const store = await openKeyStore({ db: dir, nicknames: ["p384"] });
    expect(await checkEcKeys((await session(store))!, store.credentials)).toBe(1);
    // Encrypted the legacy way (Proc-Type: 4,ENCRYPTED), the PIN is its password.
    const pem = key.export({ type: "sec1", format: "pem", cipher: "aes-256-cbc", passphrase: password }) as string;
    expect(pem).toContain("Proc-Type: 4,ENCRYPTED");
    writeFileSync(join(dir, "p384.key"), pem);
    const locked = await openKeyStore({ db: dir, nicknames: ["p384"] });
    expect(locked.loginRequired).toBe(true);
    expect(await locked.login(utf8("nope"))).toEqual({ ok: false, reason: "wrong-pin" });
    expect(await checkEcKeys((await session(locked, utf8(password)))!, locked.credentials)).toBe(1);
  });

  it.each([
    ["another EC key on the same curve", () => seededEcKey("P-256", "not mine").export({ type: "pkcs8", format: "pem" }) as string, /does not match/],
    ["a key on the other curve", () => readFileSync(join(plain, "p384.key"), "latin1"), /does not match/],
    ["a damaged PKCS#8 body", () => "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n", /not a readable private key/],
  ])("a p256.key holding %s is KEYSTORE_CORRUPT naming the file", async (_name, content, why) => {
    const dir = join(tmp.dir, `pem-bad-${_name.replace(/ /g, "-")}`);
    mkdirSync(dir);
    writeFileSync(join(dir, "p256.pem"), readFileSync(join(plain, "p256.pem")));
    writeFileSync(join(dir, "p256.key"), content());
    const err = await rejection(openKeyStore({ db: dir, nicknames: ["p256"] }));
    expect(err.code).toBe("KEYSTORE_CORRUPT");
    expect(err.message).toContain(join(dir, "p256.key"));
    expect(err.message).toMatch(why);
  });
});
