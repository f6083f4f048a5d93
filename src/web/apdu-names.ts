/**
 * Names for the APDU log: instruction bytes (ISO 7816-4 §5.1 table 4, GSC-IS
 * 2.1 CAC, SP 800-73-4 PIV) and status words (ISO 7816-4 §5.6, named as the
 * core names them). VERIFY data is redacted before it gets here.
 */
import { SW } from "../core/iso7816/status.js";
import { toHex } from "../core/bytes.js";

const INS_NAMES: Readonly<Record<number, string>> = {
  0x20: "VERIFY",
  0x24: "CHANGE REFERENCE DATA",
  0x2c: "RESET RETRY COUNTER",
  0x36: "GET CERTIFICATE",
  0x42: "SIGN/DECRYPT",
  0x47: "GENERATE KEY PAIR",
  0x4c: "GET ACR",
  0x52: "READ BUFFER",
  0x56: "GET PROPERTIES",
  0x58: "UPDATE BUFFER",
  0x70: "MANAGE CHANNEL",
  0x84: "GET CHALLENGE",
  0x87: "GENERAL AUTHENTICATE",
  0xa4: "SELECT",
  0xc0: "GET RESPONSE",
  0xca: "GET DATA",
  0xcb: "GET DATA",
  0xdb: "PUT DATA",
};

/** The instruction's name, or its hex byte. */
export function insName(ins: number): string {
  return INS_NAMES[ins] ?? `INS ${ins.toString(16).padStart(2, "0").toUpperCase()}`;
}

const SW_NAMES = new Map<number, string>(Object.entries(SW).map(([name, sw]) => [sw, name.toLowerCase().replace(/_/g, " ")]));

/** "success", "61 12: 18 more bytes", "63 C2: 2 tries left", or the SW's hex. */
export function swName(sw: number): string {
  const sw1 = sw >> 8;
  const sw2 = sw & 0xff;
  if (sw1 === 0x61) return `${sw2 === 0 ? 256 : sw2} more bytes`;
  if (sw1 === 0x6c) return `wrong Le, ${sw2} expected`;
  if (sw1 === 0x63 && (sw2 & 0xf0) === 0xc0) return `${sw2 & 0x0f} tries left`;
  return SW_NAMES.get(sw) ?? "";
}

export interface ApduLogLine {
  readonly ins: string;
  /** Command hex, PINs already redacted. */
  readonly command: string;
  /** Response data hex (without SW), or null when the card gave none. */
  readonly response: string | null;
  readonly sw: string;
  readonly swName: string;
}

/** One log line for a command (already redacted) and its response (data + SW, or null). */
export function describeExchange(command: Uint8Array, response: Uint8Array | null): ApduLogLine {
  const ins = command.length >= 2 ? insName(command[1]) : "(short)";
  if (response === null || response.length < 2) {
    return { ins, command: toHex(command), response: null, sw: "----", swName: "no answer" };
  }
  const sw = (response[response.length - 2] << 8) | response[response.length - 1];
  return {
    ins,
    command: toHex(command),
    response: toHex(response.subarray(0, response.length - 2)),
    sw: sw.toString(16).padStart(4, "0").toUpperCase(),
    swName: swName(sw),
  };
}
