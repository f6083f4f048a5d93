/** Handling of passwords and PINs: compared in constant time, wiped after use. */
import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Constant-time equality of two secrets. Both are hashed first so that
 * timingSafeEqual always sees equal lengths and the time taken does not
 * depend on where, or whether, the lengths differ.
 */
export function secretsEqual(a: Uint8Array, b: Uint8Array): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

/** A private copy of a secret the caller may wipe or reuse. */
export function copySecret(secret: Uint8Array): Uint8Array {
  return Uint8Array.from(secret);
}
