/**
 * Cards this process itself puts into a PC/SC reader (the vpcd backend), so
 * that a relay in the same process never takes one of them back: relaying a
 * card we serve would loop the guest's APDUs through pcscd into ourselves,
 * and a relay that feeds a reader must not read from it (vsmartcard's
 * pcsc-relay takes "the first reader with a card", which can be its own).
 *
 * pcscd names the reader, not us, so a served card is recognised by what the
 * relay can see before it sends anything: the ATR it reports.
 */
import { bytesEqual } from "../core/bytes.js";
import type { SmartCard } from "../core/card/reader.js";

const served = new Set<SmartCard>();

/** Registers a card while it is served; call the returned function when it no longer is. */
export function markServed(card: SmartCard): () => void {
  served.add(card);
  return () => {
    served.delete(card);
  };
}

/** True when a card this process serves has this ATR. */
export function isServedAtr(atr: Uint8Array): boolean {
  for (const card of served) if (atr.length > 0 && bytesEqual(card.atr, atr)) return true;
  return false;
}
