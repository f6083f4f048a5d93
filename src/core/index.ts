/**
 * cacard/core: the platform-free card. The ISO 7816 layer, the card (channels,
 * GET RESPONSE, VERIFY), the CAC personality and the token seam, with nothing
 * from Node: it runs in a browser, a worker or Node alike. Randomness and
 * SHA-256 come from `platformProvider` (Web Crypto by default).
 *
 * Tokens that read files, and the transports, are in the "cacard" entry.
 */
export { CacardError } from "./errors.js";
export { platformProvider, type Platform } from "./platform.js";
// Installs Web Crypto + @noble/hashes as the default platform (unless one is set).
export { webPlatform } from "./platform-web.js";
export { Emitter, type Listener } from "./emitter.js";
export { toHex, fromHex, bytesEqual, concatBytes, HexFormatError } from "./bytes.js";

export { parseCommandApdu, ClassKind, SHORT_LE_MAX, EXTENDED_LE_MAX, type CommandApdu } from "./iso7816/apdu.js";
export { CardError } from "./iso7816/card-error.js";
export { SW, swBytes, type StatusWord } from "./iso7816/status.js";
export { INS } from "./iso7816/ins.js";

export {
  DEFER,
  ok,
  CompatBits,
  type Applet,
  type AppletAnswer,
  type AppletResponse,
  type AppletResult,
  type CardServices,
} from "./card/applet.js";
export { CAC_ATR, MAX_ATR_LENGTH } from "./card/atr.js";
export { VirtualCard, MAX_CHANNELS, pinFromVerifyData, redactPins, type CardOptions } from "./card/card.js";
export type { PinCheck, PinPolicy, PinStatus } from "./card/pin.js";
export { VirtualReader, type ReaderEvents, type SmartCard } from "./card/reader.js";

export { createCacCard, cacApplets, cardSerial, MAX_CERTIFICATE_BYTES, type CacCardOptions } from "./cac/cac-card.js";
export { cacCredentialWarnings } from "./cac/credential-check.js";
export { setCertificateCompressor, type CertificateCompressor } from "./cac/certificate-compression.js";
// Installs fflate as the compressor of compressCertificates: true.
export { fflateCompressor } from "./cac/certificate-zlib.js";
export { createCard, PERSONALITIES, type CreateCardOptions, type Personality } from "./create-card.js";
export { PivApplet, type PivAppletOptions } from "./piv/piv-applet.js";
export { PIV_ATR, createPivApplet, pivCredentialWarnings } from "./piv/piv-card.js";
export { PIV_AID, PIV_SLOTS, KeyRef, PivAlg, type PivSlot } from "./piv/constants.js";
export { parseSlotOrder } from "./piv/slots.js";
export { pivPinProblem } from "./piv/pin-format.js";
export { withCardPin } from "./token/card-pin.js";
export { MAX_PKI_APPLETS } from "./cac/aids.js";

export {
  KeyStoreError,
  KeyOperationError,
  rsaBits,
  describeAlgorithm,
  type Credential,
  type EcCurve,
  type KeyAlgorithm,
  type KeyStore,
  type KeyStoreErrorCode,
  type KeyOperationErrorCode,
  type LoginResult,
  type PrivateKey,
  type Token,
  type TokenEvent,
  type TokenSession,
} from "./token/types.js";
