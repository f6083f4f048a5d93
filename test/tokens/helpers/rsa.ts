/**
 * RSA checks shared by the key store tests: inputs below the modulus, logins
 * as sessions, and checks with the certificate's public key.
 */
import { constants, createHash, publicEncrypt, X509Certificate } from "node:crypto";
import type { Credential, Token, TokenSession } from "../../../src/core/token/types.js";
import { SeededBytes } from "./seeded.js";

const operands = new SeededBytes("rsa operands");

/** An operand of `length` bytes that is certainly below any modulus of that length (top byte 0); seeded. */
export function operand(length: number): Uint8Array {
  const x = operands.next(length);
  if (length > 0) x[0] = 0;
  return x;
}

/** The session a login with `pin` opens, or null for a wrong PIN (the old openKeys contract). */
export async function session(token: Token, pin?: Uint8Array): Promise<TokenSession | null> {
  const result = await token.login(pin);
  if (result.ok) return result.session;
  if (result.reason !== "wrong-pin") throw new Error(`unexpected login result ${result.reason}`);
  return null;
}

/** The raw RSA operation with key `index`, or null when the session has no RSA key there. */
export async function rsaRaw(s: TokenSession, index: number, input: Uint8Array): Promise<Uint8Array | null> {
  const key = s.key(index);
  if (key === null || key.rsaRaw === undefined) return null;
  return key.rsaRaw(input);
}

/** Modulus bytes of key `index`, or 0 when there is no RSA key there. */
export function modulusBytes(s: TokenSession, index: number): number {
  const algorithm = s.key(index)?.algorithm;
  return algorithm?.kind === "rsa" ? algorithm.bits / 8 : 0;
}

/** RSA key bits of each credential, from its certificate (0 when not RSA). */
export function keyBits(token: Token): number[] {
  return token.credentials.map((c) => (c.algorithm.kind === "rsa" ? c.algorithm.bits : 0));
}

/** m^e mod n with the certificate's public key: undoes the raw private operation. */
export function publicRaw(credential: Credential, value: Uint8Array): Uint8Array {
  const key = new X509Certificate(credential.certificate).publicKey;
  return new Uint8Array(publicEncrypt({ key, padding: constants.RSA_NO_PADDING }, value));
}

/** The modulus of a certificate's RSA key. */
export function certModulus(certificate: Uint8Array): Uint8Array {
  const jwk = new X509Certificate(certificate).publicKey.export({ format: "jwk" });
  return new Uint8Array(Buffer.from(jwk.n as string, "base64url"));
}

/** An EMSA-PKCS1-v1_5 block for SHA-256, as a CAC host sends to SIGN_DECRYPT. */
export function pkcs1Sha256Block(message: Uint8Array, length: number): Uint8Array {
  const digestInfoPrefix = Buffer.from("3031300d060960864801650304020105000420", "hex");
  const t = Buffer.concat([digestInfoPrefix, createHash("sha256").update(message).digest()]);
  const block = Buffer.alloc(length, 0xff);
  block[0] = 0x00;
  block[1] = 0x01;
  block[length - t.length - 1] = 0x00;
  t.copy(block, length - t.length);
  return new Uint8Array(block);
}

/** Checks that key `index` of `s` is the private half of credential `cred`. */
export async function roundTrips(s: TokenSession, index: number, cred: Credential): Promise<boolean> {
  const x = operand(modulusBytes(s, index));
  const y = await rsaRaw(s, index, x);
  return y !== null && Buffer.from(publicRaw(cred, y)).equals(Buffer.from(x));
}
