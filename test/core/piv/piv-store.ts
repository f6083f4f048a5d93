/**
 * A token for PIV tests: the RSA-2048 sample keys and EC keys from fixed
 * scalars (no randomness), with placeholder certificates (the card serves
 * certificate bytes verbatim; only their algorithm matters here).
 */
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { p256, p384 } from "@noble/curves/nist.js";
import type { Token } from "../../../src/core/token/types.js";
import { sampleCertificate, samplePrivateKey, testToken } from "../../helpers/memory-store.js";

export type KeySpec = "rsa1" | "rsa2" | "rsa3" | "p256" | "p384";

const b64u = (b: Uint8Array) => Buffer.from(b).toString("base64url");

function ecKey(curve: "P-256" | "P-384", fill: number): KeyObject {
  const size = curve === "P-256" ? 32 : 48;
  const d = new Uint8Array(size).fill(fill);
  const pub = (curve === "P-256" ? p256 : p384).getPublicKey(d, false);
  return createPrivateKey({
    key: { kty: "EC", crv: curve, d: b64u(d), x: b64u(pub.subarray(1, 1 + size)), y: b64u(pub.subarray(1 + size)) },
    format: "jwk",
  });
}

export function keyObject(spec: KeySpec): KeyObject {
  switch (spec) {
    case "rsa1":
      return samplePrivateKey("cert1");
    case "rsa2":
      return samplePrivateKey("cert2");
    case "rsa3":
      return samplePrivateKey("cert3");
    case "p256":
      return ecKey("P-256", 0x11);
    case "p384":
      return ecKey("P-384", 0x22);
  }
}

export function publicKeyOf(spec: KeySpec): KeyObject {
  return createPublicKey(keyObject(spec));
}

/** A DER-ish placeholder certificate per key, distinct and of a realistic size for RSA. */
function certificateFor(spec: KeySpec, i: number): Uint8Array {
  if (spec.startsWith("rsa")) return sampleCertificate(`cert${spec.slice(3)}`);
  return Uint8Array.of(0x30, 0x03, 0x02, 0x01, i);
}

export function pivStore(specs: readonly KeySpec[], password?: string): Token {
  return testToken(
    specs.map((s, i) => ({ label: s, certificate: certificateFor(s, i), subject: `CN=${s}`, key: keyObject(s) })),
    password,
  );
}
