/** vpcd backend: the card side of vsmartcard's vpcd reader driver. */
export * from "./protocol.js";
export * from "./client.js";
export * from "./identity.js";
export * from "./card-set.js";
