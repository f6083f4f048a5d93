/**
 * A KeyStore over the certs-sample PEM copies, built with node:crypto only, so
 * card tests do not depend on the NSS reader. loginRequired/password mimic an
 * NSS DB with a password.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { constants, createPrivateKey, createPublicKey, privateDecrypt, X509Certificate, type KeyObject } from "node:crypto";
import type { KeyRing, KeyStore } from "../../src/tokens/types.js";
import { KeyOperationError } from "../../src/tokens/types.js";

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
  const keys = nicknames.map(samplePrivateKey);
  const credentials = nicknames.map((nickname) => {
    const cert = new X509Certificate(readFileSync(resolve(SAMPLE_DIR, "pem", `${nickname}.pem`)));
    return {
      nickname,
      certificate: new Uint8Array(cert.raw),
      subject: cert.subject,
      keyBits: cert.publicKey.asymmetricKeyDetails?.modulusLength ?? 0,
    };
  });
  const ring: KeyRing = {
    modulusBytes: (i) => (keys[i] ? (keys[i].asymmetricKeyDetails!.modulusLength! + 7) >> 3 : 0),
    rsaPrivate(i, input) {
      const key = keys[i];
      if (!key) return null;
      try {
        return new Uint8Array(privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, input));
      } catch (e) {
        throw new KeyOperationError((e as Error).message);
      }
    },
  };
  const password = options.password;
  return {
    kind: "memory",
    location: "test",
    credentials,
    loginRequired: password !== undefined,
    openKeys(pin) {
      if (password === undefined) return ring;
      return pin !== undefined && Buffer.from(pin).toString("latin1") === password ? ring : null;
    },
  };
}
