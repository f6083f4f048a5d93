/** RSA checks shared by the key store tests: inputs below the modulus, and checks with the certificate's public key. */
import { constants, createHash, publicEncrypt, randomBytes, X509Certificate } from "node:crypto";
import type { Credential, KeyRing } from "../../../src/core/token/types.js";

/** A random operand of `length` bytes that is certainly below any modulus of that length (top byte 0). */
export function operand(length: number): Uint8Array {
  const x = new Uint8Array(randomBytes(length));
  x[0] = 0;
  return x;
}

/** m^e mod n with the certificate's public key: undoes the raw private operation. */
export function publicRaw(credential: Credential, value: Uint8Array): Uint8Array {
  const key = new X509Certificate(credential.certificate).publicKey;
  return new Uint8Array(publicEncrypt({ key, padding: constants.RSA_NO_PADDING }, value));
}

/** The modulus of the certificate's RSA key. */
export function certModulus(credential: Credential): Uint8Array {
  const jwk = new X509Certificate(credential.certificate).publicKey.export({ format: "jwk" });
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

/** Checks that key `index` of `ring` is the private half of credential `cred`. */
export function roundTrips(ring: KeyRing, index: number, cred: Credential): boolean {
  const x = operand(ring.modulusBytes(index));
  const y = ring.rsaPrivate(index, x);
  return y !== null && Buffer.from(publicRaw(cred, y)).equals(Buffer.from(x));
}
