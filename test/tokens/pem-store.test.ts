/** The PEM directory store: certs-sample/pem and pem-enc, and directories built here. */
import "reflect-metadata";
import { createPrivateKey, createPublicKey, webcrypto } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyStoreError, openKeyStore, openPemKeyStore, rsaBits, type KeyStore } from "../../src/tokens/index.js";
import {
  fingerprint,
  makeTempDir,
  NICKNAMES,
  pemCertificateDer,
  SAMPLE_NSS,
  SAMPLE_PASSWORD,
  SAMPLE_PEM,
  SAMPLE_PEM_ENC,
  utf8,
} from "./helpers/fixtures.js";
import { keyBits, modulusBytes, operand, roundTrips, rsaRaw, session } from "./helpers/rsa.js";
import { ecdhAgrees, ecdsaVerifies, seededEcKey } from "./helpers/ec.js";

const PW = utf8(SAMPLE_PASSWORD);

function syncError(fn: () => unknown): KeyStoreError {
  try {
    fn();
  } catch (err) {
    if (err instanceof KeyStoreError) return err;
    throw err;
  }
  throw new Error("expected a KeyStoreError");
}

let tmp: { dir: string; cleanup: () => void };
let counter = 0;
beforeAll(() => {
  tmp = makeTempDir();
});
afterAll(() => tmp.cleanup());

/** A new directory with `files` (name → contents, or a sample file path to copy). */
function pemDir(files: Record<string, string | Uint8Array | { copy: string }>): string {
  const dir = join(tmp.dir, `pem${counter++}`);
  mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) {
    if (typeof content === "object" && "copy" in content) copyFileSync(content.copy, join(dir, name));
    else writeFileSync(join(dir, name), content);
  }
  return dir;
}

describe("unencrypted PEM keys (certs-sample/pem)", () => {
  let store: KeyStore;
  beforeAll(() => {
    store = openPemKeyStore({ db: SAMPLE_PEM, nicknames: NICKNAMES });
  });

  it("lists the certificates in order, needs no login, accepts any PIN", async () => {
    expect(store.kind).toBe("pem");
    expect(store.location).toBe(SAMPLE_PEM);
    expect(store.credentials.map((c) => c.subject)).toEqual(["CN=cert1", "CN=cert2", "CN=cert3"]);
    expect(keyBits(store)).toEqual([2048, 2048, 2048]);
    expect(store.credentials.every((c) => c.hasPrivateKey)).toBe(true);
    expect(store.loginRequired).toBe(false);
    expect(await session(store, utf8("whatever"))).toBe(await session(store));
  });

  it("keys are the private halves of their certificates", async () => {
    const keys = (await session(store))!;
    for (let i = 0; i < 3; i++) expect(await roundTrips(keys, i, store.credentials[i])).toBe(true);
  });

  it("never writes the files", async () => {
    const before = fingerprint(SAMPLE_PEM);
    await rsaRaw((await session(openPemKeyStore({ db: SAMPLE_PEM, nicknames: NICKNAMES })))!, 0, operand(256));
    expect(fingerprint(SAMPLE_PEM)).toEqual(before);
  });
});

describe("encrypted PKCS#8 keys (certs-sample/pem-enc, 12345678)", () => {
  it("need the password as PIN", async () => {
    const store = openPemKeyStore({ db: SAMPLE_PEM_ENC, nicknames: NICKNAMES });
    expect(store.loginRequired).toBe(true);
    expect(store.credentials).toHaveLength(3);
    expect(store.credentials.every((c) => c.hasPrivateKey)).toBe(true);
    expect(await store.login()).toEqual({ ok: false, reason: "wrong-pin" });
    expect(await session(store, utf8("1234"))).toBeNull();
    const keys = await session(store, PW);
    expect(keys).not.toBeNull();
    expect(await session(store, PW)).toBe(keys);
    expect(await session(store, utf8("87654321"))).toBeNull();
    for (let i = 0; i < 3; i++) expect(await roundTrips(keys!, i, store.credentials[i])).toBe(true);
  });

  it("give the same raw RSA results as the unencrypted copies and the NSS DB", async () => {
    const sessions = [
      (await session(openPemKeyStore({ db: SAMPLE_PEM_ENC, nicknames: NICKNAMES }), PW))!,
      (await session(openPemKeyStore({ db: SAMPLE_PEM, nicknames: NICKNAMES })))!,
      (await session(await openKeyStore({ db: SAMPLE_NSS, nicknames: NICKNAMES })))!,
    ];
    const x = operand(256);
    const outs = await Promise.all(sessions.map(async (s) => Buffer.from((await rsaRaw(s, 2, x))!)));
    expect(outs[0]).toEqual(outs[1]);
    expect(outs[0]).toEqual(outs[2]);
  });

  it("check a password given at open time, which the PIN must then equal", async () => {
    const err = syncError(() => openPemKeyStore({ db: SAMPLE_PEM_ENC, nicknames: NICKNAMES, password: utf8("nope") }));
    expect(err.code).toBe("KEYSTORE_BAD_PASSWORD");
    expect(err.message).toContain(SAMPLE_PEM_ENC);
    expect(err.message).not.toContain("nope");
    const store = openPemKeyStore({ db: SAMPLE_PEM_ENC, nicknames: NICKNAMES, password: PW });
    expect(await session(store, utf8("12345678 "))).toBeNull();
    expect(await roundTrips((await session(store, PW))!, 0, store.credentials[0])).toBe(true);
  });
});

describe("file formats", () => {
  // The sample key under a certificate made here: RSA PKCS#1 v1.5 signatures
  // are deterministic, so the files are the same on every run.
  const privateKey = createPrivateKey(readFileSync(join(SAMPLE_PEM, "cert1.key")));
  const publicKey = createPublicKey(privateKey);
  let certDer: Uint8Array;
  beforeAll(async () => {
    const alg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    const keys = {
      privateKey: await webcrypto.subtle.importKey("pkcs8", privateKey.export({ type: "pkcs8", format: "der" }), alg, true, ["sign"]),
      publicKey: await webcrypto.subtle.importKey("spki", publicKey.export({ type: "spki", format: "der" }), alg, true, ["verify"]),
    };
    const cert = await x509.X509CertificateGenerator.createSelfSigned({ name: "CN=made here", keys, signingAlgorithm: alg, serialNumber: "01" });
    certDer = new Uint8Array(cert.rawData);
  });

  it("reads a DER .crt with a PKCS#1 'RSA PRIVATE KEY'", async () => {
    const dir = pemDir({ "card.crt": certDer, "card.key": privateKey.export({ type: "pkcs1", format: "pem" }) as string });
    const store = openPemKeyStore({ db: dir, nicknames: ["card"] });
    expect(store.credentials[0].subject).toBe("CN=made here");
    expect(store.credentials[0].algorithm).toEqual({ kind: "rsa", bits: 2048 });
    expect(store.loginRequired).toBe(false);
    expect(await roundTrips((await session(store))!, 0, store.credentials[0])).toBe(true);
  });

  it("reads an encrypted PKCS#1 key (Proc-Type: 4,ENCRYPTED) with the password", async () => {
    const pem = privateKey.export({ type: "pkcs1", format: "pem", cipher: "aes-256-cbc", passphrase: "pw1" }) as string;
    expect(pem).toContain("Proc-Type: 4,ENCRYPTED");
    const dir = pemDir({ "card.crt": certDer, "card.key": pem });
    const store = openPemKeyStore({ db: dir, nicknames: ["card"] });
    expect(store.loginRequired).toBe(true);
    expect(await session(store, utf8("pw2"))).toBeNull();
    expect(await roundTrips((await session(store, utf8("pw1")))!, 0, store.credentials[0])).toBe(true);
  });

  it("prefers <nickname>.pem to <nickname>.crt", () => {
    const dir = pemDir({ "a.pem": { copy: join(SAMPLE_PEM, "cert2.pem") }, "a.crt": certDer });
    expect(openPemKeyStore({ db: dir, nicknames: ["a"] }).credentials[0].subject).toBe("CN=cert2");
  });

  it("serves a certificate without a .key file with no private key", async () => {
    const dir = pemDir({ "lonely.pem": { copy: join(SAMPLE_PEM, "cert1.pem") } });
    const store = openPemKeyStore({ db: dir, nicknames: ["lonely"] });
    expect(Buffer.from(store.credentials[0].certificate)).toEqual(Buffer.from(pemCertificateDer(join(SAMPLE_PEM, "cert1.pem"))));
    expect(store.credentials[0].hasPrivateKey).toBe(false);
    expect(store.credentials[0].algorithm).toEqual({ kind: "rsa", bits: 2048 });
    const keys = (await session(store))!;
    expect(keys.key(0)).toBeNull();
    expect(await rsaRaw(keys, 0, operand(256))).toBeNull();
    expect(modulusBytes(keys, 0)).toBe(0);
  });

  it("rejects a key that belongs to another certificate, naming the key file", () => {
    const dir = pemDir({ "cert1.pem": { copy: join(SAMPLE_PEM, "cert1.pem") }, "cert1.key": { copy: join(SAMPLE_PEM, "cert2.key") } });
    const err = syncError(() => openPemKeyStore({ db: dir, nicknames: ["cert1"] }));
    expect(err.code).toBe("KEYSTORE_CORRUPT");
    expect(err.message).toContain(join(dir, "cert1.key"));
  });

  it("finds a mismatched encrypted key when it is first decrypted", async () => {
    const dir = pemDir({ "cert1.pem": { copy: join(SAMPLE_PEM_ENC, "cert1.pem") }, "cert1.key": { copy: join(SAMPLE_PEM_ENC, "cert3.key") } });
    const store = openPemKeyStore({ db: dir, nicknames: ["cert1"] });
    expect(await session(store, utf8("wrong"))).toBeNull();
    await expect(session(store, PW)).rejects.toThrow(/cert1\.key does not match/);
    const err = syncError(() => openPemKeyStore({ db: dir, nicknames: ["cert1"], password: PW }));
    expect(err.code).toBe("KEYSTORE_CORRUPT");
  });

  it.each([
    ["a certificate that is not one", { "x.pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" }, "x.pem"],
    ["a .pem without a certificate block", { "x.pem": readFileSync(join(SAMPLE_PEM, "cert1.key"), "utf8") }, "x.pem"],
    ["a .crt that is neither PEM nor DER", { "x.crt": "hello" }, "x.crt"],
    ["a key file without a key", { "x.pem": { copy: join(SAMPLE_PEM, "cert1.pem") }, "x.key": "nothing here" }, "x.key"],
    [
      "a damaged key",
      { "x.pem": { copy: join(SAMPLE_PEM, "cert1.pem") }, "x.key": "-----BEGIN PRIVATE KEY-----\nMIIBAAAA\n-----END PRIVATE KEY-----\n" },
      "x.key",
    ],
  ])("rejects %s as corrupt, naming the file", (_name, files, culprit) => {
    const dir = pemDir(files);
    const err = syncError(() => openPemKeyStore({ db: dir, nicknames: ["x"] }));
    expect(err.code).toBe("KEYSTORE_CORRUPT");
    expect(err.message).toContain(join(dir, culprit));
  });

  it("reads an EC certificate and key (no RSA key bits), and checks that they belong together", async () => {
    // Formerly refused as non-RSA; EC P-256 keys are now served (ECDSA, ECDH).
    const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
    const key = seededEcKey("P-256", "pem-store");
    const keys = {
      privateKey: await webcrypto.subtle.importKey("pkcs8", key.export({ type: "pkcs8", format: "der" }), alg, true, ["sign"]),
      publicKey: await webcrypto.subtle.importKey("spki", createPublicKey(key).export({ type: "spki", format: "der" }), alg, true, ["verify"]),
    };
    const cert = await x509.X509CertificateGenerator.createSelfSigned({ name: "CN=ec", keys, signingAlgorithm: alg, serialNumber: "02" });
    const certOnly = openPemKeyStore({ db: pemDir({ "ec.pem": cert.toString("pem") }), nicknames: ["ec"] });
    expect(certOnly.credentials[0].algorithm).toEqual({ kind: "ec", curve: "P-256" });
    expect(rsaBits(certOnly.credentials[0].algorithm)).toBe(0);
    expect(certOnly.credentials[0].hasPrivateKey).toBe(false);
    const dir = pemDir({ "ec.pem": cert.toString("pem"), "ec.key": key.export({ type: "pkcs8", format: "pem" }) as string });
    const store = openPemKeyStore({ db: dir, nicknames: ["ec"] });
    const ec = (await session(store))!.key(0)!;
    expect(ec.algorithm).toEqual({ kind: "ec", curve: "P-256" });
    expect(await ecdsaVerifies(ec, store.credentials[0].certificate, "sha256", utf8("pem ec"))).toBe(true);
    expect(await ecdhAgrees(ec, store.credentials[0].certificate, "pem-store")).toBe(true);
    // Another P-256 key under the same certificate does not belong to it.
    const other = pemDir({ "ec.pem": cert.toString("pem"), "ec.key": seededEcKey("P-256", "other").export({ type: "pkcs8", format: "pem" }) as string });
    const err = syncError(() => openPemKeyStore({ db: other, nicknames: ["ec"] }));
    expect(err.code).toBe("KEYSTORE_CORRUPT");
    expect(err.message).toContain(join(other, "ec.key"));
  });
});

describe("nicknames and directories", () => {
  it("never resolves a nickname outside the directory", () => {
    for (const nick of ["../pem/cert1", "/etc/passwd", "..", "."]) {
      expect(syncError(() => openPemKeyStore({ db: SAMPLE_PEM_ENC, nicknames: [nick] })).code).toBe("KEYSTORE_NO_SUCH_CERT");
    }
  });

  it("rejects unknown nicknames, or skips them with skipMissing", async () => {
    const err = syncError(() => openPemKeyStore({ db: SAMPLE_PEM, nicknames: ["cert1", "cert9"] }));
    expect(err.code).toBe("KEYSTORE_NO_SUCH_CERT");
    expect(err.message).toContain('"cert9"');
    const store = openPemKeyStore({ db: SAMPLE_PEM, nicknames: ["cert9", "cert3"], skipMissing: true });
    expect(store.credentials.map((c) => c.label)).toEqual(["cert3"]);
    expect(await roundTrips((await session(store))!, 0, store.credentials[0])).toBe(true);
  });

  it("reports a missing directory", () => {
    const missing = join(tmp.dir, "missing");
    const err = syncError(() => openPemKeyStore({ db: missing, nicknames: ["cert1"] }));
    expect(err.code).toBe("KEYSTORE_NOT_FOUND");
    expect(err.message).toContain(missing);
  });
});
