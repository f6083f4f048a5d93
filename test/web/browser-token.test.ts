/**
 * The page's token (src/web), run in Node: key files read without
 * node:crypto, raw RSA by BigInt CRT checked against OpenSSL's
 * RSA_NO_PADDING, PBES2 keys opened through Web Crypto, ECDSA/ECDH with
 * noble checked against node:crypto, and the file pairing and APDU names the
 * page shows. Blinding randomness and EC keys are seeded.
 */
import { constants, createPrivateKey, privateDecrypt, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BrowserToken, type CredentialFiles } from "../../src/web/browser-token.js";
import { pairFiles } from "../../src/web/pair-files.js";
import { describeExchange, swName } from "../../src/web/apdu-names.js";
import { modPow, rsaRawPrivate } from "../../src/web/crypto/rsa-raw.js";
import { createCard } from "../../src/core/create-card.js";
import { redactPins } from "../../src/core/card/card.js";
import { KeyOperationError, KeyStoreError, type Token } from "../../src/core/token/types.js";
import { SAMPLE_DIR, SAMPLE_PASSWORD } from "../helpers/memory-store.js";
import { SeededBytes } from "../tokens/helpers/seeded.js";
import { ecdhAgrees, ecdsaVerifies, seededEcKey } from "../tokens/helpers/ec.js";
import { HAVE_OPENSSL, selfSigned } from "../tokens/helpers/openssl.js";
import { makeTempDir } from "../tokens/helpers/fixtures.js";

const CI = process.env.CI === "true";
const utf8 = (s: string) => new TextEncoder().encode(s);
const file = (dir: string, name: string) => new Uint8Array(readFileSync(join(SAMPLE_DIR, dir, name)));
const sample = (dir: string, ...labels: string[]): CredentialFiles[] =>
  labels.map((label) => ({ label, certificate: file(dir, `${label}.pem`), key: file(dir, `${label}.key`) }));
const seeded = (label: string) => {
  const s = new SeededBytes(label);
  return (n: number) => s.next(n);
};

/** The first session of a token, whatever login() returns. */
async function session(token: Token, pin?: string) {
  const r = await token.login(pin === undefined ? undefined : utf8(pin));
  if (!r.ok) throw new Error(`login failed: ${r.reason}`);
  return r.session;
}

/** An input below the modulus: 00 01 then seeded bytes (a PKCS#1-shaped block). */
function rsaInput(label: string): Uint8Array {
  const input = new SeededBytes(label).next(256);
  input[0] = 0;
  input[1] = 1;
  return input;
}

const openssl = (key: KeyObject, input: Uint8Array) => new Uint8Array(privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, input));

describe("BrowserToken: RSA from PEM files", () => {
  const cert1Key = createPrivateKey(readFileSync(join(SAMPLE_DIR, "pem/cert1.key")));

  it("lists the certificates like the PEM store and signs like OpenSSL's raw RSA", async () => {
    const token = await BrowserToken.open(sample("pem", "cert1", "cert2", "cert3"), { rsa: { random: seeded("blind") } });
    expect(token.loginRequired).toBe(false);
    expect(token.credentials.map((c) => [c.label, c.subject, c.algorithm, c.hasPrivateKey])).toEqual(
      ["cert1", "cert2", "cert3"].map((l) => [l, `CN=${l}`, { kind: "rsa", bits: 2048 }, true]),
    );
    expect(token.credentials[0].certificate).toEqual(new Uint8Array(Buffer.from(readFileSync(join(SAMPLE_DIR, "pem/cert1.pem"), "latin1").replace(/-----[^-]+-----|\s/g, ""), "base64")));
    const key = (await session(token, "any")).key(0)!;
    for (const label of ["a", "b", "c"]) {
      const input = rsaInput(label);
      expect(await key.rsaRaw!(input)).toEqual(openssl(cert1Key, input));
    }
  });

  it("refuses inputs that do not fit the modulus", async () => {
    const token = await BrowserToken.open(sample("pem", "cert1"));
    const key = (await session(token)).key(0)!;
    const input = rsaInput("blinding");
    expect(await key.rsaRaw!(input)).toEqual(openssl(cert1Key, input));
    await expect(key.rsaRaw!(new Uint8Array(255))).rejects.toBeInstanceOf(KeyOperationError);
    await expect(key.rsaRaw!(new Uint8Array(256).fill(0xff))).rejects.toMatchObject({ code: "KEY_OPERATION_INPUT" });
    expect(modPow(3n, 5n, 1000n)).toBe(243n);
  });

  it("rsaRawPrivate without blinding equals it with seeded blinding", async () => {
    const jwk = createPrivateKey(readFileSync(join(SAMPLE_DIR, "pem/cert2.key"))).export({ format: "jwk" });
    const big = (s: unknown) => BigInt(`0x${Buffer.from(s as string, "base64url").toString("hex")}`);
    const k = { n: big(jwk.n), e: big(jwk.e), d: big(jwk.d), p: big(jwk.p), q: big(jwk.q), dp: big(jwk.dp), dq: big(jwk.dq), qi: big(jwk.qi) };
    const input = rsaInput("plain");
    expect(rsaRawPrivate(k, input, { blind: false })).toEqual(rsaRawPrivate(k, input, { random: seeded("r") }));
  });

  it("refuses a key that belongs to another certificate", async () => {
    const files = [{ label: "cert1", certificate: file("pem", "cert1.pem"), key: file("pem", "cert2.key"), keyName: "cert2.key" }];
    await expect(BrowserToken.open(files)).rejects.toMatchObject({ code: "KEYSTORE_CORRUPT", message: expect.stringMatching(/cert2.key does not match/) });
  });

  it("reads DER and PKCS#1 files as well", async () => {
    const key = createPrivateKey(readFileSync(join(SAMPLE_DIR, "pem/cert3.key")));
    const pkcs1 = new Uint8Array(Buffer.from(key.export({ type: "pkcs1", format: "pem" }) as string));
    const der = new Uint8Array(key.export({ type: "pkcs8", format: "der" }));
    const certDer = new Uint8Array(Buffer.from(readFileSync(join(SAMPLE_DIR, "pem/cert3.pem"), "latin1").replace(/-----[^-]+-----|\s/g, ""), "base64"));
    for (const k of [pkcs1, der]) {
      const token = await BrowserToken.open([{ label: "c3", certificate: certDer, key: k }]);
      const input = rsaInput("der");
      expect(await (await session(token)).key(0)!.rsaRaw!(input)).toEqual(openssl(key, input));
    }
  });
});

describe("BrowserToken: encrypted PKCS#8 (PBES2 through Web Crypto)", () => {
  it("without a password up front: the PIN is the key password", async () => {
    const token = await BrowserToken.open(sample("pem-enc", "cert1", "cert2"));
    expect(token.loginRequired).toBe(true);
    expect(await token.login(utf8("00000000"))).toEqual({ ok: false, reason: "wrong-pin" });
    expect(await token.login()).toEqual({ ok: false, reason: "wrong-pin" });
    const key = (await session(token, SAMPLE_PASSWORD)).key(1)!;
    const input = rsaInput("enc");
    expect(await key.rsaRaw!(input)).toEqual(openssl(createPrivateKey(readFileSync(join(SAMPLE_DIR, "pem/cert2.key"))), input));
  });

  it("with the password up front: a wrong one fails at load, and VERIFY must then match it", async () => {
    await expect(BrowserToken.open(sample("pem-enc", "cert1"), { password: utf8("wrong") })).rejects.toMatchObject({ code: "KEYSTORE_BAD_PASSWORD" });
    const token = await BrowserToken.open(sample("pem-enc", "cert1"), { password: utf8(SAMPLE_PASSWORD) });
    expect(await token.login(utf8("wrong"))).toEqual({ ok: false, reason: "wrong-pin" });
    expect((await token.login(utf8(SAMPLE_PASSWORD))).ok).toBe(true);
  });

  it("names what it cannot open", async () => {
    const legacy = utf8("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n");
    await expect(BrowserToken.open([{ label: "x", certificate: file("pem", "cert1.pem"), key: legacy }])).rejects.toMatchObject({ code: "KEYSTORE_UNSUPPORTED" });
    await expect(BrowserToken.open([{ label: "x", certificate: file("pem", "cert1.key") }])).rejects.toBeInstanceOf(KeyStoreError);
  });
});

describe.runIf(HAVE_OPENSSL || CI)("BrowserToken: EC keys (noble, checked with node:crypto)", () => {
  const { dir, cleanup } = makeTempDir("cacard-web-ec-");
  afterAll(cleanup);

  for (const curve of ["P-256", "P-384"] as const) {
    it(`${curve}: ECDSA over digests of any length, ECDH, SEC1 and PKCS#8 files`, async () => {
      const key = seededEcKey(curve, `web ${curve}`);
      const certPath = selfSigned(dir, `ec${curve.slice(2)}`, key);
      const certificate = new Uint8Array(readFileSync(certPath));
      for (const keyFile of [key.export({ type: "pkcs8", format: "pem" }), key.export({ type: "sec1", format: "pem" })]) {
        const token = await BrowserToken.open([{ label: "ec", certificate, key: utf8(keyFile as string) }]);
        expect(token.credentials[0].algorithm).toEqual({ kind: "ec", curve });
        expect(token.credentials[0].subject).toBe(`CN=ec${curve.slice(2)}, O=cacard test`);
        const k = (await session(token)).key(0)!;
        expect(k.rsaRaw).toBeUndefined();
        for (const hash of ["sha256", "sha384", "sha512"] as const) expect(await ecdsaVerifies(k, certificate, hash, utf8(`message ${hash}`))).toBe(true);
        expect(await ecdhAgrees(k, certificate, curve)).toBe(true);
        await expect(k.ecdh!(new Uint8Array(10))).rejects.toBeInstanceOf(KeyOperationError);
      }
    });
  }
});

describe("the card on a BrowserToken", () => {
  it("answers the CAC ATR and a SELECT, as the CLI's card does", async () => {
    const token = await BrowserToken.open(sample("pem", "cert1"));
    for (const personality of ["cac", "piv", "cac+piv"] as const) {
      const card = createCard(token, { personality });
      expect((await card.powerOn()).length).toBeGreaterThan(2);
    }
    const card = createCard(token);
    const r = await card.transmit(Uint8Array.of(0x00, 0xa4, 0x04, 0x00, 0x07, 0xa0, 0x00, 0x00, 0x00, 0x79, 0x01, 0x00));
    expect(r.subarray(-2)[0]).toBe(0x61);
  });
});

describe("page helpers", () => {
  it("pairs picked files by stem, in natural order", () => {
    const b = (s: string) => utf8(s);
    const keyText = b("-----BEGIN PRIVATE KEY-----\n");
    const pairs = pairFiles([
      { name: "cert10.pem", bytes: b("x") },
      { name: "cert2.crt", bytes: b("x") },
      { name: "cert2.key", bytes: keyText },
      { name: "cert10.txt", bytes: keyText },
    ]);
    expect(pairs.map((p) => [p.label, p.certificateName, p.keyName])).toEqual([
      ["cert2", "cert2.crt", "cert2.key"],
      ["cert10", "cert10.pem", "cert10.txt"],
    ]);
    expect(() => pairFiles([{ name: "lonely.key", bytes: keyText }])).toThrow(/no certificate/);
    expect(() => pairFiles([{ name: "notes.txt", bytes: b("hello") }])).toThrow(KeyStoreError);
  });

  it("names INS and status words, with VERIFY's PIN redacted by the core", () => {
    const verify = Uint8Array.of(0x00, 0x20, 0x00, 0x00, 0x08, 0x31, 0x32, 0x33, 0x34, 0xff, 0xff, 0xff, 0xff);
    const line = describeExchange(redactPins(verify), Uint8Array.of(0x63, 0xc2));
    expect({ ...line, command: line.command.toUpperCase() }).toEqual({
      ins: "VERIFY",
      command: "00200000082A2A2A2A2A2A2A2A",
      response: "",
      sw: "63C2",
      swName: "2 tries left",
    });
    expect(swName(0x9000)).toBe("success");
    expect(swName(0x6100)).toBe("256 more bytes");
    expect(swName(0x6a82)).toBe("file not found");
    expect(describeExchange(Uint8Array.of(0x80, 0x42, 0, 0), null)).toMatchObject({ ins: "SIGN/DECRYPT", sw: "----" });
  });
});
