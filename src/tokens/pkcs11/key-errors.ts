/**
 * A failed PKCS#11 key operation as the card sees it, following the chain
 * libcacard goes through: CK_RV -> NSS SEC_ERROR (PK11_MapError, nss
 * lib/pk11wrap/pk11util.c) -> vcard_emul_map_error (libcacard 2.8.1
 * vcard_emul_nss.c) -> status word. The PKI applet picks the status word
 * from the KeyOperationError code.
 */
import { KeyOperationError, type KeyOperationErrorCode } from "../../core/token/types.js";
import { CKR } from "./constants.js";
import { ckrOf, describeCkr } from "./errors.js";

/** CK_RVs NSS turns into BAD_DATA / INVALID_KEY / PKCS11_GENERAL_ERROR, which libcacard answers with 6984. */
const INPUT_ERRORS: ReadonlySet<number> = new Set([
  CKR.ARGUMENTS_BAD,
  CKR.DATA_INVALID,
  CKR.DATA_LEN_RANGE,
  CKR.ENCRYPTED_DATA_INVALID,
  CKR.ENCRYPTED_DATA_LEN_RANGE,
  CKR.KEY_HANDLE_INVALID,
  CKR.KEY_SIZE_RANGE,
  CKR.KEY_TYPE_INCONSISTENT,
  CKR.KEY_FUNCTION_NOT_PERMITTED,
  CKR.MECHANISM_INVALID,
  CKR.MECHANISM_PARAM_INVALID,
  CKR.OBJECT_HANDLE_INVALID,
  CKR.TEMPLATE_INCOMPLETE,
  CKR.TEMPLATE_INCONSISTENT,
  CKR.GENERAL_ERROR,
]);

const MEMORY_ERRORS: ReadonlySet<number> = new Set([CKR.HOST_MEMORY, CKR.DEVICE_MEMORY, CKR.SESSION_COUNT]);

/**
 * Token-gone codes. With OpenSC, after the card was pulled: CKR_DEVICE_REMOVED
 * on the operation, then SESSION_HANDLE_INVALID and TOKEN_NOT_PRESENT on
 * anything else. The card then answers 6500 (NSS has no closer mapping) and
 * the token's watcher removes it from the reader.
 */
export const REMOVED_ERRORS: ReadonlySet<number> = new Set([
  CKR.DEVICE_REMOVED,
  CKR.TOKEN_NOT_PRESENT,
  CKR.SESSION_HANDLE_INVALID,
  CKR.SESSION_CLOSED,
]);

/** The KeyOperationError code for a CK_RV (undefined: no CK_RV, e.g. the module thread died). */
export function keyErrorCode(ckr: number | undefined): KeyOperationErrorCode {
  // NSS maps USER_NOT_LOGGED_IN to a library failure, but libcacard never
  // gets that far logged out: its private key lookup already fails (6985).
  if (ckr === CKR.USER_NOT_LOGGED_IN) return "KEY_NOT_LOGGED_IN";
  if (ckr !== undefined && INPUT_ERRORS.has(ckr)) return "KEY_OPERATION_INPUT";
  if (ckr !== undefined && MEMORY_ERRORS.has(ckr)) return "KEY_OUT_OF_MEMORY";
  return "KEY_OPERATION_FAILED";
}

/** Wraps a failed module call as a KeyOperationError; one already wrapped passes through. */
export function toKeyOperationError(what: string, error: unknown): KeyOperationError {
  if (error instanceof KeyOperationError) return error;
  const ckr = ckrOf(error);
  const detail = ckr === undefined ? String((error as Error)?.message ?? error) : describeCkr(ckr);
  return new KeyOperationError(`${what}: ${detail}`, keyErrorCode(ckr), { cause: error });
}
