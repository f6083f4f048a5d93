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
