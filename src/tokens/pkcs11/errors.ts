/**
 * Host faults of the PKCS#11 token: a module that does not load, a token
 * that is not there, a call that failed. Key-operation failures the card
 * answers with a status word are KeyOperationError (key-errors.ts) instead.
 */
import { CacardError } from "../../core/errors.js";
import { ckrName } from "./constants.js";

export type Pkcs11ErrorCode =
  | "PKCS11_BINDING_MISSING" // the optional native addon pkcs11js is not installed or not built
  | "PKCS11_MODULE_LOAD" // dlopen or C_GetFunctionList of the module failed
  | "PKCS11_INIT" // C_Initialize failed
  | "PKCS11_NO_TOKEN" // no present token matches the label, or none holds a usable certificate
  | "PKCS11_NO_SUCH_LABEL" // a certificate label asked for is not on the token
  | "PKCS11_TOKEN_REMOVED" // the token went away (CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT, ...)
  | "PKCS11_CALL_FAILED" // any other CK_RV from a call that has no card-level meaning
  | "PKCS11_CLOSED"; // the token (or its module) was closed

/** A failed PKCS#11 host operation. `ckr` is the module's CK_RV when there was one. */
export class Pkcs11Error extends CacardError {
  declare readonly code: Pkcs11ErrorCode;
  constructor(
    code: Pkcs11ErrorCode,
    message: string,
    readonly ckr?: number,
    options?: { readonly cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/**
 * A module call that failed on the worker thread, with the module's CK_RV
 * when there is one (pkcs11js puts it in Pkcs11Error.code). Internal: the
 * token turns it into a Pkcs11Error or a KeyOperationError.
 */
export class Pkcs11CallError extends CacardError {
  constructor(
    readonly op: string,
    readonly ckr: number | undefined,
    message: string,
  ) {
    super("PKCS11_CALL_FAILED", message);
  }
}

/** The CK_RV a failed call carries, if any. */
export function ckrOf(error: unknown): number | undefined {
  const ckr = (error as { ckr?: unknown } | null)?.ckr;
  return typeof ckr === "number" ? ckr : undefined;
}

/** One line naming a CK_RV, e.g. "CKR_PIN_INCORRECT (0xa0)". */
export function describeCkr(rv: number): string {
  return `${ckrName(rv)} (0x${rv.toString(16)})`;
}
