/**
 * key4.db password-based encryption (pbe.ts, password.ts): the real NSS
 * password check, passKey derivation, PBES2 and legacy 3DES decryption, MACs,
 * and damaged or unknown structures. Inputs come from seeded generators and
 * fast-check runs with a fixed seed, so every run checks the same bytes.
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as asn1js from "asn1js";
import {
  decryptNssData,
  MAX_PBE_ITERATIONS,
  NssPbeFormatError,
  parseEncryptedData,
  verifyNssMac,
} from "../../src/tokens/nss/pbe.js";
import { checkPassword, derivePassKey, readPasswordEntry } from "../../src/tokens/nss/password.js";
import { fromHex } from "../../src/core/bytes.js";
import { encryptLegacy3des, encryptPbes2, makeMac, OIDS, PASSWORD_CHECK, passKeyFor, type Digest } from "./helpers/nss-writer.js";
import { FC_SEED, SeededBytes } from "./helpers/seeded.js";

const random = new SeededBytes("pbe test");
const seeded = (length: number): Uint8Array => random.next(length);
const text = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString("latin1"));
const passKey = () => seeded(20);

const MALFORMED = "NSS_PBE_MALFORMED";
const UNSUPPORTED = "NSS_PBE_UNSUPPORTED";

function formatError(fn: () => unknown): NssPbeFormatError {
  try {
    fn();
  } catch (err) {
    if (err instanceof NssPbeFormatError) return err;
    throw err;
  }
  throw new Error("expected an NssPbeFormatError");
}

/** Awaits a promise that must reject with an NssPbeFormatError. */
async function asyncFormatError(p: Promise<unknown>): Promise<NssPbeFormatError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof NssPbeFormatError) return err;
    throw err;
  }
  throw new Error("expected an NssPbeFormatError");
}

describe("the password check of a real NSS 3.87 DB (sftkpwd.c, empty password)", () => {
  // The metaData 'password' row of a passwordless NSS 3.87 DB, byte for byte.
  const globalSalt = fromHex("f61b9abd7d7dd9e3ff0942fbe76e5c7c6f4667f9");
  const item2 = fromHex(
    "308181306d06092a864886f70d01050d3060304106092a864886f70d01050c30340420a55d84510eefe6c064fe6abc" +
      "7647dddeff72ea3482848dd38b23ec9f1f5ebeba020101020120300a06082a864886f70d0209301b0609608648016503" +
      "04012a040e63ac92adf721606ea9d4fb6cdd6e04103a658736c745087b26fb2f74e00538a2",
  );

  it("parses PBKDF2-HMAC-SHA256, 1 iteration, AES-256-CBC with the 04 0e IV quirk", () => {
    const data = parseEncryptedData(item2);
    expect(data.scheme).toBe("pbes2");
    if (data.scheme !== "pbes2") return;
    expect(data.kdf.iterations).toBe(1);
    expect(data.kdf.digest).toBe("sha256");
    expect(data.kdf.keyLength).toBe(32);
    expect(data.cipher).toBe("aes-256-cbc");
    expect(Buffer.from(data.iv).toString("hex")).toBe("040e63ac92adf721606ea9d4fb6cdd6e");
  });

  it("decrypts to 'password-check' with the empty password and not with another", async () => {
    const entry = readPasswordEntry(new Map([["password", { item1: globalSalt, item2 }]]));
    expect(entry).toBeDefined();
    const passKey = await checkPassword(entry!, new Uint8Array(0));
    expect(passKey).toEqual(derivePassKey(globalSalt, new Uint8Array(0)));
    expect(await checkPassword(entry!, new TextEncoder().encode("secret123"))).toBeNull();
  });
});

describe("passKey derivation (sftkpwd.c sftkdb_passwordToKey)", () => {
  it("is SHA-1(salt || password) for a 20-byte salt", () => {
    const salt = seeded(20);
    const expected = createHash("sha1").update(salt).update("pw").digest();
    expect(Buffer.from(derivePassKey(salt, Buffer.from("pw")))).toEqual(expected);
  });

  it("is SHA-384(salt || password) for a 48-byte salt (NSS ≥ 3.118)", () => {
    const salt = seeded(48);
    const key = derivePassKey(salt, Buffer.from("pw"));
    expect(key.length).toBe(48);
    expect(Buffer.from(key)).toEqual(createHash("sha384").update(salt).update("pw").digest());
  });

  it("checks a password entry written with a 48-byte salt", async () => {
    const salt = seeded(48);
    const item2 = encryptPbes2(PASSWORD_CHECK, passKeyFor(salt, "geheim"), { prf: "sha384", iterations: 10 });
    const entry = readPasswordEntry(new Map([["password", { item1: salt, item2 }]]))!;
    expect(await checkPassword(entry, Buffer.from("geheim"))).not.toBeNull();
    expect(await checkPassword(entry, Buffer.from("geheim!"))).toBeNull();
  });

  it("rejects a password row without salt or check value", () => {
    for (const row of [
      { item1: undefined, item2: undefined },
      { item1: new Uint8Array(0), item2: PASSWORD_CHECK },
      { item1: seeded(20), item2: undefined },
    ]) {
      expect(formatError(() => readPasswordEntry(new Map([["password", row]]))).code).toBe(MALFORMED);
    }
    expect(readPasswordEntry(new Map())).toBeUndefined();
  });

  it("rejects a password row whose check value is not DER as malformed", () => {
    const row = { item1: seeded(20), item2: Uint8Array.of(0x1e, 0x01, 0x00) };
    expect(formatError(() => readPasswordEntry(new Map([["password", row]]))).code).toBe(MALFORMED);
  });
});

describe("PBES2 decryption", () => {
  const plain = seeded(100);

  it.each<Digest | undefined>(["sha1", "sha256", "sha384", "sha512", undefined])("with PRF %s", async (prf) => {
    const key = passKey();
    const blob = encryptPbes2(plain, key, { prf, iterations: 3 });
    const data = parseEncryptedData(blob);
    expect(await decryptNssData(data, key)).toEqual(plain);
  });

  it("with a standard 16-byte IV, AES-128 and no keyLength", async () => {
    const key = passKey();
    const blob = encryptPbes2(plain, key, { ivStyle: "standard", cipher: "aes-128-cbc", omitKeyLength: true });
    expect(await decryptNssData(parseEncryptedData(blob), key)).toEqual(plain);
  });

  it("gives null (not garbage) for the wrong passKey", async () => {
    const blob = encryptPbes2(PASSWORD_CHECK, passKey());
    let nulls = 0;
    for (let i = 0; i < 20; i++) {
      const out = await decryptNssData(parseEncryptedData(blob), passKey());
      if (out === null) nulls++;
      else expect(text(out)).not.toBe("password-check");
    }
    expect(nulls).toBeGreaterThan(10);
  });
});

describe("legacy 3DES PBE (NSS < 3.49, lowpbe.c)", () => {
  it.each([1, 3])("round-trips with %i iteration(s)", async (iterations) => {
    const key = passKey();
    const plain = seeded(37);
    const data = parseEncryptedData(encryptLegacy3des(plain, key, iterations));
    expect(data.scheme).toBe("pkcs12-v0-3des");
    expect(await decryptNssData(data, key)).toEqual(plain);
    expect(text(await decryptNssData(data, passKey()))).not.toBe(text(plain));
  });
});

describe("integrity MACs (sftkpwd.c sftkdb_SignAttribute)", () => {
  const key = passKey();
  const value = seeded(256);

  it.each<Digest>(["sha256", "sha384"])("verifies an HMAC-%s MAC and only for the same id, type and value", async (digest) => {
    const mac = makeMac(key, 0, 0x123, value, { digest });
    expect(await verifyNssMac(mac, key, 0, 0x123, value)).toBe(true);
    expect(await verifyNssMac(mac, key, 1, 0x123, value)).toBe(false);
    expect(await verifyNssMac(mac, key, 0, 0x124, value)).toBe(false);
    expect(await verifyNssMac(mac, key, 0, 0x123, value.subarray(1))).toBe(false);
    expect(await verifyNssMac(mac, passKey(), 0, 0x123, value)).toBe(false);
  });

  it("refuses a MAC that is not PBMAC1", async () => {
    const notMac = encryptPbes2(value, key);
    expect((await asyncFormatError(verifyNssMac(notMac, key, 0, 0x123, value))).code).toBe(UNSUPPORTED);
  });

  it("rejects a MAC that is not DER as malformed, never with another error", async () => {
    for (const bad of [new Uint8Array(0), Uint8Array.of(0x1e, 0x01, 0x00), Uint8Array.of(0x18, 0x02, 0x30, 0x30), seeded(64)]) {
      expect((await asyncFormatError(verifyNssMac(bad, key, 0, 0x123, value))).code).toBe(MALFORMED);
    }
  });
});

describe("damaged and unknown structures", () => {
  const seq = (...value: asn1js.BaseBlock[]) => new asn1js.Sequence({ value });
  const oid = (value: string) => new asn1js.ObjectIdentifier({ value });
  const octets = (b: Uint8Array) => new asn1js.OctetString({ valueHex: b });
  const int = (value: number) => new asn1js.Integer({ value });
  const der = (n: asn1js.BaseBlock) => new Uint8Array(n.toBER(false));

  /** A PBES2 blob with chosen parts, for the cases encryptPbes2 cannot make. */
  function pbes2({
    iterations = 1,
    prf = OIDS.HMAC.sha256 as string,
    cipher = OIDS.AES256_CBC as string,
    iv = new Uint8Array(14),
    ct = new Uint8Array(16),
  }) {
    const kdf = seq(oid(OIDS.PBKDF2), seq(octets(new Uint8Array(32)), int(iterations), int(32), seq(oid(prf))));
    return der(seq(seq(oid(OIDS.PBES2), seq(kdf, seq(oid(cipher), octets(iv)))), octets(ct)));
  }

  it.each([
    ["empty input", new Uint8Array(0)],
    ["seeded random bytes", seeded(64)],
    // asn1js threw its own errors for these (RangeError, "Wrong input string
    // for conversion"), which escaped the parser before it was made total.
    ["a BMPString of odd length", Uint8Array.of(0x1e, 0x01, 0x00)],
    ["a SEQUENCE holding a BMPString of odd length", Uint8Array.of(0x30, 0x05, 0x1e, 0x03, 0x00, 0x00, 0x00)],
    ["a GeneralizedTime that is not a time", Uint8Array.of(0x18, 0x02, 0x30, 0x30)],
    ["a bare OCTET STRING", der(octets(new Uint8Array(4)))],
    ["trailing bytes", Uint8Array.from([...pbes2({}), 0])],
    ["an 8-byte IV", pbes2({ iv: new Uint8Array(8) })],
    ["a ciphertext of 15 bytes", pbes2({ ct: new Uint8Array(15) })],
    ["iteration count 0", pbes2({ iterations: 0 })],
    ["iteration count above NSS's limit", pbes2({ iterations: MAX_PBE_ITERATIONS + 1 })],
  ])("%s is malformed", (_name, blob) => {
    expect(formatError(() => parseEncryptedData(blob)).code).toBe(MALFORMED);
  });

  /** PBES2 with a PBKDF2-params SEQUENCE given element by element. */
  function pbes2WithKdfParams(...params: asn1js.BaseBlock[]) {
    const kdf = seq(oid(OIDS.PBKDF2), seq(...params));
    return der(seq(seq(oid(OIDS.PBES2), seq(kdf, seq(oid(OIDS.AES256_CBC), octets(new Uint8Array(14))))), octets(new Uint8Array(16))));
  }
  const salt = () => octets(new Uint8Array(8));

  it.each([
    ["PBES2 parameters that are not a SEQUENCE", der(seq(seq(oid(OIDS.PBES2), int(1)), octets(new Uint8Array(16))))],
    ["PBES2 parameters with one algorithm", der(seq(seq(oid(OIDS.PBES2), seq(seq(oid(OIDS.PBKDF2)))), octets(new Uint8Array(16))))],
    ["an algorithm identifier without an OID", der(seq(seq(int(1)), octets(new Uint8Array(16))))],
    ["PBKDF2 parameters without an iteration count", pbes2WithKdfParams(salt())],
    ["a negative iteration count", pbes2WithKdfParams(salt(), int(-1))],
    ["an iteration count that is not an INTEGER", pbes2WithKdfParams(salt(), octets(new Uint8Array(1)))],
    ["five PBKDF2 parameters", pbes2WithKdfParams(salt(), int(1), int(32), seq(oid(OIDS.HMAC.sha256)), int(1))],
    ["a PRF that is not an algorithm identifier", pbes2WithKdfParams(salt(), int(1), int(32), int(7))],
    ["a key length that does not fit the cipher", pbes2WithKdfParams(salt(), int(1), int(16))],
  ])("%s is malformed", (_name, blob) => {
    expect(formatError(() => parseEncryptedData(blob)).code).toBe(MALFORMED);
  });

  it.each([
    ["salt and count only (HMAC-SHA-1 default)", [int(5)], "sha1", 0],
    ["a key length, no PRF", [int(5), int(32)], "sha1", 32],
    ["a PRF, no key length", [int(5), seq(oid(OIDS.HMAC.sha512))], "sha512", 0],
  ] as const)("PBKDF2 parameters with %s", (_name, rest, digest, keyLength) => {
    const data = parseEncryptedData(pbes2WithKdfParams(salt(), ...rest));
    if (data.scheme !== "pbes2") throw new Error("expected PBES2");
    expect(data.kdf).toMatchObject({ iterations: 5, digest, keyLength });
  });

  it.each([
    ["an unknown algorithm", der(seq(seq(oid("1.2.3.4"), seq()), octets(new Uint8Array(16))))],
    ["an unknown PRF", pbes2({ prf: "1.2.840.113549.2.5" })],
    ["an unknown cipher", pbes2({ cipher: "1.2.840.113549.3.7" })],
  ])("%s is unsupported, and the message names the OID", (_name, blob) => {
    const err = formatError(() => parseEncryptedData(blob));
    expect(err.code).toBe(UNSUPPORTED);
    expect(err.message).toMatch(/\d+\.\d+\.\d+/);
  });

  it("any byte string is parsed or refused with NssPbeFormatError, never another error", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (blob) => {
        try {
          parseEncryptedData(blob);
        } catch (err) {
          expect(err).toBeInstanceOf(NssPbeFormatError);
          expect([MALFORMED, UNSUPPORTED]).toContain((err as NssPbeFormatError).code);
        }
      }),
      { numRuns: 5000, seed: FC_SEED },
    );
  });

  it("random bytes are always refused as malformed or unsupported", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (blob) => {
        expect([MALFORMED, UNSUPPORTED]).toContain(formatError(() => parseEncryptedData(blob)).code);
      }),
      { numRuns: 5000, seed: FC_SEED + 1 },
    );
  });

  it("a damaged (mutated or truncated) real blob is parsed or refused with NssPbeFormatError", () => {
    const blobs = [
      encryptPbes2(seeded(40), passKey(), { prf: "sha256" }),
      encryptPbes2(seeded(40), passKey(), { prf: undefined, ivStyle: "standard", omitKeyLength: true }),
      encryptLegacy3des(seeded(40), passKey()),
      makeMac(passKey(), 0, 0x123, seeded(16)),
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...blobs),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.option(fc.nat()),
        (blob, edits, cut) => {
          const damaged = Uint8Array.from(blob);
          for (const [at, byte] of edits) damaged[at % damaged.length] = byte;
          const input = cut === null ? damaged : damaged.subarray(0, cut % damaged.length);
          try {
            parseEncryptedData(input);
          } catch (err) {
            expect(err).toBeInstanceOf(NssPbeFormatError);
          }
        },
      ),
      { numRuns: 3000, seed: FC_SEED },
    );
  });
});
