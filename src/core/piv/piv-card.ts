/**
 * The PIV side of a card: the applet with its slots and objects, the ATR of a
 * PIV-only card, and what the PIV personality cannot use from a token.
 */
import { describeAlgorithm, type Credential, type Token } from "../token/types.js";
import type { Platform } from "../platform.js";
import { PivApplet } from "./piv-applet.js";
import { pivAlgorithmOf } from "./general-authenticate.js";
import { slotMap, type SlotMap } from "./slots.js";
import { PIV_SLOTS, type PivSlot } from "./constants.js";

/**
 * ATR of a PIV-only card: T=0 and T=1 offered (TD1 80, TD2 01; yubico-piv-tool
 * 2.2.0 connects with T=1 only), historical bytes 80 + compact-TLV F9 with the
 * truncated PIV AID, which OpenSC types "PIV-II HIST" with no quirks
 * (card-piv.c piv_match_card_continued), TCK C0. Not in OpenSC's ATR table.
 */
export const PIV_ATR = Uint8Array.of(
  0x3b, 0x9b, 0x18, 0x80, 0x01, 0x80, 0xf9, 0xa0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0xc0,
);

/**
 * The slots of a dual card's PIV side: the CAC ID, e-mail signature and
 * e-mail encryption certificates as 9A, 9C, 9D, as reported for DoD CACs
 * with a PIV endpoint (OpenSC issues #1531, #1533); 9E stays empty.
 */
export const DUAL_CARD_SLOTS: readonly PivSlot[] = PIV_SLOTS.slice(0, 3);

export interface PivAppletSetup {
  readonly serial: Uint8Array;
  /** Credential i goes to order[i]; default 9A, 9C, 9D, 9E. */
  readonly slotOrder?: readonly PivSlot[];
  /** Refuse more credentials than slots (a PIV-only card); default true. */
  readonly strictSlots?: boolean;
  readonly ccc?: Uint8Array;
  readonly platform?: Platform;
}

export function createPivApplet(token: Token, setup: PivAppletSetup): PivApplet {
  const slots: SlotMap = slotMap(token, setup.slotOrder, setup.strictSlots ?? true);
  return new PivApplet({ token, serial: setup.serial, slots, ccc: setup.ccc });
}

/** One line per credential the PIV side serves but cannot use, said at start. */
export function pivCredentialWarnings(credentials: readonly Credential[]): string[] {
  const warnings: string[] = [];
  for (const c of credentials) {
    const name = JSON.stringify(c.label);
    if (pivAlgorithmOf(c.algorithm) === null) {
      warnings.push(
        `certificate ${name} has a ${describeAlgorithm(c.algorithm)} key, which PIV cannot use (RSA 1024-4096, EC P-256/P-384): GENERAL AUTHENTICATE answers 6A86`,
      );
    } else if (!c.hasPrivateKey) {
      warnings.push(`certificate ${name} has no private key in the token: it is shown but GENERAL AUTHENTICATE answers 6982`);
    }
  }
  return warnings;
}
