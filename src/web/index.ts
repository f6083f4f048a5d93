/**
 * The browser build's entry for embedding (dist/web/cacard-web.js): the card,
 * a token from files, and the VSCard session over QEMU's WebSocket chardev.
 * See docs/browser.md.
 */
export { WebCard, type WebCardEvent, type WebCardOptions, type WebCardState } from "./web-card.js";
export { BrowserToken, BrowserPrivateKey, keyMatchesCertificate, type BrowserTokenOptions, type CredentialFiles } from "./browser-token.js";
export { connectWebSocket, checkChardevUrl, QEMU_WEBSOCKET_PROTOCOL, type ByteTransport } from "./websocket-transport.js";
export { describeExchange, insName, swName, type ApduLogLine } from "./apdu-names.js";
export { rsaRawPrivate, type RsaPrivateComponents } from "./crypto/rsa-raw.js";
export { describeAlgorithm, KeyStoreError, type Token } from "../core/token/types.js";
export { PERSONALITIES, type Personality } from "../core/create-card.js";
export { redactPins } from "../core/card/card.js";
