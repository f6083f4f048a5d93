/**
 * PIV PIN reference data (SP 800-73-4 Part 2 §2.4.3): 6 to 8 characters,
 * padded with FF to exactly 8 bytes. cacard does not insist on digits: the
 * PIN may be a database password, which the holder did not choose for a card.
 */
import { CardError } from "../iso7816/card-error.js";
import { SW } from "../iso7816/status.js";
import { PIN_MAX_LENGTH, PIN_MIN_LENGTH, PIN_PAD } from "./constants.js";

/**
 * The PIN inside 8 bytes of reference data, without its padding; CardError
 * 6A80 when it is not 8 bytes, shorter than 6, or has padding in the middle.
 */
export function unpadPin(reference: Uint8Array): Uint8Array {
  if (reference.length !== PIN_MAX_LENGTH) throw new CardError(SW.WRONG_PARAMETERS_IN_DATA, "PIN reference is not 8 bytes");
  let end = reference.length;
  while (end > 0 && reference[end - 1] === PIN_PAD) end--;
  if (end < PIN_MIN_LENGTH) throw new CardError(SW.WRONG_PARAMETERS_IN_DATA, "PIN shorter than 6");
  if (reference.subarray(0, end).includes(PIN_PAD)) throw new CardError(SW.WRONG_PARAMETERS_IN_DATA, "padding inside the PIN");
  return reference.slice(0, end);
}

/** Why a card PIN cannot be a PIV PIN, or null when it can (checked at start). */
export function pivPinProblem(pin: Uint8Array): string | null {
  if (pin.length < PIN_MIN_LENGTH || pin.length > PIN_MAX_LENGTH) {
    return `a PIV PIN has ${PIN_MIN_LENGTH} to ${PIN_MAX_LENGTH} characters, this one has ${pin.length}`;
  }
  if (pin.includes(PIN_PAD)) return "a PIV PIN cannot contain the byte FF (its padding)";
  return null;
}
