/**
 * A token over the certs-sample PEM copies, built with node:crypto only, so
 * card tests do not depend on the NSS reader. loginRequired/password mimic an
 * NSS DB with a password.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from "node:crypto";
import type { Credential, KeyAlgorithm, KeyStore, LoginResult, Token } from "../../src/core/token/types.js";
import { keyAlgorithmOf, SoftPrivateKey, SoftSession } from "../../src/tokens/soft-key.js";
export const SAMPLE_DIR = resolve(__dirname, "../../certs-sample");
export const SAMPLE_PASSWORD = "12345678";

export interface MemoryStoreOptions {
  nicknames?: string[];
  password?: string;
}

export function sampleCertificate(nick: string): Uint8Array {
  return new Uint8Array(new X509Certificate(readFileSync(resolve(SAMPLE_DIR, "pem", `${nick}.pem`))).raw);
}

export function samplePrivateKey(nick: string): KeyObject {
  return createPrivateKey(readFileSync(resolve(SAMPLE_DIR, "pem", `${nick}.key`)));
}

export function samplePublicKey(nick: string): KeyObject {
  return createPublicKey(readFileSync(resolve(SAMPLE_DIR, "pem", `${nick}.pem`)));
}

/** One key of a test token, with what the card shows of it. */
export interface TestCredential {
  readonly label: string;
  readonly certificate: Uint8Array;
  readonly subject: string;
  readonly key: KeyObject;
  /** What the token reports; by default the private key's own. */
  readonly algorithm?: KeyAlgorithm;
}

/**
 * A "memory" token over soft keys (node:crypto), one session for all of them.
 * With `password`, login takes that PIN only (latin1), like an NSS DB with a
 * password; without, every login succeeds.
 */
export function testToken(entries: readonly TestCredential[], password?: string): Token {
  const keys = entries.map((e) => new SoftPrivateKey(e.key));
  const session = new SoftSession(keys);
  const credentials: Credential[] = entries.map((e, i) => ({
    label: e.label,
    certificate: e.certificate,
    subject: e.subject,
    algorithm: e.algorithm ?? keys[i].algorithm,
    hasPrivateKey: true,
  }));
  return {
    kind: "memory",
    location: "test",
    credentials,
    loginRequired: password !== undefined,
    login(pin): LoginResult {
      if (password === undefined || (pin !== undefined && Buffer.from(pin).toString("latin1") === password)) {
        return { ok: true, session };
      }
      return { ok: false, reason: "wrong-pin" };
    },
  };
}

/** The certs-sample keys (cert1..cert3 unless `nicknames` says otherwise) as a test token. */
export function memoryStore(options: MemoryStoreOptions = {}): KeyStore {
  const nicknames = options.nicknames ?? ["cert1", "cert2", "cert3"];
  return testToken(
    nicknames.map((label) => {
      const cert = new X509Certificate(readFileSync(resolve(SAMPLE_DIR, "pem", `${label}.pem`)));
      return {
        label,
        certificate: new Uint8Array(cert.raw),
        subject: cert.subject,
        key: samplePrivateKey(label),
        algorithm: keyAlgorithmOf(cert.publicKey),
      };
    }),
    options.password,
  );
}
