/**
 * EC checks shared by the key store tests: seeded keys, points, ECDSA
 * verification with node:crypto and ECDH against node:crypto.diffieHellman.
 */
import { createHash, createPrivateKey, createPublicKey, diffieHellman, verify, X509Certificate, type KeyObject } from "node:crypto";
import { p256, p384 } from "@noble/curves/nist.js";
import type { EcCurve, PrivateKey } from "../../../src/core/token/types.js";
import { SeededBytes } from "./seeded.js";

export const FIELD_BYTES: Readonly<Record<EcCurve, number>> = { "P-256": 32, "P-384": 48 };
const NOBLE = { "P-256": p256, "P-384": p384 } as const;

/** A private EC key whose scalar comes from `label`: the same key on every run. */
export function seededEcKey(curve: EcCurve, label: string): KeyObject {
  const size = FIELD_BYTES[curve];
  const scalar = new SeededBytes(`${curve} key ${label}`).next(size);
  // Below the group order (whose top bits are all ones) and not zero.
  scalar[0] &= 0x7f;
  scalar[size - 1] |= 1;
  const point = NOBLE[curve].getPublicKey(scalar, false);
  const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64url");
  return createPrivateKey({
    key: { kty: "EC", crv: curve, x: b64(point.subarray(1, 1 + size)), y: b64(point.subarray(1 + size)), d: b64(scalar) },
    format: "jwk",
  });
}

/** The uncompressed point 04 || X || Y of an EC key (public or private). */
export function ecPoint(key: KeyObject): Uint8Array {
  const jwk = (key.type === "private" ? createPublicKey(key) : key).export({ format: "jwk" });
  return new Uint8Array(Buffer.concat([Buffer.of(0x04), Buffer.from(jwk.x as string, "base64url"), Buffer.from(jwk.y as string, "base64url")]));
}

/** The public key of a certificate DER, or of a KeyObject as given. */
function publicKeyOf(from: Uint8Array | KeyObject): KeyObject {
  return from instanceof Uint8Array ? new X509Certificate(from).publicKey : from;
}

/**
 * Signs SHA-x(message) with `key` (the digest as a card is given it) and
 * checks the r || s answer with node:crypto over the message.
 */
export async function ecdsaVerifies(
  key: PrivateKey,
  publicKey: Uint8Array | KeyObject,
  hash: "sha256" | "sha384" | "sha512",
  message: Uint8Array,
): Promise<boolean> {
  const digest = new Uint8Array(createHash(hash).update(message).digest());
  const signature = await key.ecdsaSign!(digest);
  const curve = (key.algorithm as { curve: EcCurve }).curve;
  if (signature.length !== 2 * FIELD_BYTES[curve]) return false;
  return verify(hash, message, { key: publicKeyOf(publicKey), dsaEncoding: "ieee-p1363" }, signature);
}

/**
 * ECDH of `key` with an ephemeral peer (seeded from `label`), checked
 * against node:crypto.diffieHellman computed from the peer's side.
 */
export async function ecdhAgrees(key: PrivateKey, publicKey: Uint8Array | KeyObject, label: string): Promise<boolean> {
  const curve = (key.algorithm as { curve: EcCurve }).curve;
  const ephemeral = seededEcKey(curve, `ephemeral ${label}`);
  const expected = diffieHellman({ privateKey: ephemeral, publicKey: publicKeyOf(publicKey) });
  const actual = await key.ecdh!(ecPoint(ephemeral));
  return actual.length === FIELD_BYTES[curve] && Buffer.from(actual).equals(expected);
}

/** An Ed25519 private key from a seeded 32-byte seed (RFC 8410 §7 PKCS#8 form). */
export function seededEd25519Key(label: string): KeyObject {
  const prefix = Buffer.from("302e020100300506032b657004220420", "hex");
  return createPrivateKey({ key: Buffer.concat([prefix, new SeededBytes(`ed25519 ${label}`).next(32)]), format: "der", type: "pkcs8" });
}

/** A secp256k1 private key (a curve no card uses) from a seeded scalar (SEC 1 ECPrivateKey, RFC 5915). */
export function seededSecp256k1Key(label: string): KeyObject {
  const scalar = new SeededBytes(`secp256k1 ${label}`).next(32);
  scalar[0] &= 0x7f;
  const der = Buffer.concat([Buffer.from("302e0201010420", "hex"), scalar, Buffer.from("a00706052b8104000a", "hex")]);
  return createPrivateKey({ key: der, format: "der", type: "sec1" });
}
