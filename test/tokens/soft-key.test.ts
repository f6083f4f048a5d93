/** The raw RSA key ring on its own: operand checks and properties over random inputs. */
import { constants, generateKeyPairSync, publicEncrypt } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RsaKeyRing, sameUnsigned, toRsaPrivateKey } from "../../src/tokens/rsa-ring.js";
import { KeyOperationError } from "../../src/core/token/types.js";

const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
const rsa = toRsaPrivateKey(privateKey)!;
const ring = new RsaKeyRing([rsa, null]);
const n = rsa.modulus;

describe("RsaKeyRing", () => {
  it("knows the modulus length, 0 for a slot without a key", () => {
    expect(n).toHaveLength(128);
    expect(ring.modulusBytes(0)).toBe(128);
    expect(ring.modulusBytes(1)).toBe(0);
    expect(ring.modulusBytes(2)).toBe(0);
    expect(ring.rsaPrivate(1, new Uint8Array(128))).toBeNull();
  });

  it("computes x^d mod n for every operand below n (public operation undoes it)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 128, maxLength: 128 }), (x) => {
        fc.pre(!sameUnsigned(x, n) && Buffer.compare(Buffer.from(x), Buffer.from(n)) < 0);
        const y = ring.rsaPrivate(0, x)!;
        expect(y).toHaveLength(128);
        expect(Buffer.from(publicEncrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, y))).toEqual(Buffer.from(x));
      }),
      { numRuns: 50 },
    );
  });

  it("maps 0 to 0 and 1 to 1", () => {
    const one = new Uint8Array(128);
    one[127] = 1;
    expect(ring.rsaPrivate(0, new Uint8Array(128))).toEqual(new Uint8Array(128));
    expect(ring.rsaPrivate(0, one)).toEqual(one);
  });

  it("throws KeyOperationError for any wrong length or operand ≥ n", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (x) => {
        fc.pre(x.length !== 128);
        expect(() => ring.rsaPrivate(0, x)).toThrow(KeyOperationError);
      }),
      { numRuns: 50 },
    );
    expect(() => ring.rsaPrivate(0, n)).toThrow(KeyOperationError);
    expect(() => ring.rsaPrivate(0, new Uint8Array(128).fill(0xff))).toThrow(KeyOperationError);
  });

  it("does not accept a non-RSA key", () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    expect(toRsaPrivateKey(ec)).toBeNull();
    expect(toRsaPrivateKey(publicKey)).toBeNull();
  });
});
