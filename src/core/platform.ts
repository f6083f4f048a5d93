/**
 * What the core needs from its host: randomness (GET CHALLENGE, PIV witness)
 * and SHA-256 (card serials). It is passed in, defaulting to what a browser
 * and Node 20 both have (Web Crypto's getRandomValues and @noble/hashes'
 * SHA-256, which is synchronous where Web Crypto's digest is not); the Node
 * entry point swaps in node:crypto (src/platform/node.ts).
 */
import { sha256 } from "@noble/hashes/sha2.js";

export interface Platform {
  /** `length` cryptographically strong random bytes. */
  randomBytes(length: number): Uint8Array;
  sha256(data: Uint8Array): Uint8Array;
}

/** getRandomValues fills at most 65,536 bytes per call (Web Crypto). */
const RANDOM_CHUNK = 65536;

export const webPlatform: Platform = {
  randomBytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let at = 0; at < length; at += RANDOM_CHUNK) {
      globalThis.crypto.getRandomValues(out.subarray(at, Math.min(length, at + RANDOM_CHUNK)));
    }
    return out;
  },
  sha256: (data) => sha256(data),
};

let current: Platform = webPlatform;

/** The platform used when none is passed (see src/platform/node.ts). */
export const platformProvider = {
  get: (): Platform => current,
  set(platform: Platform): void {
    current = platform;
  },
};
