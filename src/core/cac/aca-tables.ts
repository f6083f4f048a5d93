/**
 * The Access Control Applet's tables (GSC-IS 2.1 §5.3.3.5, GET ACR) and the
 * encoders that turn them into the bytes libcacard 2.8 sends (libcacard
 * cac-aca.c).
 *
 * The tables below hold the *intended* content. libcacard's SimpleTLV
 * encoders leak C struct memory in three places and its applet/object table
 * misspells the CCC's applet id; the encoders reproduce those bytes so the
 * card stays byte-exact. Every such spot is marked "libcacard quirk:" with
 * the bytes a correct card would send.
 *
 * Everything that depends on the card depends only on the PKI applet count
 * n: PKI service entries 61+i, the PKI applet/object entries, the counts.
 */
import { bytesEqual, concatBytes } from "../bytes.js";
import { AID, CAC_RID, MAX_PKI_APPLETS } from "./aids.js";
import { APPLET_VERSION_ACA, appletInformation } from "./properties.js";
import { tlv } from "./simpletlv.js";

// ---------------------------------------------------------------------------
// Tags and constants
// ---------------------------------------------------------------------------

/** SimpleTLV tags of the GET ACR responses (GSC-IS 2.1 tables 5-15 .. 5-21). */
export const AcrTag = {
  ACR_ENTRY: 0xa0,
  ACR_NUM_ENTRIES: 0xa1,
  APPLET_ACR: 0x80,
  NUM_APPLETS: 0x81,
  OBJECT_ACR: 0x82,
  AMP_ENTRY: 0x90,
  AMP_NUM_ENTRIES: 0x91,
  AID: 0x92,
  SERVICE_ENTRY: 0x93,
  SERVICE_NUM_ENTRIES: 0x94,
} as const;

/** ACR types (GSC-IS 2.1 table 3-2); only the ones the ACA uses. */
export const AcrType = {
  ALWAYS: 0x00,
  NEVER: 0x01,
  XAUTH: 0x02,
  XAUTH_OR_PIN: 0x03,
  SECURE_CHANNEL_GP: 0x04,
  PIN: 0x06,
} as const;

/** Instruction configuration bits: which of P1, P2, data[0] qualify the INS. */
export const InsConfig = {
  NONE: 0x00,
  P1: 0x01,
  P2: 0x02,
  DATA1: 0x04,
} as const;

/** Every SimpleTLV GET ACR response starts with the ACA's applet information. */
export const ACA_APPLET_INFORMATION: Uint8Array = appletInformation(APPLET_VERSION_ACA).encoded;

/** Object ID that stands for "every object of the applet" in the applet/object table. */
const ANY_OBJECT = [0xff, 0xff] as const;

// ---------------------------------------------------------------------------
// ACR table
// ---------------------------------------------------------------------------

export interface AccessMethod {
  /** Access method provider id (an AMP table id: 1F, 1E, 1D). */
  readonly provider: number;
  readonly keyReference: number;
}

export interface AcrEntry {
  readonly acrid: number;
  readonly acrType: number;
  /** Service applet the rule refers to; only the extended form shows it. */
  readonly appletId: number;
  readonly methods: readonly AccessMethod[];
}

const am = (provider: number, keyReference: number): AccessMethod => ({ provider, keyReference });

/** The 11 access control rules, in card order. */
export const ACR_TABLE: readonly AcrEntry[] = [
  { acrid: 0x00, acrType: AcrType.ALWAYS, appletId: 0x00, methods: [] },
  { acrid: 0x01, acrType: AcrType.NEVER, appletId: 0x00, methods: [] },
  { acrid: 0x02, acrType: AcrType.ALWAYS, appletId: 0x1f, methods: [] },
  { acrid: 0x06, acrType: AcrType.PIN, appletId: 0x00, methods: [am(0x1e, 0x00)] },
  { acrid: 0x04, acrType: AcrType.SECURE_CHANNEL_GP, appletId: 0x1f, methods: [am(0x1f, 0x21)] },
  { acrid: 0x08, acrType: AcrType.XAUTH_OR_PIN, appletId: 0x00, methods: [am(0x1d, 0x01), am(0x1e, 0x01)] },
  { acrid: 0x09, acrType: AcrType.XAUTH, appletId: 0x00, methods: [am(0x1d, 0x01)] },
  { acrid: 0x0a, acrType: AcrType.XAUTH_OR_PIN, appletId: 0x00, methods: [am(0x1d, 0x03), am(0x1e, 0x01)] },
  { acrid: 0x0b, acrType: AcrType.XAUTH, appletId: 0x00, methods: [am(0x1d, 0x00)] },
  { acrid: 0x10, acrType: AcrType.ALWAYS, appletId: 0x1e, methods: [] },
  { acrid: 0x11, acrType: AcrType.ALWAYS, appletId: 0x1d, methods: [] },
];

/**
 * The bytes libcacard's ACR entry occupies in memory on the usual ABIs:
 * acrid, type, applet id, one padding byte, the method count as a 32-bit
 * little-endian integer, then provider/key pairs.
 */
function acrEntryMemory(entry: AcrEntry): Uint8Array {
  const m = entry.methods.length;
  const out = new Uint8Array(8 + 2 * m);
  out[0] = entry.acrid;
  out[1] = entry.acrType;
  out[2] = entry.appletId;
  out[3] = 0x00; // padding before the 32-bit count
  out[4] = m & 0xff;
  out[5] = (m >> 8) & 0xff;
  out[6] = (m >> 16) & 0xff;
  out[7] = (m >>> 24) & 0xff;
  entry.methods.forEach((method, i) => {
    out[8 + 2 * i] = method.provider;
    out[9 + 2 * i] = method.keyReference;
  });
  return out;
}

/**
 * One `A0` ACR entry.
 *
 * libcacard quirk: the value is the first 2m+3 bytes of the C struct, so a
 * card sends `acrid type applet_id [00 m] [00 00]` and never the access
 * methods: `A0 05 06 06 00 00 01` for ACRID 06, `A0 07 08 03 00 00 02 00 00`
 * for ACRID 08. The intended value is `acrid type m {provider key}×m`
 * (`A0 05 06 06 01 1E 00`, `A0 07 08 03 02 1D 01 1E 01`).
 */
function acrEntryTlv(entry: AcrEntry): Uint8Array {
  const length = 2 * entry.methods.length + 3;
  return tlv(AcrTag.ACR_ENTRY, acrEntryMemory(entry).subarray(0, length));
}

/** GET ACR P1=00: applet information, `A1 01 <count>`, then every entry. */
export function encodeAcrTable(): Uint8Array {
  return concatBytes(
    ACA_APPLET_INFORMATION,
    tlv(AcrTag.ACR_NUM_ENTRIES, Uint8Array.of(ACR_TABLE.length)),
    ...ACR_TABLE.map(acrEntryTlv),
  );
}

/** GET ACR P1=01: applet information and the one entry; null for an unknown ACRID. */
export function encodeAcrEntry(acrid: number): Uint8Array | null {
  const entry = ACR_TABLE.find((e) => e.acrid === acrid);
  return entry ? concatBytes(ACA_APPLET_INFORMATION, acrEntryTlv(entry)) : null;
}

/**
 * GET ACR P1=40/41, the undocumented "extended" form ActivClient reads:
 * `<len> acrid type applet_id {provider key}×m 00`, with one placeholder
 * pair `00 00` when there are no methods. libcacard sends this form
 * correctly; the length byte is what follows it (06 or 08).
 */
export function encodeAcrTableExtended(): Uint8Array {
  const parts = ACR_TABLE.map((entry) => {
    const pairs =
      entry.methods.length === 0 ? [0x00, 0x00] : entry.methods.flatMap((m) => [m.provider, m.keyReference]);
    const body = [entry.acrid, entry.acrType, entry.appletId, ...pairs, 0x00];
    return Uint8Array.of(body.length, ...body);
  });
  return concatBytes(...parts);
}

// ---------------------------------------------------------------------------
// Service applet table (applet id -> AID)
// ---------------------------------------------------------------------------

export interface ServiceEntry {
  readonly id: number;
  readonly aid: Uint8Array;
}

/** Service applet id of PKI applet i is 61+i. */
const PKI_APPLET_ID_BASE = 0x61;
/** The CCC's service applet id. */
export const CCC_APPLET_ID = 0x4f;

/** The applets that exist whatever the certificates (after the PKI ones). */
const STATIC_SERVICES: readonly ServiceEntry[] = [
  { id: 0x40, aid: AID.ACF },
  { id: CCC_APPLET_ID, aid: AID.CCC },
  { id: 0x4b, aid: AID.GENERIC_02FB },
  { id: 0x41, aid: AID.PERSON_INSTANCE },
  { id: 0x42, aid: AID.PERSONNEL },
  { id: 0x4e, aid: AID.PKI_CERTIFICATE_02FE },
  { id: 0x4d, aid: AID.PKI_CREDENTIAL_02FD },
  { id: 0x50, aid: AID.EMPTY_02F2 },
  { id: 0x51, aid: AID.EMPTY_02F0 },
  { id: 0x52, aid: AID.EMPTY_02F1 },
  { id: 0x44, aid: AID.GENERIC_1201 },
  { id: 0x45, aid: AID.GENERIC_1202 },
];

function checkPkiCount(n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > MAX_PKI_APPLETS) {
    throw new RangeError(`PKI applet count must be 0..${MAX_PKI_APPLETS}, got ${n}`);
  }
}

/** PKI entries 61+i for i < n, then the static ones. */
export function serviceTable(n: number): ServiceEntry[] {
  checkPkiCount(n);
  const pki = Array.from({ length: n }, (_, i) => ({ id: PKI_APPLET_ID_BASE + i, aid: AID.pki(i) }));
  return [...pki, ...STATIC_SERVICES];
}

/**
 * The memory of libcacard's `{id, aid_len, aid[7]}` entry (used by both the
 * service and the AMP table): id, three padding bytes, the AID length as a
 * 32-bit little-endian integer, the AID.
 */
function aidEntryMemory(id: number, aid: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + aid.length);
  out[0] = id;
  out[4] = aid.length & 0xff;
  out[5] = (aid.length >> 8) & 0xff;
  out[6] = (aid.length >> 16) & 0xff;
  out[7] = (aid.length >>> 24) & 0xff;
  out.set(aid, 8);
  return out;
}

/**
 * `<tag> <L> id 92 <aid_len> <aid_len bytes>` as libcacard builds it: the
 * inner AID is raw bytes inside the outer value, not a separately encoded TLV.
 *
 * libcacard quirk: the aid_len bytes are copied from the start of the entry
 * struct instead of its AID field, so a 7-byte AID goes out as
 * `<id> 00 00 00 07 00 00`. Intended: the AID itself.
 */
function aidEntryTlv(tag: number, id: number, aid: Uint8Array): Uint8Array {
  const garbled = aidEntryMemory(id, aid).subarray(0, aid.length);
  return tlv(tag, concatBytes(Uint8Array.of(id, AcrTag.AID, aid.length), garbled));
}

/**
 * GET ACR P1=21: applet information, `94 01 <12+n>`, then per entry
 * `93 0A <id> 92 07 <7 bytes>`.
 *
 * libcacard quirk: see aidEntryTlv. A correct card would send
 * `93 0A 61 92 07 A0 00 00 00 79 01 00`; libcacard sends
 * `93 0A 61 92 07 61 00 00 00 07 00 00`.
 */
export function encodeServiceTable(n: number): Uint8Array {
  const entries = serviceTable(n);
  return concatBytes(
    ACA_APPLET_INFORMATION,
    tlv(AcrTag.SERVICE_NUM_ENTRIES, Uint8Array.of(entries.length)),
    ...entries.map((e) => aidEntryTlv(AcrTag.SERVICE_ENTRY, e.id, e.aid)),
  );
}

/** GET ACR P1=61 (extended, correct): per entry `<id> 00 <aid_len> <AID>`, no header. */
export function encodeServiceTableExtended(n: number): Uint8Array {
  return concatBytes(...serviceTable(n).map((e) => Uint8Array.of(e.id, 0x00, e.aid.length, ...e.aid)));
}

// ---------------------------------------------------------------------------
// Access method provider table
// ---------------------------------------------------------------------------

export interface AmpEntry {
  readonly id: number;
  readonly aid: Uint8Array;
  /**
   * Four bytes that follow the AID in the extended (P1=60) form. libcacard
   * sends them as fixed bytes taken from a real card; GSC-IS does not define
   * that form and their meaning is unknown.
   */
  readonly extendedTrailer: Uint8Array;
}

/** All three providers live in the ACA itself. */
export const AMP_TABLE: readonly AmpEntry[] = [
  { id: 0x1f, aid: AID.ACA, extendedTrailer: Uint8Array.of(0x12, 0x00, 0x00, 0x00) },
  { id: 0x1e, aid: AID.ACA, extendedTrailer: Uint8Array.of(0x10, 0x01, 0x00, 0x00) },
  { id: 0x1d, aid: AID.ACA, extendedTrailer: Uint8Array.of(0x01, 0x00, 0x00, 0x00) },
];

/**
 * What libcacard reads one past its three AMP entries: its array has spare,
 * zero-initialised slots, so this is all zeros (id 00, AID length 0).
 */
const ZEROED_AMP: AmpEntry = { id: 0x00, aid: new Uint8Array(0), extendedTrailer: new Uint8Array(0) };

/**
 * GET ACR P1=20: applet information, `91 01 03`, then three `90` entries.
 *
 * libcacard quirk, twice over:
 *  - the loop reads entries 1..3 instead of 0..2, so 1F is missing and the
 *    third entry is an unused, zeroed slot (`90 03 00 92 00`);
 *  - each AID is copied from the start of the entry struct (see aidEntryTlv).
 * Sent: `90 0A 1E 92 07 1E 00 00 00 07 00 00 | 90 0A 1D 92 07 1D 00 00 00 07 00 00 | 90 03 00 92 00`.
 * Intended: `90 0A 1F 92 07 <ACA AID> | 90 0A 1E 92 07 <ACA AID> | 90 0A 1D 92 07 <ACA AID>`.
 */
export function encodeAmpTable(): Uint8Array {
  const shifted = AMP_TABLE.map((_, i) => AMP_TABLE[i + 1] ?? ZEROED_AMP);
  return concatBytes(
    ACA_APPLET_INFORMATION,
    tlv(AcrTag.AMP_NUM_ENTRIES, Uint8Array.of(AMP_TABLE.length)),
    ...shifted.map((e) => aidEntryTlv(AcrTag.AMP_ENTRY, e.id, e.aid)),
  );
}

/** GET ACR P1=60 (extended, correct): per entry `<id> 00 <aid_len> <AID> <4-byte trailer>`. */
export function encodeAmpTableExtended(): Uint8Array {
  return concatBytes(
    ...AMP_TABLE.map((e) => concatBytes(Uint8Array.of(e.id, 0x00, e.aid.length), e.aid, e.extendedTrailer)),
  );
}

// ---------------------------------------------------------------------------
// Applet/object ACR table
// ---------------------------------------------------------------------------

/** One protected instruction; the optional qualifiers set the config bits. */
export interface AcrInstruction {
  readonly ins: number;
  readonly acrid: number;
  readonly p1?: number;
  readonly p2?: number;
  readonly data1?: number;
}

export interface ObjectAcr {
  readonly oid: readonly [number, number];
  readonly instructions: readonly AcrInstruction[];
}

export interface AppletAcr {
  /** Service applet id (the intended one; see emittedAppletId). */
  readonly id: number;
  readonly objects: readonly ObjectAcr[];
}

const INS_VERIFY = 0x20;
const INS_SIGN_DECRYPT = 0x42;
const INS_READ_BUFFER = 0x52;
const INS_UPDATE_BUFFER = 0x58;
const INS_READ_BINARY = 0xb0;
const INS_EXTERNAL_AUTHENTICATE = 0x82;
const INS_GET_CHALLENGE = 0x84;

const ins = (code: number, acrid: number, q: Omit<AcrInstruction, "ins" | "acrid"> = {}): AcrInstruction => ({
  ins: code,
  acrid,
  ...q,
});
const obj = (hi: number, lo: number, ...instructions: AcrInstruction[]): ObjectAcr => ({
  oid: [hi, lo],
  instructions,
});

/** The card-wide instruction set most applets list under object FF FF. */
const CARD_WIDE = [
  ins(INS_EXTERNAL_AUTHENTICATE, 0x11, { p1: 0x00 }),
  ins(INS_GET_CHALLENGE, 0x11),
  ins(INS_VERIFY, 0x10),
];
const anyObject = (...instructions: AcrInstruction[]) => obj(ANY_OBJECT[0], ANY_OBJECT[1], ...instructions);

/**
 * A data object: UPDATE BUFFER under updateAcr, READ BUFFER of its tag file
 * (data[0] = 01) always allowed, any other READ BUFFER under readAcr.
 */
const readRestricted = (hi: number, lo: number, updateAcr: number, readAcr: number) =>
  obj(
    hi,
    lo,
    ins(INS_UPDATE_BUFFER, updateAcr),
    ins(INS_READ_BUFFER, 0x00, { data1: 0x01 }),
    ins(INS_READ_BUFFER, readAcr),
  );

function pkiAppletAcr(i: number): AppletAcr {
  return {
    id: PKI_APPLET_ID_BASE + i,
    objects: [
      obj(0x01, i, ins(INS_UPDATE_BUFFER, 0x04), ins(INS_READ_BUFFER, 0x00), ins(INS_SIGN_DECRYPT, 0x06)),
      anyObject(ins(INS_VERIFY, 0x10)),
    ],
  };
}

const emptyBuffers = (id: number): AppletAcr => ({
  id,
  objects: [anyObject(ins(INS_UPDATE_BUFFER, 0x04), ins(INS_READ_BUFFER, 0x00), ...CARD_WIDE)],
});

/** The applets after the PKI ones, in card order. */
const STATIC_APPLET_ACRS: readonly AppletAcr[] = [
  { id: 0x1f, objects: [anyObject(ins(INS_VERIFY, 0x00))] },
  {
    id: CCC_APPLET_ID,
    objects: [obj(0xdb, 0x00, ins(INS_UPDATE_BUFFER, 0x04), ins(INS_READ_BUFFER, 0x00)), anyObject(...CARD_WIDE)],
  },
  {
    id: 0x4b,
    objects: [obj(0x02, 0xfb, ins(INS_UPDATE_BUFFER, 0x06), ins(INS_READ_BUFFER, 0x00)), anyObject(...CARD_WIDE)],
  },
  { id: 0x41, objects: [readRestricted(0x02, 0x00, 0x09, 0x08), anyObject(...CARD_WIDE)] },
  { id: 0x42, objects: [readRestricted(0x02, 0x01, 0x0b, 0x0a), anyObject(...CARD_WIDE)] },
  {
    id: 0x40,
    objects: [
      obj(0x30, 0x00, ins(INS_UPDATE_BUFFER, 0x04), ins(INS_READ_BUFFER, 0x00), ins(INS_READ_BINARY, 0x00)),
      readRestricted(0x60, 0x10, 0x04, 0x06),
      readRestricted(0x60, 0x30, 0x04, 0x06),
      obj(0x90, 0x00, ins(INS_UPDATE_BUFFER, 0x04), ins(INS_READ_BUFFER, 0x00)),
      anyObject(...CARD_WIDE),
    ],
  },
  {
    id: 0x4e,
    objects: [obj(0x02, 0xfe, ins(INS_UPDATE_BUFFER, 0x04), ins(INS_READ_BUFFER, 0x00)), anyObject(...CARD_WIDE)],
  },
  { id: 0x4d, objects: [readRestricted(0x02, 0xfd, 0x06, 0x06), anyObject(...CARD_WIDE)] },
  emptyBuffers(0x50),
  emptyBuffers(0x51),
  emptyBuffers(0x52),
  { id: 0x44, objects: [readRestricted(0x12, 0x01, 0x06, 0x06), anyObject(...CARD_WIDE)] },
  { id: 0x45, objects: [readRestricted(0x12, 0x02, 0x06, 0x06), anyObject(...CARD_WIDE)] },
];

/** PKI applets i < n first, then the static applets. */
export function appletAcrTable(n: number): AppletAcr[] {
  checkPkiCount(n);
  return [...Array.from({ length: n }, (_, i) => pkiAppletAcr(i)), ...STATIC_APPLET_ACRS];
}

/**
 * The applet id libcacard puts on the wire (and matches P1=11 lookups
 * against).
 *
 * libcacard quirk: its applet/object table gives the CCC the id F4 instead
 * of 4F, although its service table (and its own comment) say 4F. So the CCC
 * appears as `80 1A F4 02 …` and GET ACR P1=11 with the CCC AID finds no
 * applet entry. Intended: `80 1A 4F 02 …`.
 */
export function emittedAppletId(id: number): number {
  return id === CCC_APPLET_ID ? 0xf4 : id;
}

/** `INS config [P1] [P2] [data1] ACRID`. */
function encodeInstruction(i: AcrInstruction): number[] {
  let config = InsConfig.NONE as number;
  const qualifiers: number[] = [];
  if (i.p1 !== undefined) {
    config |= InsConfig.P1;
    qualifiers.push(i.p1);
  }
  if (i.p2 !== undefined) {
    config |= InsConfig.P2;
    qualifiers.push(i.p2);
  }
  if (i.data1 !== undefined) {
    config |= InsConfig.DATA1;
    qualifiers.push(i.data1);
  }
  return [i.ins, config, ...qualifiers, i.acrid];
}

/** An object's body, identical in both forms: OID, then the instructions. */
function objectBody(o: ObjectAcr): Uint8Array {
  return Uint8Array.of(...o.oid, ...o.instructions.flatMap(encodeInstruction));
}

const objectTlv = (o: ObjectAcr) => tlv(AcrTag.OBJECT_ACR, objectBody(o));

/** `80 L <id> <object count> {82 L <OID> <instructions>}…`. */
function appletTlv(a: AppletAcr): Uint8Array {
  return tlv(
    AcrTag.APPLET_ACR,
    concatBytes(Uint8Array.of(emittedAppletId(a.id), a.objects.length), ...a.objects.map(objectTlv)),
  );
}

/** GET ACR P1=10: applet information, `81 01 <13+n>`, then every applet. */
export function encodeAppletAcrTable(n: number): Uint8Array {
  const applets = appletAcrTable(n);
  return concatBytes(
    ACA_APPLET_INFORMATION,
    tlv(AcrTag.NUM_APPLETS, Uint8Array.of(applets.length)),
    ...applets.map(appletTlv),
  );
}

/**
 * GET ACR P1=11: the applet whose service AID is `aid`. null when the AID is
 * not in the service table (6A88). An AID that is in the service table but
 * has no applet entry gives the applet information alone; with libcacard's
 * F4 typo that is what the CCC AID gets.
 */
export function encodeAppletAcrForAid(n: number, aid: Uint8Array): Uint8Array | null {
  const service = serviceTable(n).find((s) => bytesEqual(s.aid, aid));
  if (!service) return null;
  const applet = appletAcrTable(n).find((a) => emittedAppletId(a.id) === service.id);
  return applet ? concatBytes(ACA_APPLET_INFORMATION, appletTlv(applet)) : ACA_APPLET_INFORMATION;
}

/**
 * GET ACR P1=12: the first object entry, in table order, with that OID. null
 * when no applet lists it (6A80). FF FF therefore returns PKI applet 0's
 * card-wide entry (or applet 1F's when n is 0).
 */
export function encodeObjectAcrForOid(n: number, oid: Uint8Array): Uint8Array | null {
  for (const applet of appletAcrTable(n)) {
    const found = applet.objects.find((o) => o.oid[0] === oid[0] && o.oid[1] === oid[1]);
    if (found) return concatBytes(ACA_APPLET_INFORMATION, objectTlv(found));
  }
  return null;
}

/**
 * GET ACR P1=50/51/52 (extended, correct): no header; per applet
 * `<len> <id> <object count>` and per object `<len> <OID> <instructions>`,
 * each length counting the bytes after it.
 */
export function encodeAppletAcrTableExtended(n: number): Uint8Array {
  return concatBytes(
    ...appletAcrTable(n).map((a) => {
      const objects = a.objects.map((o) => {
        const body = objectBody(o);
        return concatBytes(Uint8Array.of(body.length), body);
      });
      const body = concatBytes(Uint8Array.of(emittedAppletId(a.id), a.objects.length), ...objects);
      return concatBytes(Uint8Array.of(body.length), body);
    }),
  );
}

// ---------------------------------------------------------------------------
// Long properties (GET PROPERTIES P1=40)
// ---------------------------------------------------------------------------

/**
 * The ACA's "long" property members after the applet information, as
 * libcacard sends them (85 bytes in all, `6C55`). They are not in GSC-IS;
 * libcacard copied them from a real CAC for ActivClient, and their meaning is
 * not documented, so they are kept as plain tag/value data.
 */
export const ACA_LONG_PROPERTY_MEMBERS: readonly (readonly [number, readonly number[]])[] = [
  [0x23, [0x20, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x58]],
  [0x2a, [0x02, 0x00]],
  [0x2b, [...CAC_RID]],
  [
    0x22,
    [0x00, 0x00, 0x00, 0xda, 0x01, 0xb4, 0x03, 0x30, 0x00, 0x00, 0x00, 0x70, 0x00, 0x51, 0x02, 0x9d],
  ],
  [0x2c, [0x00]],
  [0x20, [0x08, 0x01]],
  [0x21, [0x0f]],
  [0x32, [0x03, 0x03, 0x03, 0x03]],
  [0x30, [0x08]],
  [0x31, [0x06, 0x08, 0x00, 0x00]],
  [0x24, [0xff]],
  [0x25, [0x01, 0x00]],
  [0x26, [0x01]],
];

/** The whole P1=40 list: applet information followed by the members above. */
export function encodeAcaLongProperties(): Uint8Array {
  return concatBytes(
    ACA_APPLET_INFORMATION,
    ...ACA_LONG_PROPERTY_MEMBERS.map(([tag, value]) => tlv(tag, Uint8Array.from(value))),
  );
}
