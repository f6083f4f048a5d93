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

/** A slot whose card is being served (a VirtualReader). */
export interface ServedSlot {
  readonly card: SmartCard | null;
}

const served = new Set<ServedSlot>();

/** Registers a slot while its card is served; call the returned function when it no longer is. */
export function markServed(slot: ServedSlot): () => void {
  served.add(slot);
  return () => {
    served.delete(slot);
  };
}

/** True when a card this process serves has this ATR. */
export function isServedAtr(atr: Uint8Array): boolean {
  if (atr.length === 0) return false;
  for (const slot of served) if (slot.card !== null && bytesEqual(slot.card.atr, atr)) return true;
  return false;
}
