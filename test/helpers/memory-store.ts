/**
 * A token over the certs-sample PEM copies, built with node:crypto only, so
 * card tests do not depend on the NSS reader. loginRequired/password mimic an
 * NSS DB with a password.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from "node:crypto";
import type { Credential, KeyStore, LoginResult } from "../../src/core/token/types.js";
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

export function memoryStore(options: MemoryStoreOptions = {}): KeyStore {
  const nicknames = options.nicknames ?? ["cert1", "cert2", "cert3"];
  const session = new SoftSession(nicknames.map((n) => new SoftPrivateKey(samplePrivateKey(n))));
  const credentials: Credential[] = nicknames.map((label) => {
    const cert = new X509Certificate(readFileSync(resolve(SAMPLE_DIR, "pem", `${label}.pem`)));
    return {
      label,
      certificate: new Uint8Array(cert.raw),
      subject: cert.subject,
      algorithm: keyAlgorithmOf(cert.publicKey),
      hasPrivateKey: true,
    };
  });
  const password = options.password;
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
