/**
 * The two PKCS#1 v1.5 block manipulations libcacard needs when a token cannot
 * do raw RSA (CKM_RSA_X_509): the card always receives and returns whole
 * modulus-sized blocks, the token then only speaks CKM_RSA_PKCS.
 * Behaviour follows vcard_emul_rsa_op in libcacard 2.8.1 (fix for issue #25).
 */

/**
 * If `block` looks like a PKCS#1 type-1 (signature) block, returns what
 * follows its separator (normally a DigestInfo), else null.
 *
 * libcacard's test, kept exactly: bytes 0-1 are 00 01, then any number of FF
 * (zero included, unlike RFC 8017's minimum of 8), then a 00. An empty
 * payload is accepted too. An encryption block that happens to match is
 * harmless: signing it with CKM_RSA_PKCS is what decrypting would have given.
 */
export function stripSignaturePadding(block: Uint8Array): Uint8Array | null {
  if (block.length < 3 || block[0] !== 0x00 || block[1] !== 0x01) return null;
  let i = 2;
  while (i < block.length && block[i] === 0xff) i++;
  if (i >= block.length || block[i] !== 0x00) return null;
  return block.subarray(i + 1);
}

/** Smallest "pad_len" (k minus plaintext length) libcacard accepts: 00 02, one pad byte, 00. */
const MIN_TYPE2_OVERHEAD = 4;
/**
 * The constant padding byte libcacard writes: the token already removed the
 * random padding, and the host only strips it again.
 */
const TYPE2_FILLER = 0x03;

/**
 * Rebuilds a type-2 (encryption) block of `modulusBytes` around a plaintext
 * the token decrypted with CKM_RSA_PKCS: 00 02 03..03 00 plaintext.
 * Returns null when the plaintext is too long to leave MIN_TYPE2_OVERHEAD
 * bytes (libcacard answers 6F00 then).
 */
export function wrapDecryptedPlaintext(plaintext: Uint8Array, modulusBytes: number): Uint8Array | null {
  const overhead = modulusBytes - plaintext.length;
  if (overhead < MIN_TYPE2_OVERHEAD) return null;
  const block = new Uint8Array(modulusBytes);
  block[1] = 0x02;
  block.fill(TYPE2_FILLER, 2, overhead - 1);
  block[overhead - 1] = 0x00;
  block.set(plaintext, overhead);
  return block;
}
