/**
 * The PKCS#11 numbers this key store uses, with their names from the OASIS
 * PKCS#11 2.40 base specification (pkcs11t.h). Kept here, rather than read
 * from pkcs11js at run time, so that everything but the worker thread can be
 * type-checked and unit-tested without the optional native addon.
 */

/** CK_RV return values (pkcs11t.h "CKR_"). */
export const CKR = {
  OK: 0x000,
  HOST_MEMORY: 0x002,
  GENERAL_ERROR: 0x005,
  FUNCTION_FAILED: 0x006,
  ARGUMENTS_BAD: 0x007,
  NO_EVENT: 0x008,
  ATTRIBUTE_TYPE_INVALID: 0x012,
  DATA_INVALID: 0x020,
  DATA_LEN_RANGE: 0x021,
  DEVICE_ERROR: 0x030,
  DEVICE_MEMORY: 0x031,
  DEVICE_REMOVED: 0x032,
  ENCRYPTED_DATA_INVALID: 0x040,
  ENCRYPTED_DATA_LEN_RANGE: 0x041,
  FUNCTION_NOT_SUPPORTED: 0x054,
  KEY_HANDLE_INVALID: 0x060,
  KEY_SIZE_RANGE: 0x062,
  KEY_TYPE_INCONSISTENT: 0x063,
  KEY_FUNCTION_NOT_PERMITTED: 0x068,
  MECHANISM_INVALID: 0x070,
  MECHANISM_PARAM_INVALID: 0x071,
  OBJECT_HANDLE_INVALID: 0x082,
  OPERATION_ACTIVE: 0x090,
  PIN_INCORRECT: 0x0a0,
  PIN_INVALID: 0x0a1,
  PIN_LEN_RANGE: 0x0a2,
  PIN_EXPIRED: 0x0a3,
  PIN_LOCKED: 0x0a4,
  SESSION_CLOSED: 0x0b0,
  SESSION_COUNT: 0x0b1,
  SESSION_HANDLE_INVALID: 0x0b3,
  TEMPLATE_INCOMPLETE: 0x0d0,
  TEMPLATE_INCONSISTENT: 0x0d1,
  TOKEN_NOT_PRESENT: 0x0e0,
  TOKEN_NOT_RECOGNIZED: 0x0e1,
  USER_ALREADY_LOGGED_IN: 0x100,
  USER_NOT_LOGGED_IN: 0x101,
  BUFFER_TOO_SMALL: 0x150,
  CRYPTOKI_ALREADY_INITIALIZED: 0x191,
} as const;

/** Object classes (CKO_). */
export const CKO = { CERTIFICATE: 1, PUBLIC_KEY: 2, PRIVATE_KEY: 3, SECRET_KEY: 4 } as const;

/** Key types (CKK_). */
export const CKK = { RSA: 0, EC: 3, GENERIC_SECRET: 0x10 } as const;

/** Certificate types (CKC_). */
export const CKC_X_509 = 0;

/** Attribute types (CKA_). */
export const CKA = {
  CLASS: 0x000,
  TOKEN: 0x001,
  PRIVATE: 0x002,
  LABEL: 0x003,
  VALUE: 0x011,
  CERTIFICATE_TYPE: 0x080,
  KEY_TYPE: 0x100,
  ID: 0x102,
  SENSITIVE: 0x103,
  DECRYPT: 0x105,
  SIGN: 0x108,
  DERIVE: 0x10c,
  VALUE_LEN: 0x161,
  EXTRACTABLE: 0x162,
} as const;

/** Mechanisms (CKM_). */
export const CKM = {
  RSA_PKCS: 0x0001,
  RSA_X_509: 0x0003,
  ECDSA: 0x1041,
  ECDH1_DERIVE: 0x1050,
} as const;

/** Key derivation function for ECDH1_DERIVE: the raw shared X coordinate. */
export const CKD_NULL = 1;

/** User types for C_Login. */
export const CKU_USER = 1;

/** C_Initialize flag: the module may use the OS's own locking (calls come from libuv/worker threads). */
export const CKF_OS_LOCKING_OK = 0x2;
/** C_OpenSession flag: always required. Read-only sessions suffice for sign/decrypt/derive. */
export const CKF_SERIAL_SESSION = 0x4;
/** C_WaitForSlotEvent flag: poll instead of blocking. */
export const CKF_DONT_BLOCK = 1;

/** CK_TOKEN_INFO.flags bits (CKF_). */
export const CKF_TOKEN = {
  LOGIN_REQUIRED: 0x0000_0004,
  TOKEN_INITIALIZED: 0x0000_0400,
  USER_PIN_COUNT_LOW: 0x0001_0000,
  USER_PIN_FINAL_TRY: 0x0002_0000,
  USER_PIN_LOCKED: 0x0004_0000,
} as const;

/** CK_SLOT_INFO.flags bits. */
export const CKF_SLOT = { TOKEN_PRESENT: 0x1, REMOVABLE_DEVICE: 0x2, HW_SLOT: 0x4 } as const;

/** pkcs11js parameter-structure tag for CK_ECDH1_DERIVE_PARAMS (its CK_PARAMS_EC_DH). */
export const PKCS11JS_PARAMS_EC_DH = 6;

/** Reverse lookup for messages: 0xa0 -> "CKR_PIN_INCORRECT". */
export function ckrName(rv: number): string {
  for (const [name, value] of Object.entries(CKR)) if (value === rv) return `CKR_${name}`;
  return `CKR_0x${rv.toString(16).padStart(8, "0")}`;
}
