/**
 * The checks every real PKCS#11 token goes through (SoftHSM variants, the
 * TPM): what is mirrored and in which order, login answers, every key
 * operation verified with node:crypto against the certificate, the
 * libcacard fallback without raw RSA, logout, and a CAC card on the token
 * driven by APDUs.
 */
import crypto from "node:crypto";
import { expect, it } from "vitest";
import { openPkcs11Token, type Pkcs11Token } from "../../../src/tokens/pkcs11/index.js";
import { createCacCard } from "../../../src/core/cac/cac-card.js";
import { AID } from "../../../src/core/cac/aids.js";
import { concatBytes } from "../../../src/core/bytes.js";
import type { SmartCard } from "../../../src/core/card/reader.js";
import type { TokenSession } from "../../../src/core/token/types.js";
import { MESSAGE, PIN, WRONG_PIN, ecdhPeer, expectKeyError, parseType2, signatureBlock } from "./tokens.js";

export interface TokenTarget {
  readonly module: string;
  readonly tokenLabel: string;
  /** Credential labels in CKA_ID order. */
  readonly labels: readonly string[];
  /** True when the slot offers CKM_RSA_X_509 (decryption keeps the token's random padding). */
  readonly raw: boolean;
  /** False when the slot offers no CKM_ECDSA (libcacard's RSA_PKCS-only SoftHSM configuration). */
  readonly ecdsa: boolean;
  /** Whether CKM_ECDH1_DERIVE is offered. */
  readonly ecdh: boolean;
}

const SECRET = Buffer.from("0123456789abcdef0123456789abcdef"); // a 32-byte "session key"
const HASH_FOR = { "P-256": "sha256", "P-384": "sha384" } as const;

/** Response data + SW of one APDU, following 61xx with GET RESPONSE as a T=0 host does. */
async function exchange(card: SmartCard, command: Uint8Array): Promise<{ data: Uint8Array; sw: number }> {
  const parts: Uint8Array[] = [];
  let r = await card.transmit(command);
  for (;;) {
    parts.push(r.subarray(0, r.length - 2));
    const sw = (r[r.length - 2] << 8) | r[r.length - 1];
    if (sw >> 8 !== 0x61) return { data: concatBytes(...parts), sw };
    r = await card.transmit(Uint8Array.of(0x00, 0xc0, 0x00, 0x00, sw & 0xff));
  }
}

function verifyApdu(pin: Uint8Array): Uint8Array {
  const padded = new Uint8Array(8).fill(0xff);
  padded.set(pin);
  return Uint8Array.of(0x00, 0x20, 0x00, 0x00, padded.length, ...padded);
}

/** Registers the suite's `it`s; `open` gives a fresh token with the target's environment in place. */
export function tokenChecks(target: TokenTarget): void {
  const open = (extra: Partial<Parameters<typeof openPkcs11Token>[0]> = {}): Promise<Pkcs11Token> =>
    openPkcs11Token({ module: target.module, tokenLabel: target.tokenLabel, ...extra });

  it("mirrors the certificates that have a key pair, in CKA_ID order, with their algorithms", async () => {
    const token = await open();
    try {
      expect(token.kind).toBe("pkcs11");
      expect(token.credentials.map((c) => c.label)).toEqual(target.labels);
      expect(token.credentials.every((c) => c.hasPrivateKey)).toBe(true);
      expect(token.loginRequired).toBe(true);
      expect(token.tokenLabel).toBe(target.tokenLabel);
      expect(token.location).toMatch(new RegExp(`^pkcs11:token=${target.tokenLabel};`));
      expect(token.location).not.toContain("%00");
      for (const c of token.credentials) {
        const cert = new crypto.X509Certificate(c.certificate);
        expect(c.subject).toBe(cert.subject.split("\n").join(", "));
        if (c.label.startsWith("rsa")) expect(c.algorithm).toEqual({ kind: "rsa", bits: Number(c.label.slice(3)) });
        else expect(c.algorithm).toEqual({ kind: "ec", curve: c.label === "p256" ? "P-256" : "P-384" });
      }
    } finally {
      await token.close();
    }
  });

  it("the default token is the first with a certificate and key pair; labels pick and order", async () => {
    const first = await openPkcs11Token({ module: target.module });
    expect(first.tokenLabel).toBe(target.tokenLabel);
    await first.close();
    const picked = await open({ labels: ["p256", "rsa2048"] });
    expect(picked.credentials.map((c) => c.label)).toEqual(["p256", "rsa2048"]);
    await picked.close();
    await expect(open({ labels: ["nope"] })).rejects.toMatchObject({ code: "PKCS11_NO_SUCH_LABEL" });
  });

  it("wrong PIN -> wrong-pin (the card answers 6985); right PIN -> a session", async () => {
    const token = await open();
    try {
      const wrong = await token.login(WRONG_PIN);
      expect(wrong).toMatchObject({ ok: false, reason: "wrong-pin" });
      expect((await token.login(PIN)).ok).toBe(true);
    } finally {
      await token.close();
    }
  });

  it("every key works and verifies against its certificate", async () => {
    const token = await open();
    try {
      const login = await token.login(PIN);
      if (!login.ok) throw new Error("login failed");
      for (const [index, cred] of token.credentials.entries()) {
        const key = login.session.key(index)!;
        expect(key).not.toBeNull();
        const publicKey = new crypto.X509Certificate(cred.certificate).publicKey;
        if (cred.algorithm.kind === "rsa") {
          const k = cred.algorithm.bits / 8;
          const block = signatureBlock(k);
          const signature = await key.rsaRaw!(block);
          expect(crypto.verify("sha256", MESSAGE, publicKey, signature), `${cred.label} signature`).toBe(true);
          const ciphertext = crypto.publicEncrypt({ key: publicKey, padding: crypto.constants.RSA_PKCS1_PADDING }, SECRET);
          const decrypted = await key.rsaRaw!(ciphertext);
          expect(decrypted.length).toBe(k);
          const { padding, message } = parseType2(decrypted);
          expect(Buffer.from(message)).toEqual(SECRET);
          // Raw RSA returns the token's random padding; the fallback re-pads with 03 (libcacard 2.8.1).
          expect(padding.every((b) => b === 0x03), `${cred.label} padding`).toBe(!target.raw);
          await expectKeyError(key.rsaRaw!(block.subarray(1)), "KEY_OPERATION_INPUT");
        } else if (cred.algorithm.kind === "ec") {
          const curve = cred.algorithm.curve;
          const digest = crypto.createHash(HASH_FOR[curve]).update(MESSAGE).digest();
          if (!target.ecdsa) {
            await expectKeyError(key.ecdsaSign!(digest), "KEY_OPERATION_INPUT");
            continue;
          }
          const rs = await key.ecdsaSign!(digest);
          expect(rs.length).toBe(curve === "P-256" ? 64 : 96);
          expect(crypto.verify(HASH_FOR[curve], MESSAGE, { key: publicKey, dsaEncoding: "ieee-p1363" }, rs)).toBe(true);
          expect(key.ecdh !== undefined).toBe(target.ecdh);
          if (key.ecdh) {
            const { point, expected } = ecdhPeer(curve, publicKey);
            expect(Buffer.from(await key.ecdh(point))).toEqual(Buffer.from(expected));
            await expectKeyError(key.ecdh(point.subarray(1)), "KEY_OPERATION_INPUT");
          }
        }
      }
    } finally {
      await token.close();
    }
  }, 60_000);

  it("two operations at once give the same answer; after logout the key is gone (6985) until the next login", async () => {
    const token = await open();
    try {
      const index = token.credentials.findIndex((c) => c.label === "rsa2048");
      let login = await token.login(PIN);
      if (!login.ok) throw new Error("login failed");
      const session: TokenSession = login.session;
      const block = signatureBlock(256);
      const [a, b] = await Promise.all([session.key(index)!.rsaRaw!(block), session.key(index)!.rsaRaw!(block)]);
      expect(Buffer.from(a)).toEqual(Buffer.from(b));
      await session.logout!();
      await expectKeyError(session.key(index)!.rsaRaw!(block), "KEY_NOT_LOGGED_IN");
      login = await token.login(PIN);
      if (!login.ok) throw new Error("login failed");
      expect(Buffer.from(await login.session.key(index)!.rsaRaw!(block))).toEqual(Buffer.from(a));
    } finally {
      await token.close();
    }
  });

  it("a CAC card on the token: VERIFY is C_Login, SIGN is the token's, wrong PIN 6985", async () => {
    const token = await open();
    try {
      const card = createCacCard(token);
      await card.powerOn();
      const index = token.credentials.findIndex((c) => c.label === "rsa2048");
      const select = await exchange(card, Uint8Array.of(0x00, 0xa4, 0x04, 0x00, 7, ...AID.pki(index)));
      expect(select.sw).toBe(0x9000);
      const block = signatureBlock(256);
      const sign = (): Promise<{ data: Uint8Array; sw: number }> =>
        exchange(card, concatBytes(Uint8Array.of(0x80, 0x42, 0x00, 0x00, 0x00, 0x01, 0x00), block));
      expect((await sign()).sw).toBe(0x6985); // not logged in
      expect((await exchange(card, verifyApdu(WRONG_PIN))).sw).toBe(0x6985);
      expect((await exchange(card, verifyApdu(PIN))).sw).toBe(0x9000);
      expect((await exchange(card, Uint8Array.of(0x00, 0x20, 0x00, 0x00))).sw).toBe(0x9000);
      const signed = await sign();
      expect(signed.sw).toBe(0x9000);
      const cert = new crypto.X509Certificate(token.credentials[index].certificate);
      expect(crypto.verify("sha256", MESSAGE, cert.publicKey, signed.data)).toBe(true);
      // A power cycle logs out (libcacard vcard_emul_reset).
      await card.reset();
      await exchange(card, Uint8Array.of(0x00, 0xa4, 0x04, 0x00, 7, ...AID.pki(index)));
      expect((await sign()).sw).toBe(0x6985);
    } finally {
      await token.close();
    }
  });
}
