/**
 * Host faults of the PC/SC side: a failed pcsc-lite call (PcscError, which
 * keeps the SCARD_* return value) and the relay's own checks (RelayError).
 * Both are CacardErrors, so callers branch on the stable `code`.
 *
 * What the codes mean for the guest (mapped in relayed-reader.ts):
 * CARD_REMOVED → CardRemove; CARD_RESET → CardRemove + ATR so the guest
 * re-reads the card; READER_GONE / NO_SERVICE → CardRemove, then wait for
 * the reader to come back; anything else fails that one APDU (VSC_Error).
 */
import { CacardError } from "../../core/errors.js";
import { SCARD_RV, scardName } from "./constants.js";

export const PCSC_ERROR_CODE = {
  /** koffi or libpcsclite.so.1 could not be loaded. */
  UNAVAILABLE: "PCSC_UNAVAILABLE",
  /** pcscd is not running, was stopped, or its socket broke (a restart). */
  NO_SERVICE: "PCSC_NO_SERVICE",
  /** The reader went away (unplugged, or renamed by a pcscd restart). */
  READER_GONE: "PCSC_READER_GONE",
  /** No card in the reader, or it was pulled out since we connected. */
  CARD_REMOVED: "PCSC_CARD_REMOVED",
  /** Another application reset the card: selections and PIN state are gone. */
  CARD_RESET: "PCSC_CARD_RESET",
  /** Someone else holds the card exclusively (or we want it exclusively and it is in use). */
  SHARING_VIOLATION: "PCSC_SHARING_VIOLATION",
  /** The card is mute, unpowered, or speaks no protocol we offered. */
  CARD_UNUSABLE: "PCSC_CARD_UNUSABLE",
  /** Interrupted by SCardCancel (closing). */
  CANCELLED: "PCSC_CANCELLED",
  /** One relayed exchange took longer than its bound. */
  TIMEOUT: "PCSC_TIMEOUT",
  /** Any other SCARD_* failure. */
  FAILED: "PCSC_FAILED",
} as const;
export type PcscErrorCode = (typeof PCSC_ERROR_CODE)[keyof typeof PCSC_ERROR_CODE];

export const RELAY_ERROR_CODE = {
  READER_NOT_FOUND: "RELAY_READER_NOT_FOUND",
  READER_AMBIGUOUS: "RELAY_READER_AMBIGUOUS",
  /** The name designates a reader this process feeds itself (a loop). */
  READER_SELF: "RELAY_READER_SELF",
  NOT_CONNECTED: "RELAY_NOT_CONNECTED",
  BAD_APDU: "RELAY_BAD_APDU",
  /** An earlier exchange timed out and pcscd has not answered it yet. */
  BUSY: "RELAY_BUSY",
  CLOSED: "RELAY_CLOSED",
} as const;
export type RelayErrorCode = (typeof RELAY_ERROR_CODE)[keyof typeof RELAY_ERROR_CODE];

const CODE_BY_RV = new Map<number, PcscErrorCode>([
  [SCARD_RV.E_NO_SERVICE, PCSC_ERROR_CODE.NO_SERVICE],
  [SCARD_RV.E_SERVICE_STOPPED, PCSC_ERROR_CODE.NO_SERVICE],
  [SCARD_RV.F_COMM_ERROR, PCSC_ERROR_CODE.NO_SERVICE],
  [SCARD_RV.E_UNKNOWN_READER, PCSC_ERROR_CODE.READER_GONE],
  [SCARD_RV.E_READER_UNAVAILABLE, PCSC_ERROR_CODE.READER_GONE],
  [SCARD_RV.E_NO_READERS_AVAILABLE, PCSC_ERROR_CODE.READER_GONE],
  [SCARD_RV.E_NO_SMARTCARD, PCSC_ERROR_CODE.CARD_REMOVED],
  [SCARD_RV.W_REMOVED_CARD, PCSC_ERROR_CODE.CARD_REMOVED],
  [SCARD_RV.W_RESET_CARD, PCSC_ERROR_CODE.CARD_RESET],
  [SCARD_RV.E_SHARING_VIOLATION, PCSC_ERROR_CODE.SHARING_VIOLATION],
  [SCARD_RV.W_UNRESPONSIVE_CARD, PCSC_ERROR_CODE.CARD_UNUSABLE],
  [SCARD_RV.W_UNSUPPORTED_CARD, PCSC_ERROR_CODE.CARD_UNUSABLE],
  [SCARD_RV.W_UNPOWERED_CARD, PCSC_ERROR_CODE.CARD_UNUSABLE],
  [SCARD_RV.E_PROTO_MISMATCH, PCSC_ERROR_CODE.CARD_UNUSABLE],
  [SCARD_RV.E_CANCELLED, PCSC_ERROR_CODE.CANCELLED],
  [SCARD_RV.E_TIMEOUT, PCSC_ERROR_CODE.TIMEOUT],
]);

/** A PC/SC call failed: `rv` is the SCARD_* value, `code` what it means for the relay. */
export class PcscError extends CacardError {
  declare readonly code: PcscErrorCode;
  constructor(
    readonly operation: string,
    readonly rv: number,
    code: PcscErrorCode = CODE_BY_RV.get(rv >>> 0) ?? PCSC_ERROR_CODE.FAILED,
    detail?: string,
  ) {
    super(code, `${operation}: ${scardName(rv)}${detail ? ` (${detail})` : ""}`);
  }

  /** e.g. "SCARD_W_REMOVED_CARD". */
  get rvName(): string {
    return scardName(this.rv);
  }
}

export class RelayError extends CacardError {
  declare readonly code: RelayErrorCode;
  constructor(code: RelayErrorCode, message: string) {
    super(code, message);
  }
}

/** True when the context itself is dead (pcscd stopped or restarted): start over with a new one. */
export function isServiceLoss(error: unknown): boolean {
  if (!(error instanceof PcscError)) return false;
  // After a pcscd restart, a context of the old daemon answers SCARD_E_INVALID_HANDLE too.
  return error.code === PCSC_ERROR_CODE.NO_SERVICE || error.rv >>> 0 === SCARD_RV.E_INVALID_HANDLE;
}
