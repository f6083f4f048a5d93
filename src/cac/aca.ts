/**
 * Access Control Applet A0 00 00 00 79 03 00 (libcacard cac-aca.c, §3.5).
 * STUB: GET ACR is being written; properties only.
 */
import { fromHex } from "../util/bytes.js";
import { AID } from "./aids.js";
import { CacApplet } from "./cac-applet.js";
import { APPLET_VERSION_ACA, appletInformation, type PropertyLists } from "./properties.js";

const ACA_OID = Uint8Array.of(0x03, 0x00);

export class AcaApplet extends CacApplet {
  readonly properties: PropertyLists;

  constructor(readonly pkiCount: number) {
    super({ aid: AID.ACA, name: "ACA", objectIds: [ACA_OID] });
    const info = appletInformation(APPLET_VERSION_ACA);
    this.properties = {
      short: [info],
      long: fromHex(
        "0105100206020223" +
          "0C2011000000000000000000582A0202002B05A0000000792210000000DA01B40330000000700051029D2C0100200208012101" +
          "0F3204030303033001083104060800002401FF250201002601 01".replace(/ /g, ""),
      ),
    };
  }
}
