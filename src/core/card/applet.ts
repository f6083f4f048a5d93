/**
 * The applet seam. An applet sees a parsed APDU and either answers it or
 * defers it to the card's ISO 7816 layer (libcacard's VCARD_NEXT), which owns
 * SELECT by AID, VERIFY and GET RESPONSE.
 */
import type { CommandApdu } from "../iso7816/apdu.js";
import type { StatusWord } from "../iso7816/status.js";
import type { Platform } from "../platform.js";
import type { PrivateKey } from "../token/types.js";
import type { PinCheck, PinStatus } from "./pin.js";

export interface AppletResponse {
  readonly data: Uint8Array;
  readonly sw: StatusWord;
}

/** Returned by an applet that leaves the APDU to the ISO 7816 layer. */
export const DEFER: unique symbol = Symbol("defer");
export type AppletResult = AppletResponse | typeof DEFER;
/**
 * What process() gives back: synchronously for what the card knows (every
 * CAC command but SIGN), or a promise when a token has to work (a private key
 * operation, a login). The card answers one command at a time either way.
 */
export type AppletAnswer = AppletResult | Promise<AppletResult>;

/** Compatibility bits that an applet may switch on for the card's lifetime. */
export const CompatBits = {
  /** Set by MS PnP GET DATA 7F68: VERIFY status then reports 3 tries (63C3). */
  WINDOWS: 0x01,
} as const;

/** What the card offers its applets. */
export interface CardServices {
  /** Card-unique serial (SHA-256 of certificate 0), 32 bytes; empty if none. */
  readonly serial: Uint8Array;
  /** Randomness and hashing of the host (GET CHALLENGE, witnesses). */
  readonly platform: Platform;
  /**
   * The private key of credential `index`, once the PIN was verified (or
   * when the token needs no login). Rejects with CardError 6985 when not
   * logged in or the credential has no private key.
   */
  privateKey(index: number): Promise<PrivateKey>;
  /** True when the PIN was verified or the token needs none. */
  isLoggedIn(): boolean;
  /** ORs compatibility bits in; they are never cleared (libcacard vcard_set_compat). */
  setCompat(bits: number): void;
  /** CKO_DATA object by label (Person Instance / Personnel); null when absent. */
  readDataObject(label: string): Uint8Array | null;
  /**
   * The card PIN as a service, for applets with their own VERIFY (PIV): one
   * PIN and one retry counter per card, whichever applet checks it. `pin` has
   * no padding. Logs the token in on success, out on failure.
   */
  checkPin(pin: Uint8Array): PinCheck | Promise<PinCheck>;
  pinStatus(): PinStatus;
  /** Ends the token session (PIV VERIFY P1=FF). */
  logout(): Promise<void>;
  /**
   * Checks `oldPin` as checkPin does, then sets `newPin`. Resolves to
   * "unsupported" without checking anything when the token cannot change its PIN.
   */
  changePin(oldPin: Uint8Array, newPin: Uint8Array): Promise<PinCheck | "unsupported">;
  /**
   * A key whose use needs no PIN (PIV card authentication, 9E): available when
   * the token needs no login, is logged in, or can open without the holder.
   * Rejects with CardError 6982 otherwise.
   */
  privateKeyWithoutPin(index: number): Promise<PrivateKey>;
}

/**
 * ISO 7816-4 §5.3.1 selection by a right-truncated DF name, as PIV requires
 * (SP 800-73-4 Part 2 §3.1.1). CAC applets never use it: libcacard matches
 * AIDs exactly and deselects on a failed SELECT.
 */
export interface PartialSelection {
  /** Shortest accepted prefix of the AID (PIV: the 5-byte RID, which yubico-piv-tool sends). */
  readonly minLength: number;
}

export interface Applet {
  /** Exact AID; SELECT matches length and bytes, never a prefix. */
  readonly aid: Uint8Array;
  /** Short human name for traces and `cacard info`. */
  readonly name: string;
  /** SELECT response data; when absent the card answers the FCI stub 6F..84 AID A5 00. */
  readonly fci?: Uint8Array;
  /**
   * When set, SELECT also matches a prefix of `aid` of at least minLength
   * bytes, and a SELECT of an AID the card lacks leaves this applet selected
   * (SP 800-73-4 Part 2 §3.1.1: "the currently selected application remains").
   */
  readonly partialSelection?: PartialSelection;
  /**
   * "iso": an absent Le means 256 and data up to Ne comes back with 61xx for
   * the rest (ISO 7816-4 §5.1.3), which yubico-piv-tool needs. Default
   * "libcacard": data longer than Le (absent = 0) answers 61xx and no data.
   */
  readonly responseChaining?: "libcacard" | "iso";
  process(apdu: CommandApdu, card: CardServices): AppletAnswer;
  /** Called every time the applet is selected (libcacard reset_applet). */
  onSelect?(): void;
  /** Called when another applet takes its place on a channel, or at reset (security status ends). */
  onDeselect?(): void;
}

export function ok(data: Uint8Array): AppletResponse {
  return { data, sw: 0x9000 };
}
