/**
 * GET PROPERTIES data (GSC-IS 2.1 §5.3.2.6 / libcacard cac.c).
 * A property list is a sequence of top-level SimpleTLV members; P1=02 picks
 * members by tag, so each member is kept separately encoded.
 */
import { concatBytes, u16le } from "../bytes.js";
import { AID } from "./aids.js";
import type { ObjectFiles } from "./buffers.js";
import { tlv } from "./simpletlv.js";

export interface PropertyMember {
  readonly tag: number;
  /** The whole TLV. */
  readonly encoded: Uint8Array;
}

export interface PropertyLists {
  /** P1=01 (and the pool P1=02 selects from). */
  readonly short: readonly PropertyMember[];
  /** P1=40 (undocumented, ActivClient), already encoded. */
  readonly long: Uint8Array;
}

export const PropTag = {
  APPLET_INFORMATION: 0x01,
  NUMBER_OF_OBJECTS: 0x40,
  TV_OBJECT: 0x50,
  PKI_OBJECT: 0x51,
  OBJECT_ID: 0x41,
  BUFFER_PROPERTIES: 0x42,
  PKI_PROPERTIES: 0x43,
  UNKNOWN_26: 0x26,
  UNKNOWN_39: 0x39,
  ACA_AID: 0x3a,
} as const;

/** Applet family 10, version 02 06 02 xx: xx is 03 for most applets, 02 for the ACA. */
export const APPLET_VERSION_COMMON = 0x03;
export const APPLET_VERSION_ACA = 0x02;

/** Buffer-properties type byte: 00 SimpleTLV, 01 not (libcacard uses it on placeholders). */
export const BUFFER_SIMPLETLV = 0x00;
export const BUFFER_OTHER = 0x01;

/** RSA, per GSC-IS; libcacard has no other algorithm. */
const ALGORITHM_RSA = 0x06;
/** Bogus buffer size libcacard advertises for placeholder and passthrough objects. */
export const PLACEHOLDER_BUFFER_SIZE = 0x0060;

function member(tag: number, value: Uint8Array): PropertyMember {
  return { tag, encoded: tlv(tag, value) };
}

export function appletInformation(version: number): PropertyMember {
  return member(PropTag.APPLET_INFORMATION, Uint8Array.of(0x10, 0x02, 0x06, 0x02, version));
}

export function numberOfObjects(n: number): PropertyMember {
  return member(PropTag.NUMBER_OF_OBJECTS, Uint8Array.of(n));
}

/** 42 05 <type> <T size LE> <V size LE>: sizes of the whole files, prefix included. */
export function bufferProperties(type: number, tagFileSize: number, valueFileSize: number): Uint8Array {
  return tlv(PropTag.BUFFER_PROPERTIES, concatBytes(Uint8Array.of(type), u16le(tagFileSize), u16le(valueFileSize)));
}

export function bufferPropertiesOf(files: ObjectFiles): Uint8Array {
  return bufferProperties(BUFFER_SIMPLETLV, files.tag.length, files.value.length);
}

/** 43 04 06 <bits/64> 01 01; an unknown size keeps libcacard's default byte 0x10. */
export function pkiProperties(keyBits: number): Uint8Array {
  const keyByte = keyBits > 0 ? (keyBits / 64) & 0xff : 0x10;
  return tlv(PropTag.PKI_PROPERTIES, Uint8Array.of(ALGORITHM_RSA, keyByte, 0x01, 0x01));
}

export const UNKNOWN_26 = tlv(PropTag.UNKNOWN_26, Uint8Array.of(0x01));

export function objectId(oid: Uint8Array): Uint8Array {
  return tlv(PropTag.OBJECT_ID, oid);
}

export function object(tag: number, ...children: Uint8Array[]): PropertyMember {
  return member(tag, concatBytes(...children));
}

/** The long list's tail for PKI and CCC applets: 39 01 00 3A 07 <ACA AID>. */
const LONG_SUFFIX = concatBytes(tlv(PropTag.UNKNOWN_39, Uint8Array.of(0x00)), tlv(PropTag.ACA_AID, AID.ACA));

export function propertyLists(short: PropertyMember[], withLongSuffix: boolean): PropertyLists {
  const shortBytes = concatBytes(...short.map((m) => m.encoded));
  return { short, long: withLongSuffix ? concatBytes(shortBytes, LONG_SUFFIX) : shortBytes };
}
