/**
 * Soft private keys on their own (soft-key.ts): raw RSA operand checks and
 * properties over generated inputs, ECDSA over a given digest, ECDH, deferred
 * loading and the session. Keys are the committed sample key or seeded EC
 * keys, and fast-check runs with a fixed seed, so every run is the same.
 */
import { constants, createPrivateKey, createPublicKey, publicEncrypt, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DeferredPrivateKey,
  keyAlgorithmOf,
  keyMatchesPublic,
  rsaModulusOf,
  sameUnsigned,
  SoftPrivateKey,
  SoftSession,
  stripLeadingZeros,
} from "../../src/tokens/soft-key.js";
import { KeyOperationError, KeyStoreError, type EcCurve } from "../../src/core/token/types.js";
import { SAMPLE_PEM } from "./helpers/fixtures.js";
import { ecdhAgrees, ecdsaVerifies, ecPoint, FIELD_BYTES, seededEcKey, seededEd25519Key, seededSecp256k1Key } from "./helpers/ec.js";
import { FC_SEED, seededBytes } from "./helpers/seeded.js";

const privateKey = createPrivateKey(readFileSync(join(SAMPLE_PEM, "cert1.key")));
const publicKey = createPublicKey(privateKey);
const rsa = new SoftPrivateKey(privateKey);
const session = new SoftSession([rsa, null]);
const n = rsaModulusOf(privateKey)!;
const BYTES = 256;

/** Awaits a promise that must reject with a KeyOperationError. */
async function operationError(p: Promise<unknown>): Promise<KeyOperationError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof KeyOperationError) return err;
    throw err;
  }
  throw new Error("expected a KeyOperationError");
}

describe("SoftSession", () => {
  it("gives the key of a slot, null for a slot without a key or an index out of range", () => {
    expect(n).toHaveLength(BYTES);
    expect(session.key(0)).toBe(rsa);
    expect(session.key(1)).toBeNull();
    for (const i of [2, -1, 0.5, Number.NaN]) expect(session.key(i)).toBeNull();
  });

  it("loadAll loads every deferred key once and rejects with a deferred key's failure", async () => {
    let loads = 0;
    const good = new DeferredPrivateKey({ kind: "rsa", bits: 2048 }, async () => {
      loads++;
      return privateKey;
    });
    await new SoftSession([good, null, rsa]).loadAll();
    await new SoftSession([good]).loadAll();
    expect(loads).toBe(1);
    const broken = new DeferredPrivateKey({ kind: "rsa", bits: 2048 }, async () => {
      throw new KeyStoreError("KEYSTORE_CORRUPT", "damaged");
    });
    await expect(new SoftSession([good, broken]).loadAll()).rejects.toThrow(KeyStoreError);
  });
});

describe("raw RSA (SoftPrivateKey.rsaRaw)", () => {
  it("is RSA only", () => {
    expect(rsa.algorithm).toEqual({ kind: "rsa", bits: 2048 });
    expect(rsa.rsaRaw).toBeTypeOf("function");
    expect(rsa.ecdsaSign).toBeUndefined();
    expect(rsa.ecdh).toBeUndefined();
  });

  it("computes x^d mod n for every operand below n (the public operation undoes it)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: BYTES, maxLength: BYTES }), async (x) => {
        fc.pre(!sameUnsigned(x, n) && Buffer.compare(Buffer.from(x), Buffer.from(n)) < 0);
        const y = await rsa.rsaRaw!(x);
        expect(y).toBeInstanceOf(Uint8Array);
        expect(Buffer.isBuffer(y)).toBe(false);
        expect(y).toHaveLength(BYTES);
        expect(Buffer.from(publicEncrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, y))).toEqual(Buffer.from(x));
      }),
      { numRuns: 50, seed: FC_SEED },
    );
  });

  it("maps 0 to 0 and 1 to 1", async () => {
    const one = new Uint8Array(BYTES);
    one[BYTES - 1] = 1;
    expect(await rsa.rsaRaw!(new Uint8Array(BYTES))).toEqual(new Uint8Array(BYTES));
    expect(await rsa.rsaRaw!(one)).toEqual(one);
  });

  it("rejects with KeyOperationError for any wrong length or operand ≥ n", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (x) => {
        fc.pre(x.length !== BYTES);
        await operationError(rsa.rsaRaw!(x));
      }),
      { numRuns: 50, seed: FC_SEED },
    );
    expect((await operationError(rsa.rsaRaw!(n))).message).toMatch(/not below the modulus/);
    await operationError(rsa.rsaRaw!(new Uint8Array(BYTES).fill(0xff)));
    const nMinus1 = Uint8Array.from(n);
    nMinus1[BYTES - 1] -= 1;
    expect(await rsa.rsaRaw!(nMinus1)).toHaveLength(BYTES);
  });

  it("does not take a public key for a private one", () => {
    expect(() => new SoftPrivateKey(publicKey)).toThrow(TypeError);
    expect(() => new SoftPrivateKey(createPublicKey(seededEcKey("P-256", "public")))).toThrow(TypeError);
  });
});

describe.each<EcCurve>(["P-256", "P-384"])("EC %s", (curve) => {
  const key = seededEcKey(curve, "soft-key test");
  const pub = createPublicKey(key);
  const ec = new SoftPrivateKey(key);
  const size = FIELD_BYTES[curve];

  it("is EC only", () => {
    expect(ec.algorithm).toEqual({ kind: "ec", curve });
    expect(ec.rsaRaw).toBeUndefined();
    expect(ec.ecdsaSign).toBeTypeOf("function");
    expect(ec.ecdh).toBeTypeOf("function");
  });

  it("signs the digest it is given: r || s that node:crypto verifies over the message", async () => {
    for (const hash of ["sha256", "sha384"] as const) {
      for (let i = 0; i < 4; i++) {
        expect(await ecdsaVerifies(ec, pub, hash, seededBytes(10 + i * 50, `${curve} message ${hash} ${i}`))).toBe(true);
      }
    }
  });

  it("truncates a digest longer than the order, as ECDSA does (FIPS 186-4 §6.4)", async () => {
    expect(await ecdsaVerifies(ec, pub, "sha512", seededBytes(33, "long digest"))).toBe(true);
  });

  it("signs deterministically (RFC 6979) and differently for different digests", async () => {
    const d1 = seededBytes(size, "digest 1");
    const d2 = seededBytes(size, "digest 2");
    const s1 = await ec.ecdsaSign!(d1);
    expect(await ec.ecdsaSign!(d1)).toEqual(s1);
    expect(await ec.ecdsaSign!(d2)).not.toEqual(s1);
  });

  it("rejects an empty digest with KeyOperationError", async () => {
    await operationError(ec.ecdsaSign!(new Uint8Array(0)));
  });

  it("agrees on the ECDH secret with node:crypto.diffieHellman", async () => {
    for (const label of ["a", "b", "c"]) expect(await ecdhAgrees(ec, pub, label)).toBe(true);
  });

  it("rejects with KeyOperationError a peer point that is not an uncompressed point on the curve", async () => {
    const point = ecPoint(seededEcKey(curve, "peer"));
    const compressed = Uint8Array.of(0x02 + (point[point.length - 1] & 1), ...point.subarray(1, 1 + size));
    const notOnCurve = Uint8Array.from(point);
    notOnCurve[point.length - 1] ^= 1;
    const otherCurve = ecPoint(seededEcKey(curve === "P-256" ? "P-384" : "P-256", "peer"));
    const wrongPrefix = Uint8Array.from(point);
    wrongPrefix[0] = 0x05;
    for (const bad of [new Uint8Array(0), compressed, notOnCurve, otherCurve, wrongPrefix, point.subarray(0, point.length - 1)]) {
      await operationError(ec.ecdh!(bad));
    }
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1 + 2 * size, maxLength: 1 + 2 * size }), async (x) => {
        x[0] = 0x04;
        // A random X, Y pair is on the curve with negligible probability.
        await operationError(ec.ecdh!(x));
      }),
      { numRuns: 30, seed: FC_SEED },
    );
  });
});

describe("DeferredPrivateKey", () => {
  it("loads once, on first use, and then answers as the loaded key", async () => {
    let loads = 0;
    const key = seededEcKey("P-256", "deferred");
    const deferred = new DeferredPrivateKey({ kind: "ec", curve: "P-256" }, async () => {
      loads++;
      return key;
    });
    expect(loads).toBe(0);
    expect(deferred.rsaRaw).toBeUndefined();
    expect(await ecdsaVerifies(deferred, createPublicKey(key), "sha256", seededBytes(20, "m"))).toBe(true);
    expect(await ecdhAgrees(deferred, createPublicKey(key), "deferred")).toBe(true);
    expect(loads).toBe(1);
  });

  it("reports a failed load to the operation and tries again next time", async () => {
    let attempts = 0;
    const deferred = new DeferredPrivateKey({ kind: "rsa", bits: 2048 }, async () => {
      if (attempts++ === 0) throw new KeyStoreError("KEYSTORE_CORRUPT", "damaged at first");
      return privateKey;
    });
    expect(deferred.ecdsaSign).toBeUndefined();
    await expect(deferred.rsaRaw!(new Uint8Array(BYTES))).rejects.toThrow(/damaged at first/);
    expect(await deferred.rsaRaw!(new Uint8Array(BYTES))).toEqual(new Uint8Array(BYTES));
    expect(attempts).toBe(2);
  });

  it("has no operation at all for an unsupported key", () => {
    const deferred = new DeferredPrivateKey({ kind: "unsupported", name: "ed25519" }, async () => privateKey);
    expect([deferred.rsaRaw, deferred.ecdsaSign, deferred.ecdh]).toEqual([undefined, undefined, undefined]);
  });
});

describe("what a key is", () => {
  it("names RSA by its size, EC P-256/P-384 by curve, anything else as unsupported", () => {
    expect(keyAlgorithmOf(publicKey)).toEqual({ kind: "rsa", bits: 2048 });
    expect(keyAlgorithmOf(privateKey)).toEqual({ kind: "rsa", bits: 2048 });
    expect(keyAlgorithmOf(seededEcKey("P-256", "x"))).toEqual({ kind: "ec", curve: "P-256" });
    expect(keyAlgorithmOf(createPublicKey(seededEcKey("P-384", "x")))).toEqual({ kind: "ec", curve: "P-384" });
    expect(keyAlgorithmOf(createPublicKey(seededSecp256k1Key("x")))).toEqual({ kind: "unsupported", name: "EC secp256k1" });
    expect(keyAlgorithmOf(createPublicKey(seededEd25519Key("x")))).toEqual({ kind: "unsupported", name: "ed25519" });
  });

  it("a key with an unsupported algorithm offers no operation", () => {
    const ed = new SoftPrivateKey(seededEd25519Key("y"));
    expect(ed.algorithm.kind).toBe("unsupported");
    expect([ed.rsaRaw, ed.ecdsaSign, ed.ecdh]).toEqual([undefined, undefined, undefined]);
  });

  it("matches a private key to its public key and to no other", () => {
    const ec: KeyObject = seededEcKey("P-256", "match");
    expect(keyMatchesPublic(privateKey, publicKey)).toBe(true);
    expect(keyMatchesPublic(ec, createPublicKey(ec))).toBe(true);
    expect(keyMatchesPublic(ec, publicKey)).toBe(false);
    expect(keyMatchesPublic(privateKey, createPublicKey(ec))).toBe(false);
    expect(keyMatchesPublic(seededEcKey("P-256", "other"), createPublicKey(ec))).toBe(false);
  });

  it("gives an RSA modulus without leading zeros, and none for an EC key", () => {
    expect(rsaModulusOf(publicKey)).toEqual(n);
    expect(n[0]).not.toBe(0);
    expect(rsaModulusOf(seededEcKey("P-256", "x"))).toBeNull();
  });

  it("compares unsigned numbers ignoring leading zeros", () => {
    expect(sameUnsigned(Uint8Array.of(0, 0, 1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(sameUnsigned(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(sameUnsigned(Uint8Array.of(1, 2, 0), Uint8Array.of(1, 2))).toBe(false);
    expect(stripLeadingZeros(Uint8Array.of(0, 0, 0))).toEqual(Uint8Array.of(0));
    expect(stripLeadingZeros(new Uint8Array(0))).toEqual(new Uint8Array(0));
  });
});
