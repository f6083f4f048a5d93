/**
 * The applet seam. An applet sees a parsed APDU and either answers it or
 * defers it to the card's ISO 7816 layer (libcacard's VCARD_NEXT), which owns
 * SELECT by AID, VERIFY and GET RESPONSE.
 */
import type { CommandApdu } from "../iso7816/apdu.js";
import type { StatusWord } from "../iso7816/status.js";

export interface AppletResponse {
  readonly data: Uint8Array;
  readonly sw: StatusWord;
}

/** Returned by an applet that leaves the APDU to the ISO 7816 layer. */
export const DEFER: unique symbol = Symbol("defer");
export type AppletResult = AppletResponse | typeof DEFER;

/** Compatibility bits that an applet may switch on for the card's lifetime. */
export const CompatBits = {
  /** Set by MS PnP GET DATA 7F68: VERIFY status then reports 3 tries (63C3). */
  WINDOWS: 0x01,
} as const;

/** What the card offers its applets. */
export interface CardServices {
  /** Card-unique serial (SHA-256 of certificate 0), 32 bytes; empty if none. */
  readonly serial: Uint8Array;
  /**
   * The raw RSA private operation with PKI key `index`. Throws CardError:
   * 6985 when not logged in or there is no key, 6984 on a bad operand.
   */
  rsaPrivate(index: number, input: Uint8Array): Uint8Array;
  /** ORs compatibility bits in; they are never cleared (libcacard vcard_set_compat). */
  setCompat(bits: number): void;
  /** CKO_DATA object by label (Person Instance / Personnel); null when absent. */
  readDataObject(label: string): Uint8Array | null;
}

export interface Applet {
  /** Exact AID; SELECT matches length and bytes, never a prefix. */
  readonly aid: Uint8Array;
  /** Short human name for traces and `cacard info`. */
  readonly name: string;
  /** SELECT response data; when absent the card answers the FCI stub 6F..84 AID A5 00. */
  readonly fci?: Uint8Array;
  process(apdu: CommandApdu, card: CardServices): AppletResult;
  /** Called every time the applet is selected (libcacard reset_applet). */
  onSelect?(): void;
}

export function ok(data: Uint8Array): AppletResponse {
  return { data, sw: 0x9000 };
}
