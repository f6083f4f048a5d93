/**
 * Command APDU codec (ISO 7816-4 §5.1, cases 1-4, short and extended), with
 * libcacard 2.8's acceptance rules (card_7816.c vcard_apdu_set_length): any
 * length the rules do not explain is 6700.
 */
import { CardError } from "./card-error.js";
import { SW } from "./status.js";

/** Header bytes: CLA INS P1 P2. */
export const APDU_HEADER_LENGTH = 4;
/** Le 00 in a short APDU means 256. */
export const SHORT_LE_MAX = 256;
/** Le 0000 in an extended APDU means 65536. */
export const EXTENDED_LE_MAX = 65536;

/** How the class byte is interpreted (libcacard vcard_apdu_set_class). */
export const enum ClassKind {
  /** 00, 80, 90, A0 (channel and SM bits apply), B0, C0. */
  Iso = 0,
  /** 10-70: reserved for future use. */
  Rfu = 1,
  /** D0-F0, including FF (the PTS path is dead in libcacard). */
  Proprietary = 2,
}

export interface CommandApdu {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  /** Command data; empty when Lc is absent. A view into the raw bytes. */
  readonly data: Uint8Array;
  /** Expected length; 0 when absent (libcacard's a_Le), 256 / 65536 for 00 / 0000. */
  readonly le: number;
  /** Whether an Le field was present at all. */
  readonly hasLe: boolean;
  readonly extended: boolean;
  readonly classKind: ClassKind;
  /** Logical channel from CLA bits 0-1 (ISO first-interindustry classes only). */
  readonly channel: number;
  /**
   * libcacard's "secure messaging" bits: CLA & 0x0E. This includes bit 1, a
   * channel bit, which is why channels 2 and 3 answer 6882 (quirk kept).
   */
  readonly secureMessaging: number;
}

function classKind(cla: number): ClassKind {
  switch (cla & 0xf0) {
    case 0x00:
    case 0x80:
    case 0x90:
    case 0xa0:
    case 0xb0:
    case 0xc0:
      return ClassKind.Iso;
    case 0xd0:
    case 0xe0:
    case 0xf0:
      return ClassKind.Proprietary;
    default:
      return ClassKind.Rfu;
  }
}

/** Whether CLA's channel and SM bits count: the first interindustry classes 0x, 8x, 9x, Ax. */
function hasChannelBits(cla: number): boolean {
  const high = cla & 0xf0;
  return high === 0x00 || high === 0x80 || high === 0x90 || high === 0xa0;
}

function make(
  raw: Uint8Array,
  data: Uint8Array,
  le: number,
  hasLe: boolean,
  extended: boolean,
): CommandApdu {
  const cla = raw[0];
  // Computed in place, without an intermediate object: every APDU passes here.
  const kind = classKind(cla);
  const channel = hasChannelBits(cla) ? cla & 0x03 : 0;
  const sm = hasChannelBits(cla) ? cla & 0x0e : 0;
  return {
    cla,
    ins: raw[1],
    p1: raw[2],
    p2: raw[3],
    data,
    le,
    hasLe,
    extended,
    classKind: kind,
    channel,
    secureMessaging: sm,
  };
}

const EMPTY = new Uint8Array(0);

/**
 * Parses a command APDU once. Throws CardError(6700) for every length that
 * does not fit one of the seven cases, exactly where libcacard does.
 */
export function parseCommandApdu(raw: Uint8Array): CommandApdu {
  if (raw.length < APDU_HEADER_LENGTH) throw new CardError(SW.WRONG_LENGTH, "APDU shorter than its header");
  const rest = raw.length - APDU_HEADER_LENGTH;
  if (rest === 0) return make(raw, EMPTY, 0, false, false); // case 1
  const b4 = raw[4];
  if (rest === 1) return make(raw, EMPTY, b4 === 0 ? SHORT_LE_MAX : b4, true, false); // case 2S
  if (b4 !== 0) {
    const lc = b4;
    const data = raw.subarray(5, 5 + lc);
    if (rest === lc + 1) return make(raw, data, 0, false, false); // case 3S
    if (rest === lc + 2) {
      const le = raw[raw.length - 1];
      return make(raw, data, le === 0 ? SHORT_LE_MAX : le, true, false); // case 4S
    }
    throw new CardError(SW.WRONG_LENGTH, "short Lc does not match the APDU length");
  }
  // b4 == 0 with more bytes: extended length.
  if (rest < 3) throw new CardError(SW.WRONG_LENGTH, "truncated extended length");
  const x = (raw[5] << 8) | raw[6];
  if (rest === 3) return make(raw, EMPTY, x === 0 ? EXTENDED_LE_MAX : x, true, true); // case 2E
  if (x === 0) throw new CardError(SW.WRONG_LENGTH, "extended Lc of zero");
  const data = raw.subarray(7, 7 + x);
  if (rest === x + 3) return make(raw, data, 0, false, true); // case 3E
  if (rest === x + 5) {
    const le = (raw[raw.length - 2] << 8) | raw[raw.length - 1];
    return make(raw, data, le === 0 ? EXTENDED_LE_MAX : le, true, true); // case 4E
  }
  throw new CardError(SW.WRONG_LENGTH, "extended Lc does not match the APDU length");
}
