/** The key stores: where a card's certificates and private keys come from. */
export * from "./types.js";
export { openKeyStore, openNssKeyStore } from "./open.js";
export { openPemKeyStore } from "./pem.js";
export { openNssKeyStoreWith } from "./nss/nss-store.js";
export { loadSqlEngine } from "./nss/sqlite.js";
export { MAX_CREDENTIALS } from "./selection.js";
