/**
 * What the core needs from its host: randomness (GET CHALLENGE, PIV witness)
 * and SHA-256 (card serials). It is passed in: the "cacard" entry installs
 * node:crypto's (src/platform/node.ts), "cacard/core" Web Crypto's with
 * @noble/hashes (platform-web.ts). Keeping both out of this module keeps a
 * hash library off the start-up path of the Node CLI.
 */
import { CacardError } from "./errors.js";

export interface Platform {
  /** `length` cryptographically strong random bytes. */
  randomBytes(length: number): Uint8Array;
  sha256(data: Uint8Array): Uint8Array;
}

let current: Platform | null = null;

/** The platform used when none is passed. */
export const platformProvider = {
  get(): Platform {
    if (current === null) {
      throw new CacardError("NO_PLATFORM", "no platform installed: import cacard (Node) or cacard/core, or pass one");
    }
    return current;
  },
  set(platform: Platform): void {
    current = platform;
  },
  /** Installs `platform` unless one is already there (an entry point's default). */
  setDefault(platform: Platform): void {
    current ??= platform;
  },
};
