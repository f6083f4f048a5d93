/**
 * Host-side PKCS#1 v1.5 helpers (RFC 8017 §9.2): the block a host hands a
 * raw-RSA card to sign, as OpenSC does for SHA256-RSA-PKCS.
 */
import { concatBytes } from "../core/bytes.js";

/** DER prefix of DigestInfo { sha256, NULL }, followed by the 32-byte hash (RFC 8017 §9.2 note 1). */
export const SHA256_DIGEST_INFO_PREFIX = Uint8Array.of(
  0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
);

/** EMSA-PKCS1-v1_5 encoding: 00 01 FF..FF 00 DigestInfo, `modulusBytes` long. */
export function pkcs1SignatureBlock(digestInfo: Uint8Array, modulusBytes: number): Uint8Array {
  if (digestInfo.length + 11 > modulusBytes) throw new RangeError("DigestInfo too long for the modulus");
  const block = new Uint8Array(modulusBytes).fill(0xff);
  block[0] = 0x00;
  block[1] = 0x01;
  block[modulusBytes - digestInfo.length - 1] = 0x00;
  block.set(digestInfo, modulusBytes - digestInfo.length);
  return block;
}

/** The DigestInfo of a SHA-256 hash. */
export function sha256DigestInfo(hash: Uint8Array): Uint8Array {
  return concatBytes(SHA256_DIGEST_INFO_PREFIX, hash);
}
