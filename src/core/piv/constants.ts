/**
 * PIV card application constants (NIST SP 800-73-4 Part 1 and Part 2,
 * SP 800-78-4 for algorithm identifiers).
 */

/** NIST RID (SP 800-73-4 Part 1 §2.2). */
export const PIV_RID = Uint8Array.of(0xa0, 0x00, 0x00, 0x03, 0x08);
/** The PIV application: RID, PIX 00 00 10 00, version 01 00 (Part 1 §2.2). */
export const PIV_AID = Uint8Array.of(0xa0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00);
/** The right-truncated AID without the version, as OpenSC and Windows send it. */
export const PIV_AID_TRUNCATED = PIV_AID.subarray(0, 9);

/** Instructions of the PIV card command interface (Part 2 §3). */
export const PIV_INS = {
  VERIFY: 0x20,
  CHANGE_REFERENCE_DATA: 0x24,
  RESET_RETRY_COUNTER: 0x2c,
  GENERATE_ASYMMETRIC_KEY_PAIR: 0x47,
  GENERAL_AUTHENTICATE: 0x87,
  GET_RESPONSE: 0xc0,
  GET_DATA: 0xcb,
  PUT_DATA: 0xdb,
  SELECT: 0xa4,
} as const;

/** CLA bit 5: more command blocks follow (ISO 7816-4 §5.1.1.1 command chaining). */
export const CLA_CHAINING = 0x10;
/** CLA bit 8: not an interindustry class; a PIV card answers 6E00. */
export const CLA_PROPRIETARY = 0x80;
/** CLA bits 3-4: secure messaging indication. */
export const CLA_SECURE_MESSAGING = 0x0c;

/** Key references (Part 1 §3.1, table 4). */
export const KeyRef = {
  PIV_AUTHENTICATION: 0x9a,
  CARD_MANAGEMENT: 0x9b,
  DIGITAL_SIGNATURE: 0x9c,
  KEY_MANAGEMENT: 0x9d,
  CARD_AUTHENTICATION: 0x9e,
} as const;

/** The four key slots cacard fills from the token, in default credential order. */
export const PIV_SLOTS = [
  KeyRef.PIV_AUTHENTICATION,
  KeyRef.DIGITAL_SIGNATURE,
  KeyRef.KEY_MANAGEMENT,
  KeyRef.CARD_AUTHENTICATION,
] as const;
export type PivSlot = (typeof PIV_SLOTS)[number];

/** Retired key management keys 82-95 (Part 1 §3.1): valid references, never filled here. */
export const RETIRED_KEY_FIRST = 0x82;
export const RETIRED_KEY_LAST = 0x95;
/** Secure messaging key (SP 800-73-4 Part 2 §4.1): a valid reference, never filled here. */
export const SM_KEY = 0x04;

/** PIN references for VERIFY / CHANGE REFERENCE DATA / RESET RETRY COUNTER (Part 2 §3.2.1). */
export const PinRef = {
  GLOBAL: 0x00,
  PIV_PIN: 0x80,
  PUK: 0x81,
} as const;
/** VERIFY P1=FF: reset the security status of the reference (Part 2 §3.2.1). */
export const VERIFY_RESET_STATUS = 0xff;

/** Cryptographic mechanism identifiers (SP 800-78-4 table 6-2 and 6-3). */
export const PivAlg = {
  TDEA_3KEY: 0x03,
  TDEA_3KEY_LEGACY: 0x00,
  RSA_1024: 0x06,
  RSA_2048: 0x07,
  RSA_3072: 0x05,
  /** Not NIST: YubiKey 5.7 and OpenSC master use it for 512-byte RSA operands. */
  RSA_4096: 0x16,
  AES_128: 0x08,
  AES_192: 0x0a,
  AES_256: 0x0c,
  ECC_P256: 0x11,
  ECC_P384: 0x14,
} as const;

/** PIN length and padding (Part 2 §2.4.3): 6-8 digits padded with FF to 8 bytes. */
export const PIN_MIN_LENGTH = 6;
export const PIN_MAX_LENGTH = 8;
export const PIN_PAD = 0xff;
/** CHANGE REFERENCE DATA / RESET RETRY COUNTER carry two 8-byte references. */
export const REFERENCE_PAIR_LENGTH = 2 * PIN_MAX_LENGTH;

/** Default PIN retry counter of a PIV personality (Part 1 §2.4.3 asks for 10 or fewer; 3 is common). */
export const PIV_DEFAULT_PIN_TRIES = 3;

/**
 * Largest command assembled from a chain: a 4096-bit RSA operand in its
 * template is 522 bytes; ECDH P-384 is 104. Anything longer is refused (6700).
 */
export const MAX_CHAINED_COMMAND = 2048;
