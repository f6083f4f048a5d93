/**
 * Which credential of the token backs which PIV key slot. By default the
 * token's credentials fill 9A, 9C, 9D, 9E in that order; a caller may give
 * its own order (`--piv-slots 9e,9a`: credential 0 in 9E, credential 1 in 9A).
 */
import { KeyStoreError, type Token } from "../token/types.js";
import { ObjectTag } from "./objects.js";
import { KeyRef, PIV_SLOTS, type PivSlot } from "./constants.js";

/** Slot → credential index; a slot not in the map is empty. */
export type SlotMap = ReadonlyMap<PivSlot, number>;

/** The certificate object of each key slot (Part 1 table 3). */
export const CERT_OBJECT_OF_SLOT: Readonly<Record<PivSlot, number>> = {
  [KeyRef.PIV_AUTHENTICATION]: ObjectTag.PIV_AUTHENTICATION_CERT,
  [KeyRef.DIGITAL_SIGNATURE]: ObjectTag.DIGITAL_SIGNATURE_CERT,
  [KeyRef.KEY_MANAGEMENT]: ObjectTag.KEY_MANAGEMENT_CERT,
  [KeyRef.CARD_AUTHENTICATION]: ObjectTag.CARD_AUTHENTICATION_CERT,
};

/** Parses "9a,9c" (hex slot names, any case) into a slot order. */
export function parseSlotOrder(text: string): PivSlot[] {
  const names = text.split(",").map((s) => s.trim().toLowerCase());
  const slots = names.map((n) => {
    const slot = PIV_SLOTS.find((s) => s.toString(16) === n);
    if (slot === undefined) throw new RangeError(`unknown PIV slot '${n}' (slots: 9a, 9c, 9d, 9e)`);
    return slot;
  });
  if (new Set(slots).size !== slots.length) throw new RangeError("a PIV slot is named twice");
  return slots;
}

/**
 * Credential i goes to order[i]. Credentials beyond the order are not on the
 * PIV side; more credentials than the order names is an error for a PIV-only
 * card (`strict`), where they would silently vanish.
 */
export function slotMap(token: Token, order: readonly PivSlot[] = PIV_SLOTS, strict = true): SlotMap {
  const n = token.credentials.length;
  if (strict && n > order.length) {
    throw new KeyStoreError(
      "KEYSTORE_TOO_MANY",
      `a PIV card has ${order.length} key slot(s) here (${order.map((s) => s.toString(16)).join(", ")}); got ${n} certificates`,
    );
  }
  const map = new Map<PivSlot, number>();
  for (let i = 0; i < Math.min(n, order.length); i++) map.set(order[i], i);
  return map;
}
