/**
 * ECDSA signatures as PIV returns them: DER SEQUENCE { INTEGER r, INTEGER s }
 * (SP 800-73-4 Part 2 Appendix A.4; OpenSC converts it back to r || s,
 * card-piv.c piv_decipher/piv_compute_signature). The token gives r || s.
 */
import { tlv } from "./ber-tlv.js";

/** A positive DER INTEGER: no leading zero bytes, one 00 when the top bit is set. */
function derInteger(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  return trimmed[0] & 0x80 ? tlv(0x02, Uint8Array.of(0), trimmed) : tlv(0x02, trimmed);
}

/** r || s (two halves of equal length) to DER. */
export function ecdsaSignatureToDer(rs: Uint8Array): Uint8Array {
  if (rs.length === 0 || rs.length % 2 !== 0) throw new RangeError(`r || s of ${rs.length} bytes`);
  const half = rs.length / 2;
  return tlv(0x30, derInteger(rs.subarray(0, half)), derInteger(rs.subarray(half)));
}
