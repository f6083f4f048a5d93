/**
 * The core's platform where only web standards are: Web Crypto's
 * getRandomValues and @noble/hashes' SHA-256 (synchronous, where Web
 * Crypto's digest is not). Importing this installs it unless a platform is
 * already set (the Node entry sets node:crypto's first).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { platformProvider, type Platform } from "./platform.js";

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

platformProvider.setDefault(webPlatform);
