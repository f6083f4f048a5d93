/**
 * Behaviour shared by every CAC applet (libcacard cac_common_process_apdu and
 * cac_common_process_apdu_read): GET PROPERTIES, SELECT by object ID, READ
 * BUFFER, UPDATE BUFFER; VERIFY and GET RESPONSE go to the ISO layer; any
 * other INS is 6D00 while a CAC applet is selected.
 */
import type { CommandApdu } from "../iso7816/apdu.js";
import { CardError } from "../iso7816/card-error.js";
import { INS } from "../iso7816/ins.js";
import { SW } from "../iso7816/status.js";
import { concatBytes, bytesEqual } from "../bytes.js";
import { DEFER, ok, type Applet, type AppletAnswer, type AppletResult, type CardServices } from "../card/applet.js";
import type { ObjectFiles } from "./buffers.js";
import type { PropertyLists } from "./properties.js";

/** GET PROPERTIES P1 values (GSC-IS 2.1 §5.3.2.6). */
const PROPERTIES_ALL = 0x01;
const PROPERTIES_BY_TAG = 0x02;
/** Undocumented "long" list that ActivClient asks for. */
const PROPERTIES_LONG = 0x40;

/** SELECT P1=02: card object ID (CAC 2). */
const SELECT_OBJECT = 0x02;
const OBJECT_ID_LENGTH = 2;

/** READ BUFFER: the data field is `type size`. */
const READ_BUFFER_LC = 2;
const BUFFER_TAG = 0x01;
const BUFFER_VALUE = 0x02;

const EMPTY = new Uint8Array(0);

export interface CacAppletConfig {
  readonly aid: Uint8Array;
  readonly name: string;
  /** Object IDs SELECT P1=02 accepts. */
  readonly objectIds: readonly Uint8Array[];
}

export abstract class CacApplet implements Applet {
  readonly aid: Uint8Array;
  readonly name: string;
  readonly objectIds: readonly Uint8Array[];

  constructor(config: CacAppletConfig) {
    this.aid = config.aid;
    this.name = config.name;
    this.objectIds = config.objectIds;
  }

  abstract readonly properties: PropertyLists;

  process(apdu: CommandApdu, card: CardServices): AppletAnswer {
    switch (apdu.ins) {
      case INS.GET_PROPERTIES:
        return this.getProperties(apdu);
      case INS.SELECT:
        return apdu.p1 === SELECT_OBJECT ? this.selectObject(apdu) : DEFER;
      case INS.VERIFY:
      case INS.GET_RESPONSE:
        return DEFER;
      default:
        return this.processOther(apdu, card);
    }
  }

  /** Instructions beyond the common set; the default is "INS not supported". */
  protected processOther(_apdu: CommandApdu, _card: CardServices): AppletAnswer {
    throw new CardError(SW.INS_CODE_INVALID);
  }

  protected getProperties(apdu: CommandApdu): AppletResult {
    if (apdu.p2 !== 0) throw new CardError(SW.P1_P2_INCORRECT);
    let data: Uint8Array;
    switch (apdu.p1) {
      case PROPERTIES_ALL:
        if (apdu.data.length !== 0) throw new CardError(SW.DATA_INVALID);
        data = concatBytes(...this.properties.short.map((m) => m.encoded));
        break;
      case PROPERTIES_BY_TAG: {
        if (apdu.data.length === 0) throw new CardError(SW.DATA_INVALID);
        const parts: Uint8Array[] = [];
        for (const tag of apdu.data) {
          const found = this.properties.short.find((m) => m.tag === tag);
          if (!found) throw new CardError(SW.DATA_NOT_FOUND);
          parts.push(found.encoded);
        }
        data = concatBytes(...parts);
        break;
      }
      case PROPERTIES_LONG: // Lc is not checked here (libcacard)
        data = this.properties.long;
        break;
      default: // includes 00, the unsupported "GSC-IS v2.0 compatible" form
        throw new CardError(SW.P1_P2_INCORRECT);
    }
    // libcacard quirk kept: any Le larger than the data (00 and FF included)
    // gets 6C<len>, and the client asks again with the exact length.
    if (apdu.le > data.length) return { data: EMPTY, sw: SW.LE_ERROR | (data.length & 0xff) };
    return ok(data);
  }

  protected selectObject(apdu: CommandApdu): AppletResult {
    if (apdu.data.length !== OBJECT_ID_LENGTH) throw new CardError(SW.DATA_INVALID);
    const known = this.objectIds.some((oid) => bytesEqual(oid, apdu.data));
    if (!known) throw new CardError(SW.FILE_NOT_FOUND);
    return ok(EMPTY); // each applet has one buffer pair; nothing changes
  }
}

/** CAC applets with a readable object (CCC, placeholders, ACF, passthrough, PKI). */
export abstract class ReadableCacApplet extends CacApplet {
  /** SW for UPDATE BUFFER: 6900 here, 6985 on PKI applets. */
  protected updateBufferSw: number = SW.COMMAND_NOT_SUPPORTED;

  protected abstract files(card: CardServices): ObjectFiles;

  protected override processOther(apdu: CommandApdu, card: CardServices): AppletAnswer {
    switch (apdu.ins) {
      case INS.READ_BUFFER:
        return this.readBuffer(apdu, card);
      case INS.UPDATE_BUFFER:
        throw new CardError(this.updateBufferSw);
      default:
        return super.processOther(apdu, card);
    }
  }

  /** READ BUFFER 80 52 <offset hi> <offset lo> 02 <type> <size> (libcacard cac.c cac_common_process_apdu). */
  protected readBuffer(apdu: CommandApdu, card: CardServices): AppletResult {
    if (apdu.data.length !== READ_BUFFER_LC) throw new CardError(SW.DATA_INVALID);
    const type = apdu.data[0];
    const size = apdu.data[1];
    const files = this.files(card);
    let file: Uint8Array;
    if (type === BUFFER_TAG) file = files.tag;
    else if (type === BUFFER_VALUE) file = files.value;
    else throw new CardError(SW.DATA_INVALID);
    const offset = (apdu.p1 << 8) | apdu.p2;
    const n = Math.min(size, file.length - offset);
    if (n < 0) throw new CardError(SW.P1_P2_INCORRECT);
    return ok(file.subarray(offset, offset + n));
  }
}
