/**
 * Microsoft Plug and Play applet A0 00 00 03 97 43 49 44 5F 01 00 ("CID_",
 * libcacard msft.c). Windows asks GET DATA 7F68 for the card's
 * identity; answering also switches the card into Windows compatibility
 * (VERIFY status then reports 63C3).
 */
import type { CommandApdu } from "../iso7816/apdu.js";
import { CardError } from "../iso7816/card-error.js";
import { INS } from "../iso7816/ins.js";
import { SW } from "../iso7816/status.js";
import { fromHex } from "../bytes.js";
import { CompatBits, DEFER, ok, type Applet, type AppletResult, type CardServices } from "../card/applet.js";
import { AID } from "./aids.js";

const TAG_CARD_ID = 0x7f68;
/** SEQUENCE { INTEGER 0, IA5String "MSFT", SEQUENCE { OCTET STRING <16-byte GUID> } } */
const CARD_ID = fromHex("301D02010016044D53465430120410E280E9D25188874F81D64F254E38001D");

export class MsftApplet implements Applet {
  readonly aid = AID.MS_PNP;
  readonly name = "MS PnP";

  process(apdu: CommandApdu, card: CardServices): AppletResult {
    if (apdu.ins !== INS.GET_DATA) return DEFER;
    if (((apdu.p1 << 8) | apdu.p2) !== TAG_CARD_ID) throw new CardError(SW.DATA_NOT_FOUND);
    card.setCompat(CompatBits.WINDOWS);
    return ok(CARD_ID);
  }
}
