/**
 * Host mode: the card's certificates and keys on a PKCS#11 token (an HSM, a
 * TPM through tpm2-pkcs11, a smartcard through OpenSC, SoftHSM). Needs the
 * optional package pkcs11js, loaded only when a token is opened.
 */
export { openPkcs11Token, compareIds, type Pkcs11Token, type Pkcs11TokenOptions } from "./token.js";
export { Pkcs11Error, type Pkcs11ErrorCode } from "./errors.js";
