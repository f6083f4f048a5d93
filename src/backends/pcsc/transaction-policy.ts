/**
 * When a shared-mode relay may let go of its PC/SC transaction.
 *
 * In SCARD_SHARE_SHARED, pcscd happily interleaves APDUs from several
 * applications: a host process's SELECT between the guest's SELECT (61xx) and
 * its GET RESPONSE hands the guest the other applet's FCI. The relay
 * therefore holds SCardBeginTransaction from the guest's first APDU and only
 * ends it after the guest has been idle for a while *and* is not in the
 * middle of a multi-APDU exchange:
 *
 *  - SW1 61 (more data: GET RESPONSE follows) or 6C (wrong Le: the command
 *    is resent with the exact Le) in the last response;
 *  - ISO command chaining (CLA bit b5 set) in the last command.
 *
 * A transaction per APDU would break both. A transaction that lasts as long
 * as the guest runs would lock every host application out (and a Windows
 * resource manager resets a card whose transaction idles for 5 s), so the
 * hold is bounded by `maxHoldMs` of idleness even at an unsafe point.
 *
 * The timing is pure data here; PcscCard owns the timer and the PC/SC calls.
 */

/** SW1 values after which the guest's next APDU belongs to the same exchange. */
const SW1_MORE_DATA = 0x61;
const SW1_WRONG_LE = 0x6c;
/** ISO 7816-4 §5.4.1: b5 of an interindustry CLA = "command is not the last of a chain". */
const CLA_CHAINING_BIT = 0x10;
/** CLA FF is reserved for PPS / reader pseudo-APDUs, never chained. */
const CLA_INVALID = 0xff;

export interface TransactionTiming {
  /** Release after this long without an APDU at a safe point. */
  readonly idleMs: number;
  /** Release after this long without an APDU even inside a 61xx/6Cxx/chain. */
  readonly maxHoldMs: number;
}

/** Defaults: well under a second of idleness, and below Windows' 5 s transaction reset. */
export const DEFAULT_TRANSACTION_TIMING: TransactionTiming = { idleMs: 500, maxHoldMs: 4_000 };

/** True when the guest can be interrupted after this command/response pair. */
export function isSafePoint(command: Uint8Array, response: Uint8Array): boolean {
  if (command.length > 0 && command[0] !== CLA_INVALID && (command[0] & CLA_CHAINING_BIT) !== 0) return false;
  if (response.length >= 2) {
    const sw1 = response[response.length - 2];
    if (sw1 === SW1_MORE_DATA || sw1 === SW1_WRONG_LE) return false;
  }
  return true;
}

/**
 * How long to wait before checking again, or 0 to release now, given the
 * time since the last APDU and whether that APDU ended at a safe point.
 */
export function releaseDelay(timing: TransactionTiming, idleForMs: number, safe: boolean): number {
  const limit = safe ? timing.idleMs : timing.maxHoldMs;
  return Math.max(0, limit - idleForMs);
}
