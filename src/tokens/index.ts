/** The tokens opened from files: NSS sql: databases and PEM directories. */
export * from "../core/token/types.js";
export type { OpenKeyStoreOptions } from "./options.js";
export { openKeyStore, openNssKeyStore } from "./open.js";
export { openPemKeyStore } from "./pem.js";
export { MAX_CREDENTIALS } from "./selection.js";
