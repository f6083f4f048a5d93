/**
 * Distinct identities for several cards made from the same key store.
 *
 * libcacard derives a card's serial from its first certificate only
 * (SHA-256 of cert 0), so two cards built from one database would be
 * indistinguishable. Card 0 without a salt keeps that serial (byte-for-byte
 * libcacard); every other card, and every card when a salt is given, gets
 * SHA-256(base serial ‖ "cacard-card" ‖ salt ‖ 0x00 ‖ index as 4 bytes BE).
 *
 * OpenSC's CAC driver does not read that serial: it reports the CCC card
 * identifier (CUID bytes 7..20), which libcacard keeps static. Derived cards
 * therefore also get their own CCC card id, the first CCC_CARD_ID_LENGTH
 * bytes of their serial (createCacCard's `cccCardId`); card 0 without a salt
 * keeps libcacard's static one.
 */
import { createHash } from "node:crypto";
import { CCC_CARD_ID_LENGTH } from "../../core/cac/ccc.js";
/** Upper bound for `--cards`: vpcd's slots, and what a PC/SC stack handles comfortably. */
export const MAX_CARDS = 16;

const DOMAIN = new TextEncoder().encode("cacard-card");

export interface CardIdentity {
  /** VirtualCard serial (CPLC and friends), 32 bytes. */
  readonly serial: Uint8Array;
  /** Card id for the CCC CUID, or undefined to keep libcacard's static one. */
  readonly cccCardId: Uint8Array | undefined;
}

/** Serial for card `index` made from a store whose libcacard serial is `base`. */
export function deriveSerial(base: Uint8Array, index: number, salt?: string): Uint8Array {
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`card index ${index}`);
  if (index === 0 && (salt === undefined || salt === "")) return base;
  const counter = Buffer.alloc(4);
  counter.writeUInt32BE(index, 0);
  return new Uint8Array(
    createHash("sha256")
      .update(base)
      .update(DOMAIN)
      .update(salt ?? "", "utf8")
      .update(Uint8Array.of(0))
      .update(counter)
      .digest(),
  );
}

export function cardIdentity(base: Uint8Array, index: number, salt?: string): CardIdentity {
  const serial = deriveSerial(base, index, salt);
  const derived = serial !== base;
  return {
    serial,
    cccCardId: derived ? serial.slice(0, CCC_CARD_ID_LENGTH) : undefined,
  };
}
