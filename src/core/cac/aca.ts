/**
 * Access Control Applet A0 00 00 00 79 03 00 (GSC-IS 2.1 §5.3.3; libcacard
 * cac-aca.c).
 *
 * It answers GET ACR (80 4C) from the tables in aca-tables.ts and otherwise
 * behaves like the common CAC handler: GET PROPERTIES, SELECT object 03 00,
 * VERIFY and GET RESPONSE deferred to the card. It has no buffers, so READ
 * BUFFER and UPDATE BUFFER are 6D00 like any unknown INS.
 *
 * Responses go through the card's length rule (data longer than Le → 61xx);
 * unlike GET PROPERTIES there is no 6Cxx here.
 */
import type { CommandApdu } from "../iso7816/apdu.js";
import { CardError } from "../iso7816/card-error.js";
import { INS } from "../iso7816/ins.js";
import { SW } from "../iso7816/status.js";
import { ok, type AppletAnswer, type AppletResult, type CardServices } from "../card/applet.js";
import { AID, MAX_PKI_APPLETS } from "./aids.js";
import {
  ACA_APPLET_INFORMATION,
  encodeAcaLongProperties,
  encodeAcrEntry,
  encodeAcrTable,
  encodeAcrTableExtended,
  encodeAmpTable,
  encodeAmpTableExtended,
  encodeAppletAcrForAid,
  encodeAppletAcrTable,
  encodeAppletAcrTableExtended,
  encodeObjectAcrForOid,
  encodeServiceTable,
  encodeServiceTableExtended,
} from "./aca-tables.js";
import { CacApplet } from "./cac-applet.js";
import { PropTag, type PropertyLists } from "./properties.js";

const ACA_OID = Uint8Array.of(0x03, 0x00);

/** GET ACR P1 values (GSC-IS 2.1 table 5-14; bit 0x40 selects libcacard's "extended" form). */
export const AcrRequest = {
  ACR_TABLE: 0x00,
  ACR_BY_ID: 0x01,
  APPLET_OBJECT_TABLE: 0x10,
  APPLET_BY_AID: 0x11,
  OBJECT_BY_OID: 0x12,
  AMP_TABLE: 0x20,
  SERVICE_TABLE: 0x21,
  ACR_TABLE_EXTENDED: 0x40,
  ACR_TABLE_EXTENDED_ALT: 0x41,
  APPLET_OBJECT_TABLE_EXTENDED: 0x50,
  APPLET_OBJECT_TABLE_EXTENDED_ALT1: 0x51,
  APPLET_OBJECT_TABLE_EXTENDED_ALT2: 0x52,
  AMP_TABLE_EXTENDED: 0x60,
  SERVICE_TABLE_EXTENDED: 0x61,
} as const;

/** Exact data lengths the lookup forms take. */
const ACRID_LENGTH = 1;
const AID_LENGTH = 7;
const OID_LENGTH = 2;

export class AcaApplet extends CacApplet {
  readonly properties: PropertyLists;

  constructor(readonly pkiCount: number) {
    super({ aid: AID.ACA, name: "ACA", objectIds: [ACA_OID] });
    if (!Number.isInteger(pkiCount) || pkiCount < 0 || pkiCount > MAX_PKI_APPLETS) {
      throw new RangeError(`PKI applet count must be 0..${MAX_PKI_APPLETS}, got ${pkiCount}`);
    }
    this.properties = {
      // Only the applet information (version 02 06 02 02), so P1=01 is 6C07.
      short: [{ tag: PropTag.APPLET_INFORMATION, encoded: ACA_APPLET_INFORMATION }],
      long: encodeAcaLongProperties(),
    };
  }

  protected override processOther(apdu: CommandApdu, card: CardServices): AppletAnswer {
    if (apdu.ins === INS.GET_ACR) return ok(this.getAcr(apdu));
    return super.processOther(apdu, card); // 52, 58 and the rest: 6D00
  }

  /**
   * GET ACR 80 4C P1 00 [Lc data] [Le]. Order of checks as libcacard: P2, then
   * P1 (unknown → 6900), then the data length (6984), then the lookup.
   */
  getAcr(apdu: CommandApdu): Uint8Array {
    if (apdu.p2 !== 0) throw new CardError(SW.P1_P2_INCORRECT);
    const n = this.pkiCount;
    const data = apdu.data;
    switch (apdu.p1) {
      case AcrRequest.ACR_TABLE:
        requireLength(data, 0);
        return encodeAcrTable();
      case AcrRequest.ACR_TABLE_EXTENDED:
      case AcrRequest.ACR_TABLE_EXTENDED_ALT:
        requireLength(data, 0);
        return encodeAcrTableExtended();
      case AcrRequest.ACR_BY_ID: {
        requireLength(data, ACRID_LENGTH);
        const found = encodeAcrEntry(data[0]);
        if (found === null) throw new CardError(SW.DATA_NOT_FOUND);
        return found;
      }
      case AcrRequest.APPLET_OBJECT_TABLE:
        requireLength(data, 0);
        return encodeAppletAcrTable(n);
      case AcrRequest.APPLET_OBJECT_TABLE_EXTENDED:
      case AcrRequest.APPLET_OBJECT_TABLE_EXTENDED_ALT1:
      case AcrRequest.APPLET_OBJECT_TABLE_EXTENDED_ALT2:
        requireLength(data, 0);
        return encodeAppletAcrTableExtended(n);
      case AcrRequest.APPLET_BY_AID: {
        requireLength(data, AID_LENGTH);
        const found = encodeAppletAcrForAid(n, data);
        if (found === null) throw new CardError(SW.DATA_NOT_FOUND);
        return found;
      }
      case AcrRequest.OBJECT_BY_OID: {
        requireLength(data, OID_LENGTH);
        const found = encodeObjectAcrForOid(n, data);
        if (found === null) throw new CardError(SW.WRONG_PARAMETERS_IN_DATA);
        return found;
      }
      case AcrRequest.AMP_TABLE:
        requireLength(data, 0);
        return encodeAmpTable();
      case AcrRequest.AMP_TABLE_EXTENDED:
        requireLength(data, 0);
        return encodeAmpTableExtended();
      case AcrRequest.SERVICE_TABLE:
        requireLength(data, 0);
        return encodeServiceTable(n);
      case AcrRequest.SERVICE_TABLE_EXTENDED:
        requireLength(data, 0);
        return encodeServiceTableExtended(n);
      default:
        throw new CardError(SW.COMMAND_NOT_SUPPORTED);
    }
  }
}

function requireLength(data: Uint8Array, length: number): void {
  if (data.length !== length) throw new CardError(SW.DATA_INVALID);
}
