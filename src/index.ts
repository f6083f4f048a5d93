/**
 * cacard: a software smartcard for Node. The card core (cacard/core), the
 * tokens that read NSS databases and PEM directories or use a PKCS#11
 * module, and the transports that put a card into a VM (VSCard, QEMU's
 * ccid-card-passthru) or into the host's pcscd (vpcd).
 *
 * Importing this module makes node:crypto the core's platform (randomness,
 * SHA-256).
 */
import "./platform/node.js";

export * from "./core/index.js";
export { nodePlatform } from "./platform/node.js";
export { openKeyStore, openNssKeyStore, openPemKeyStore, MAX_CREDENTIALS, type OpenKeyStoreOptions } from "./tokens/index.js";
/** Host mode: a PKCS#11 token as the key store (needs the optional package pkcs11js). */
export { openPkcs11Token, Pkcs11Error, type Pkcs11Token, type Pkcs11TokenOptions, type Pkcs11ErrorCode } from "./tokens/pkcs11/index.js";
/** The vpcd transport: the card in the host's pcscd through vsmartcard's vpcd reader driver. */
export * as vpcd from "./backends/vpcd/index.js";
/** The VSCard transport: the card behind QEMU's ccid-card-passthru. */
export * as vscard from "./backends/vscard/index.js";
