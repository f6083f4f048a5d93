/**
 * Status words (ISO 7816-4 §5.6), named as in libcacard's card_7816t.h.
 * Only the ones libcacard actually produces, plus the few cacard adds, are listed.
 */
export const SW = {
  SUCCESS: 0x9000,
  /** SW1 61: XX more bytes available through GET RESPONSE. */
  RESPONSE_BYTES: 0x6100,
  /** SW1 6C: wrong Le, exact length in SW2 (libcacard: GET PROPERTIES only). */
  LE_ERROR: 0x6c00,
  /** SW1 63, SW2 Cx: verification status / x tries left. */
  WARNING_COUNTER: 0x63c0,
  EXC_ERROR_CHANGE: 0x6500,
  EXC_ERROR_MEMORY_FAILURE: 0x6581,
  WRONG_LENGTH: 0x6700,
  SECURE_NOT_SUPPORTED: 0x6882,
  /** PIV only: CLA 1x on an instruction that does not chain. */
  CHAINING_NOT_SUPPORTED: 0x6884,
  COMMAND_NOT_SUPPORTED: 0x6900,
  SECURITY_NOT_SATISFIED: 0x6982,
  AUTH_METHOD_BLOCKED: 0x6983,
  DATA_INVALID: 0x6984,
  CONDITION_NOT_SATISFIED: 0x6985,
  WRONG_PARAMETERS: 0x6a00,
  WRONG_PARAMETERS_IN_DATA: 0x6a80,
  FUNCTION_NOT_SUPPORTED: 0x6a81,
  FILE_NOT_FOUND: 0x6a82,
  P1_P2_INCORRECT: 0x6a86,
  DATA_NOT_FOUND: 0x6a88,
  INS_CODE_INVALID: 0x6d00,
  /** PIV only: a class byte outside the interindustry range (libcacard never says it). */
  CLA_NOT_SUPPORTED: 0x6e00,
  GENERAL_ERROR: 0x6f00,
} as const;

export type StatusWord = number;

export function swBytes(sw: StatusWord): Uint8Array {
  return Uint8Array.of((sw >> 8) & 0xff, sw & 0xff);
}
