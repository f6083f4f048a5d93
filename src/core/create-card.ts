/**
 * One factory for every card personality:
 *  - "cac": libcacard's CAC, byte for byte (createCacCard);
 *  - "piv": a PIV-only card (SP 800-73-4), PIV selected at reset, its own ATR;
 *  - "cac+piv": the CAC applets and ATR plus a PIV application that must be
 *    selected, like a DoD CAC with a PIV endpoint. OpenSC then drives it with
 *    its PIV driver unless OPENSC_DRIVER=cac (ctx.c: PIV-II comes before cac).
 * The PIV personalities count wrong PINs (3 tries unless pinPolicy says
 * otherwise): SP 800-73-4 Part 2 §3.2.1 answers 63Cx, and one PIN serves
 * both sides of a dual card.
 */
import { resolveCompressor, type CertificateCompressor } from "./cac/certificate-compression.js";
import { VirtualCard } from "./card/card.js";
import { createCacCard, cacApplets, cardSerial, type CacCardOptions } from "./cac/cac-card.js";
import { cccMembers } from "./cac/ccc.js";
import { MsftApplet } from "./cac/msft.js";
import { CAC_ATR } from "./card/atr.js";
import { KeyStoreError, type Token } from "./token/types.js";
import { cccFromElements } from "./piv/objects.js";
import { DUAL_CARD_SLOTS, PIV_ATR, createPivApplet } from "./piv/piv-card.js";
import { PIV_DEFAULT_PIN_TRIES, type PivSlot } from "./piv/constants.js";

export const PERSONALITIES = ["cac", "piv", "cac+piv"] as const;
export type Personality = (typeof PERSONALITIES)[number];

export type CreateCardOptions = CacCardOptions & {
  /** Default "cac". */
  personality?: Personality;
  /**
   * PIV key slots in credential order (credential i → pivSlots[i]). Default
   * 9A, 9C, 9D, 9E; on "cac+piv" 9A, 9C, 9D.
   */
  pivSlots?: readonly PivSlot[];
};

export function createCard(token: Token, options: CreateCardOptions = {}): VirtualCard {
  const { personality = "cac", pivSlots, ...rest } = options;
  if (personality === "cac") return createCacCard(token, rest);
  const { cccCardId, compressCertificates, ...cardOptions } = rest;
  if (personality === "piv" && compressCertificates) {
    // The PIV applet serves its certificate objects uncompressed (CertInfo 00).
    throw new KeyStoreError("KEYSTORE_UNSUPPORTED", "compressed certificates are a CAC feature: use the cac or cac+piv personality");
  }
  const serial = rest.serial ?? cardSerial(token, rest.platform);
  const pinPolicy = rest.pinPolicy ?? { maxTries: PIV_DEFAULT_PIN_TRIES };
  if (personality === "piv") {
    const piv = createPivApplet(token, { serial, slotOrder: pivSlots });
    return new VirtualCard({
      atr: PIV_ATR,
      ...cardOptions,
      serial,
      pinPolicy,
      applets: [piv, new MsftApplet()],
      selectedAtReset: piv,
      keyStore: token,
    });
  }
  const cac = cacApplets(token, cccCardId, { compressCertificate: resolveCompressor(compressCertificates) });
  // The PIV CCC carries the CAC card URLs, as on real dual cards: OpenSC
  // reads them and types the card "dual CAC" (card-piv.c piv_parse_ccc).
  const ccc = cccFromElements(cccMembers(token.credentials.length, cccCardId));
  const piv = createPivApplet(token, { serial, slotOrder: pivSlots ?? DUAL_CARD_SLOTS, strictSlots: false, ccc });
  return new VirtualCard({
    atr: CAC_ATR,
    ...cardOptions,
    serial,
    pinPolicy,
    applets: [...cac, piv],
    keyStore: token,
  });
}
