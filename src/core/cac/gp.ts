/**
 * GlobalPlatform Card Manager A0 00 00 00 03 00 00 (libcacard gp.c):
 * Windows and ActivClient read the CPLC (GET DATA 9F7F) for a card-unique
 * serial and the Card Recognition Data (GET DATA 0066).
 */
import type { CommandApdu } from "../iso7816/apdu.js";
import { CardError } from "../iso7816/card-error.js";
import { INS } from "../iso7816/ins.js";
import { SW } from "../iso7816/status.js";
import { fromHex } from "../bytes.js";
import { DEFER, ok, type Applet, type AppletResult, type CardServices } from "../card/applet.js";
import { AID } from "./aids.js";

const TAG_CPLC = 0x9f7f;
const TAG_CARD_RECOGNITION = 0x0066;

/** FCI: 6F { 84 <AID + 00>, A5 { 9F6E <application production life cycle>, 9F65 FF } }. */
const GP_FCI = fromHex("6F198408A000000003000000A50D9F6E061291518101009F6501FF");

/**
 * CPLC data (GP Card Spec §H.6): IC fabricator/type, OS id/date/level,
 * fabrication date, then the 4-byte IC serial and 2-byte batch id at offsets
 * 15-20, which carry the card serial so each virtual card looks distinct.
 */
const CPLC_TEMPLATE = fromHex(
  "9F7F2A00050045D00140210101074F00000000000047927205167372051674720500000A4000000000000929BB",
);
const CPLC_SERIAL_OFFSET = 15;
const CPLC_SERIAL_LENGTH = 6;

/** Card Recognition Data: GP card, GP 2.1.1, SCP02 i=15. */
const CARD_RECOGNITION_DATA = fromHex(
  "6631732F06072A864886FC6B01600C060A2A864886FC6B02020201630906072A864886FC6B03640B06092A864886FC6B040310",
);

export function cplc(serial: Uint8Array): Uint8Array {
  const out = CPLC_TEMPLATE.slice();
  out.set(serial.subarray(0, CPLC_SERIAL_LENGTH), CPLC_SERIAL_OFFSET);
  return out;
}

export class GpApplet implements Applet {
  readonly aid = AID.GP_CARD_MANAGER;
  readonly name = "GP Card Manager";
  readonly fci = GP_FCI;
  #cplc: Uint8Array | null = null;

  process(apdu: CommandApdu, card: CardServices): AppletResult {
    if (apdu.ins !== INS.GET_DATA) return DEFER; // CLA is not checked (libcacard)
    switch ((apdu.p1 << 8) | apdu.p2) {
      case TAG_CPLC:
        this.#cplc ??= cplc(card.serial);
        return ok(this.#cplc);
      case TAG_CARD_RECOGNITION:
        return ok(CARD_RECOGNITION_DATA);
      default:
        throw new CardError(SW.DATA_NOT_FOUND);
    }
  }
}
