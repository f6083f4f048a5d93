/**
 * Is a relayed card's ATR one QEMU will take? QEMU's ccid-card-passthru
 * refuses an ATR longer than its limit or with TS other than 3B/3F, and a
 * guest's pcscd calls a card whose ATR structure does not add up a memory
 * card (vsmartcard issue #129: a relay presented ASCII digits as the ATR and
 * OpenSC answered "Generic reader error"). So the relay checks the structure
 * before announcing the card, and says why when it will not.
 *
 * ISO/IEC 7816-3 §8.2: TS, T0 (Y1 in the high nibble, K historical bytes in
 * the low one), then interface bytes TAi TBi TCi TDi as each Yi announces,
 * the K historical bytes, and TCK when any TDi names a protocol other than
 * T=0.
 */
import { MAX_ATR_LENGTH } from "../../core/card/atr.js";
import { toHex } from "../../core/bytes.js";

/** Direct and inverse convention: the only two values of TS. */
const TS_DIRECT = 0x3b;
const TS_INVERSE = 0x3f;
/** High nibble of T0/TDi: which of TA TB TC TD follow. */
const Y_TA = 0x10;
const Y_TB = 0x20;
const Y_TC = 0x40;
const Y_TD = 0x80;
const LOW_NIBBLE = 0x0f;
/** TS and T0. */
const MIN_ATR_LENGTH = 2;

/** null when the ATR is well formed, else why not (one line, names the bytes). */
export function atrProblem(atr: Uint8Array): string | null {
  const hex = toHex(atr).toUpperCase();
  if (atr.length < MIN_ATR_LENGTH) return `ATR "${hex}" is shorter than ${MIN_ATR_LENGTH} bytes`;
  if (atr.length > MAX_ATR_LENGTH) return `ATR of ${atr.length} bytes is longer than QEMU takes (${MAX_ATR_LENGTH})`;
  if (atr[0] !== TS_DIRECT && atr[0] !== TS_INVERSE) return `ATR "${hex}" starts with TS=${hex.slice(0, 2)}, not 3B or 3F`;
  const historical = atr[1] & LOW_NIBBLE;
  let y = atr[1];
  let at = 2;
  let needsTck = false;
  for (;;) {
    for (const bit of [Y_TA, Y_TB, Y_TC]) if (y & bit) at++;
    if (!(y & Y_TD)) break;
    if (at >= atr.length) return `ATR "${hex}" is truncated in its interface bytes`;
    const td = atr[at++];
    if ((td & LOW_NIBBLE) !== 0) needsTck = true;
    y = td;
  }
  const expected = at + historical + (needsTck ? 1 : 0);
  if (expected !== atr.length) {
    return `ATR "${hex}" is ${atr.length} bytes but its structure announces ${expected}`;
  }
  if (needsTck) {
    // TCK makes the XOR of T0..TCK zero (ISO/IEC 7816-3 §8.2.5).
    let check = 0;
    for (let i = 1; i < atr.length; i++) check ^= atr[i];
    if (check !== 0) return `ATR "${hex}" has a wrong check byte TCK`;
  }
  return null;
}
