/**
 * Card Capability Container A0 00 00 01 16 DB 00 (GSC-IS 2.1 §5.3.4;
 * libcacard cac.c cac_applet_ccc_process_apdu). OpenSC identifies the card by selecting it and learns the
 * PKI applets only from its PKI CardURLs.
 */
import { concatBytes } from "../bytes.js";
import { AID, CAC_RID, GSC_RID } from "./aids.js";
import { objectFiles, type ObjectFiles } from "./buffers.js";
import { ReadableCacApplet } from "./cac-applet.js";
import {
  APPLET_VERSION_COMMON,
  PropTag,
  appletInformation,
  bufferPropertiesOf,
  numberOfObjects,
  object,
  objectId,
  propertyLists,
  type PropertyLists,
} from "./properties.js";
import type { SimpleTlvItem } from "./simpletlv.js";

const CCC_OID = Uint8Array.of(0xdb, 0x00);

const CccTag = {
  CARD_IDENTIFIER: 0xf0,
  CC_VERSION: 0xf1,
  GRAMMAR_VERSION: 0xf2,
  CARD_URL: 0xf3,
  PKCS15: 0xf4,
  DATA_MODEL: 0xf5,
  ACR_TABLE: 0xf6,
  CARD_APDUS: 0xf7,
  REDIRECTION: 0xfa,
  CAPABILITY_TUPLES: 0xfb,
  STATUS_TUPLES: 0xfc,
  NEXT_CCC: 0xfd,
  ERROR_DETECTION: 0xfe,
} as const;

/** Card identifier prefix: GSC RID, manufacturer 03, card type 02 (JavaCard). */
const CARD_IDENTIFIER_PREFIX = Uint8Array.of(0xa0, 0x00, 0x00, 0x00, 0x79, 0x03, 0x02);
/** Length of the card id that follows the prefix; OpenSC reports it as the token serial. */
export const CCC_CARD_ID_LENGTH = 14;
/** libcacard's static card id: the same on every libcacard card. */
export const LIBCACARD_CARD_ID = Uint8Array.of(
  0x40, 0x70, 0x50, 0x72, 0x36, 0x0e, 0x00, 0x00, 0x58, 0xbd, 0x00, 0x2c, 0x19, 0xb5,
);
const CC_VERSION = 0x21;
const GRAMMAR_VERSION = 0x21;
const DATA_MODEL_NUMBER = 0x10;

/** CardURL application types. */
const APP_GENERIC = 0x01;
const APP_PKI = 0x04;

/** CardURL: RID(5) type(1) objectId(2) applicationId(2), padded with zeros to 16 bytes. */
function cardUrl(rid: Uint8Array, type: number, objectIdHi: number, objectIdLo: number, appId: [number, number]) {
  const url = new Uint8Array(16);
  url.set(rid, 0);
  url[5] = type;
  url[6] = objectIdHi;
  url[7] = objectIdLo;
  url[8] = appId[0];
  url[9] = appId[1];
  return url;
}

/** The 11 application CardURLs every libcacard card carries, in order. */
const STATIC_URLS: readonly Uint8Array[] = [
  cardUrl(CAC_RID, APP_GENERIC, 0x02, 0xfb, [0x02, 0xfb]),
  cardUrl(CAC_RID, APP_GENERIC, 0x02, 0xfe, [0x02, 0xfe]), // PKI Certificate
  cardUrl(CAC_RID, APP_GENERIC, 0x02, 0xfd, [0x02, 0xfd]), // PKI Credential
  cardUrl(CAC_RID, APP_GENERIC, 0x02, 0x00, [0x02, 0x00]), // Person Instance
  cardUrl(CAC_RID, APP_GENERIC, 0x02, 0x01, [0x02, 0x01]), // Personnel
  cardUrl(GSC_RID, APP_GENERIC, 0x30, 0x00, [0x30, 0x00]), // ACF objects
  cardUrl(GSC_RID, APP_GENERIC, 0x60, 0x10, [0x30, 0x00]),
  cardUrl(GSC_RID, APP_GENERIC, 0x60, 0x30, [0x30, 0x00]),
  cardUrl(GSC_RID, APP_GENERIC, 0x90, 0x00, [0x30, 0x00]),
  cardUrl(CAC_RID, APP_GENERIC, 0x12, 0x01, [0x12, 0x01]),
  cardUrl(CAC_RID, APP_GENERIC, 0x12, 0x02, [0x12, 0x02]),
];

/** Access control rule table reference: the ACA AID, zero padded to 17 bytes. */
const ACR_TABLE = concatBytes(Uint8Array.of(AID.ACA.length), AID.ACA, new Uint8Array(9));

export function cccMembers(pkiCount: number, cardId: Uint8Array = LIBCACARD_CARD_ID): SimpleTlvItem[] {
  if (cardId.length !== CCC_CARD_ID_LENGTH) {
    throw new RangeError(`the CCC card id has ${CCC_CARD_ID_LENGTH} bytes, got ${cardId.length}`);
  }
  const m = (tag: number, value: Uint8Array | number[]): SimpleTlvItem => ({
    tag,
    value: value instanceof Uint8Array ? value : Uint8Array.from(value),
  });
  const pkiUrls = Array.from({ length: pkiCount }, (_, i) => cardUrl(CAC_RID, APP_PKI, 0x01, i, [0x01, i]));
  return [
    m(CccTag.CARD_IDENTIFIER, concatBytes(CARD_IDENTIFIER_PREFIX, cardId)),
    m(CccTag.CC_VERSION, [CC_VERSION]),
    m(CccTag.GRAMMAR_VERSION, [GRAMMAR_VERSION]),
    ...STATIC_URLS.map((url) => m(CccTag.CARD_URL, url)),
    ...pkiUrls.map((url) => m(CccTag.CARD_URL, url)),
    m(CccTag.PKCS15, [0x00]),
    m(CccTag.DATA_MODEL, [DATA_MODEL_NUMBER]),
    m(CccTag.ACR_TABLE, ACR_TABLE),
    m(CccTag.CARD_APDUS, []),
    m(CccTag.REDIRECTION, []),
    m(CccTag.CAPABILITY_TUPLES, []),
    m(CccTag.STATUS_TUPLES, []),
    m(CccTag.NEXT_CCC, []),
    m(CccTag.ERROR_DETECTION, []),
  ];
}

export class CccApplet extends ReadableCacApplet {
  readonly properties: PropertyLists;
  readonly #files: ObjectFiles;

  /** `cardId`: 14 bytes for the card identifier; default libcacard's static id. */
  constructor(pkiCount: number, cardId?: Uint8Array) {
    super({ aid: AID.CCC, name: "CCC", objectIds: [CCC_OID] });
    this.#files = objectFiles(cccMembers(pkiCount, cardId));
    // The TV object has only OID and buffer properties (0x0B), no 26 01 01.
    this.properties = propertyLists(
      [
        appletInformation(APPLET_VERSION_COMMON),
        numberOfObjects(1),
        object(PropTag.TV_OBJECT, objectId(CCC_OID), bufferPropertiesOf(this.#files)),
      ],
      true,
    );
  }

  protected files(): ObjectFiles {
    return this.#files;
  }
}
