/**
 * The PIV data objects cacard serves (SP 800-73-4 Part 1 §3.1 and
 * Appendix A), built once per card from its serial and certificates. Each
 * GET DATA answer is exactly one TLV: yubico-piv-tool rejects an object whose
 * outer length does not cover the whole answer (lib/ykpiv.c _ykpiv_fetch_object).
 */
import { toHex } from "../bytes.js";
import { tlv } from "./ber-tlv.js";
import { encodeFascn } from "./fascn.js";
import { PIV_AID, PIV_RID } from "./constants.js";

/** Outer tag of every object but Discovery and the BIT group (Part 2 §3.1.2). */
export const TAG_DATA = 0x53;

/** BER-TLV tags of the objects (Part 1 table 3) that GET DATA names after 5C. */
export const ObjectTag = {
  CARD_AUTHENTICATION_CERT: 0x5fc101, // 9E
  CHUID: 0x5fc102,
  FINGERPRINTS: 0x5fc103,
  PIV_AUTHENTICATION_CERT: 0x5fc105, // 9A
  SECURITY_OBJECT: 0x5fc106,
  CCC: 0x5fc107,
  FACIAL_IMAGE: 0x5fc108,
  PRINTED_INFORMATION: 0x5fc109,
  DIGITAL_SIGNATURE_CERT: 0x5fc10a, // 9C
  KEY_MANAGEMENT_CERT: 0x5fc10b, // 9D
  KEY_HISTORY: 0x5fc10c,
  IRIS: 0x5fc121,
  PAIRING_CODE: 0x5fc123,
  DISCOVERY: 0x7e,
} as const;

/** Objects whose read needs the PIN (Part 1 table 3 "Access Rule for Read"). */
export const PIN_PROTECTED_OBJECTS: ReadonlySet<number> = new Set([
  ObjectTag.FINGERPRINTS,
  ObjectTag.FACIAL_IMAGE,
  ObjectTag.PRINTED_INFORMATION,
  ObjectTag.IRIS,
  ObjectTag.PAIRING_CODE,
]);

const ascii = (text: string) => new TextEncoder().encode(text);
const bytes = (...b: number[]) => Uint8Array.of(...b);
const EMPTY = new Uint8Array(0);

/** Application label in the SELECT answer (tag 50). */
const APPLICATION_LABEL = "cacard PIV";

/**
 * The application property template answered to SELECT (Part 2 §3.1.1 table
 * 3): AID, coexistent tag allocation authority (the NIST RID), label, and the
 * algorithms of the card's keys. 27/2E (secure messaging) are never listed:
 * OpenSC built with PIV SM would try to open a channel.
 */
export function applicationPropertyTemplate(algorithms: readonly number[]): Uint8Array {
  const algs = algorithms.map((a) => tlv(0x80, bytes(a)));
  return tlv(
    0x61,
    tlv(0x4f, PIV_AID),
    tlv(0x79, tlv(0x4f, PIV_RID)),
    tlv(0x50, ascii(APPLICATION_LABEL)),
    // Part 2 table 3: the object identifier after the algorithm list is "0x00".
    tlv(0xac, ...algs, tlv(0x06, bytes(0x00))),
  );
}

/** Card expiration in the CHUID (YYYYMMDD); clients do not check it. */
export const CHUID_EXPIRATION = "20991231";

/** RFC 4122 version 4 UUID bits on the first 16 bytes of the card serial. */
export function cardGuid(serial: Uint8Array): Uint8Array {
  const guid = new Uint8Array(16);
  guid.set(serial.subarray(0, 16));
  guid[6] = (guid[6] & 0x0f) | 0x40;
  guid[8] = (guid[8] & 0x3f) | 0x80;
  return guid;
}

/** n decimal digits from serial bytes [from, from + 6) (stable, distinct per card). */
function serialDigits(serial: Uint8Array, from: number, n: number): string {
  let value = 0n;
  for (let i = 0; i < 6; i++) value = (value << 8n) | BigInt(serial[from + i] ?? 0);
  return (value % 10n ** BigInt(n)).toString().padStart(n, "0");
}

/**
 * CHUID (Part 1 §3.1.2): FASC-N with agency code 9999 (a non-federal
 * issuer, so OpenSC reports the GUID as the serial, card-piv.c
 * piv_get_serialnr_from_chuid), GUID from the card serial, expiration, an
 * empty issuer signature (YubiKeys ship the same; no client checks it).
 */
export function chuid(serial: Uint8Array): Uint8Array {
  const fascn = encodeFascn({
    agencyCode: "9999",
    systemCode: "9999",
    credentialNumber: serialDigits(serial, 0, 6),
    credentialSeries: "0",
    individualCredentialIssue: "1",
    personIdentifier: serialDigits(serial, 6, 10),
    organizationalCategory: "3",
    organizationalIdentifier: "0000",
    personAssociationCategory: "1",
  });
  return tlv(
    TAG_DATA,
    tlv(0x30, fascn),
    tlv(0x34, cardGuid(serial)),
    tlv(0x35, ascii(CHUID_EXPIRATION)),
    tlv(0x3e, EMPTY),
    tlv(0xfe, EMPTY),
  );
}

/** The CCC card identifier (F0): GSC-IS RID, manufacturer FF, type 02 (JavaCard), 14-byte card id. */
const CCC_CARD_ID_PREFIX = bytes(0xa0, 0x00, 0x00, 0x01, 0x16, 0xff, 0x02);
export const PIV_CCC_CARD_ID_LENGTH = 14;

/**
 * CCC of a PIV-only card (Part 1 §3.1.1): no CAC card URLs, so OpenSC does
 * not take the card for a dual CAC (card-piv.c piv_parse_ccc).
 */
export function pivOnlyCcc(serial: Uint8Array): Uint8Array {
  const id = new Uint8Array(PIV_CCC_CARD_ID_LENGTH);
  id.set(serial.subarray(0, PIV_CCC_CARD_ID_LENGTH));
  return tlv(
    TAG_DATA,
    tlv(0xf0, CCC_CARD_ID_PREFIX, id),
    tlv(0xf1, bytes(0x21)),
    tlv(0xf2, bytes(0x21)),
    tlv(0xf3, EMPTY),
    tlv(0xf4, bytes(0x00)),
    tlv(0xf5, bytes(0x10)), // data model number: mandatory, 10
    tlv(0xf6, EMPTY),
    tlv(0xf7, EMPTY),
    tlv(0xfa, EMPTY),
    tlv(0xfb, EMPTY),
    tlv(0xfc, EMPTY),
    tlv(0xfd, EMPTY),
    tlv(0xfe, EMPTY),
  );
}

/** A CCC made of given elements (a dual card serves the CAC CCC's, with its PKI card URLs). */
export function cccFromElements(elements: readonly { tag: number; value: Uint8Array }[]): Uint8Array {
  return tlv(TAG_DATA, ...elements.map((e) => tlv(e.tag, e.value)));
}

/**
 * Discovery object (Part 1 §3.3.2): the AID and PIN usage policy 40 00 (the
 * PIV PIN alone satisfies the PIN access rules; no global PIN).
 */
export function discovery(): Uint8Array {
  return tlv(ObjectTag.DISCOVERY, tlv(0x4f, PIV_AID), tlv(0x5f2f, bytes(0x40, 0x00)));
}

/**
 * Key History (Part 1 §3.3.3): no retired keys on or off card. OpenSC shows a
 * retired certificate only if this counts it (card-piv.c piv_process_history).
 */
export function keyHistory(): Uint8Array {
  return tlv(TAG_DATA, tlv(0xc1, bytes(0)), tlv(0xc2, bytes(0)), tlv(0xfe, EMPTY));
}

/** Certificate container (Part 1 Appendix A): certificate, CertInfo 00 (not compressed), EDC. */
export function certificateObject(der: Uint8Array): Uint8Array {
  return tlv(TAG_DATA, tlv(0x70, der), tlv(0x71, bytes(0x00)), tlv(0xfe, EMPTY));
}

/**
 * Printed Information (Part 1 §3.1.5), PIN-protected. Served so that OpenSC
 * can learn the login state from it (card-piv.c piv_check_protected_objects:
 * data = logged in, 6982 = logged out).
 */
export function printedInformation(serial: Uint8Array): Uint8Array {
  return tlv(
    TAG_DATA,
    tlv(0x01, ascii("cacard virtual card")),
    tlv(0x02, ascii("cacard")),
    tlv(0x04, ascii("2099DEC31")),
    tlv(0x05, ascii(toHex(serial.subarray(0, 10)))),
    tlv(0x06, ascii("cacard")),
    tlv(0xfe, EMPTY),
  );
}

