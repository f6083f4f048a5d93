/**
 * The raw RSA private operation (m^d mod n, no padding: PKCS#1 v2.2 RSADP,
 * RFC 8017 §5.1.2) with BigInt, for the page: Web Crypto has no raw RSA (its
 * RSASSA/RSA-OAEP always pad), and the card receives a block the guest has
 * already padded.
 *
 * CRT (RFC 8017 §5.1.2 step 2b, Garner's recombination) over p and q with a
 * fixed 4-bit window, and multiplicative blinding (c' = c·r^e mod n, then
 * m = m'·r^-1 mod n), as OpenSSL's RSA_blinding_on does.
 *
 * Timing: V8's BigInt is not constant-time (a step costs what its operands'
 * sizes and values make it cost). The fixed window makes the sequence of
 * squarings and multiplications independent of the exponent; blinding makes
 * the numbers the exponentiation works on independent of the input. What is
 * left is BigInt's own timing: acceptable for a soft card in the user's own
 * tab (docs/browser.md), not a hardened implementation.
 */

/** The CRT form of an RSA private key (RFC 8017 §3.2, second representation, plus n, e, d). */
export interface RsaPrivateComponents {
  readonly n: bigint;
  readonly e: bigint;
  readonly d: bigint;
  readonly p: bigint;
  readonly q: bigint;
  readonly dp: bigint;
  readonly dq: bigint;
  readonly qi: bigint;
}

/** Big-endian unsigned bytes to a BigInt. */
export function bytesToBigInt(bytes: Uint8Array): bigint {
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return hex === "" ? 0n : BigInt(`0x${hex}`);
}

/** A non-negative BigInt as exactly `length` big-endian bytes (RangeError when it does not fit). */
export function bigIntToBytes(value: bigint, length: number): Uint8Array {
  const hex = value.toString(16);
  if (value < 0n || hex.length > 2 * length) throw new RangeError(`value does not fit ${length} bytes`);
  const padded = hex.padStart(2 * length, "0");
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = parseInt(padded.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Bits in a positive BigInt. */
export function bitLength(value: bigint): number {
  return value === 0n ? 0 : value.toString(2).length;
}

const WINDOW_BITS = 4;
const WINDOW_MASK = (1n << BigInt(WINDOW_BITS)) - 1n;

/**
 * base^exp mod m, left to right over fixed 4-bit windows: every window costs
 * four squarings and one multiplication, a zero window multiplying by
 * table[0] = 1, so the operation sequence does not follow the exponent's bits.
 */
export function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  const table = [1n, base % m];
  for (let i = 2; i < 1 << WINDOW_BITS; i++) table.push((table[i - 1] * table[1]) % m);
  const windows = Math.ceil(bitLength(exp) / WINDOW_BITS);
  let acc = 1n;
  for (let w = windows - 1; w >= 0; w--) {
    for (let s = 0; s < WINDOW_BITS; s++) acc = (acc * acc) % m;
    acc = (acc * table[Number((exp >> BigInt(w * WINDOW_BITS)) & WINDOW_MASK)]) % m;
  }
  return acc;
}

/** a^-1 mod m by extended Euclid; only ever sees the random blinding factor. */
export function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1, t0, t1] = [m, a % m, 0n, 1n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [t0, t1] = [t1, t0 - q * t1];
  }
  if (r0 !== 1n) throw new RangeError("not invertible");
  return t0 < 0n ? t0 + m : t0;
}

export interface RsaRawOptions {
  /** Blind the input (default true). */
  readonly blind?: boolean;
  /** Random bytes for the blinding factor (default Web Crypto's getRandomValues; tests pass a seeded one). */
  readonly random?: (length: number) => Uint8Array;
}

const webRandom = (length: number): Uint8Array => globalThis.crypto.getRandomValues(new Uint8Array(length));

/** The modulus length in bytes. */
export function modulusBytes(key: RsaPrivateComponents): number {
  return (bitLength(key.n) + 7) >> 3;
}

/**
 * x^d mod n by CRT. `input` must be exactly the modulus length and below the
 * modulus (RangeError otherwise; the token turns that into the card's status
 * word). The result is left-padded to the modulus length.
 */
export function rsaRawPrivate(key: RsaPrivateComponents, input: Uint8Array, options: RsaRawOptions = {}): Uint8Array {
  const k = modulusBytes(key);
  if (input.length !== k) throw new RangeError(`input is ${input.length} bytes; the modulus is ${k}`);
  let c = bytesToBigInt(input);
  if (c >= key.n) throw new RangeError("input is not below the modulus");
  let unblind = 1n;
  if (options.blind !== false) {
    const random = options.random ?? webRandom;
    let r: bigint;
    // r must be invertible mod n; with n = p·q a random r fails only if it hits p or q.
    do r = bytesToBigInt(random(k)) % key.n;
    while (r < 2n || r % key.p === 0n || r % key.q === 0n);
    c = (c * modPow(r, key.e, key.n)) % key.n;
    unblind = modInverse(r, key.n);
  }
  // Garner: m = m2 + q·(qi·(m1 - m2) mod p).
  const m1 = modPow(c % key.p, key.dp, key.p);
  const m2 = modPow(c % key.q, key.dq, key.q);
  let h = ((m1 - m2) * key.qi) % key.p;
  if (h < 0n) h += key.p;
  let m = m2 + h * key.q;
  if (unblind !== 1n) m = (m * unblind) % key.n;
  return bigIntToBytes(m, k);
}
