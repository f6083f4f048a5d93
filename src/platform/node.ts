/**
 * The core's platform on Node: node:crypto's randomBytes and SHA-256 (native,
 * and already loaded by every key store). Importing this module makes it the
 * default, as the "cacard" entry point does.
 */
import { createHash, randomBytes } from "node:crypto";
import { platformProvider, type Platform } from "../core/platform.js";

export const nodePlatform: Platform = {
  randomBytes: (length) => new Uint8Array(randomBytes(length)),
  sha256: (data) => new Uint8Array(createHash("sha256").update(data).digest()),
};

platformProvider.set(nodePlatform);
