/** Instruction bytes this card knows (ISO 7816-4 and GSC-IS 2.1 CAC). */
export const INS = {
  VERIFY: 0x20,
  SIGN_DECRYPT: 0x42, // CAC: same INS for signing and deciphering
  GET_ACR: 0x4c, // CAC ACA
  READ_BUFFER: 0x52, // CAC
  GET_PROPERTIES: 0x56, // CAC
  UPDATE_BUFFER: 0x58, // CAC
  MANAGE_CHANNEL: 0x70,
  GET_CHALLENGE: 0x84,
  SELECT: 0xa4,
  GET_RESPONSE: 0xc0,
  GET_DATA: 0xca,
} as const;

/**
 * Instructions whose data carries a PIN or PUK (ISO/IEC 7816-4 §11.5, also
 * the PIV ones, NIST SP 800-73-4 Part 2 §3.2): VERIFY (20), CHANGE REFERENCE
 * DATA (24, old and new PIN), DISABLE (26) and ENABLE (28) VERIFICATION
 * REQUIREMENT, RESET RETRY COUNTER (2C, PUK and new PIN), and the odd INS
 * next to each (VERIFY's BER-TLV form 21; for the others, blanking a value no
 * card uses costs nothing). Traces blank their data whatever the card answers.
 */
export const PIN_INS: ReadonlySet<number> = new Set([0x20, 0x21, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2c, 0x2d]);
