/**
 * PIV fuzzing: seeded random and mutated PIV commands against `piv` and
 * `cac+piv` cards (EC and RSA keys). Never an exception, every response a
 * plausible status word (never 6F00), data only with 9000/61xx. FUZZ_APDUS scales it as
 * for the CAC fuzz (a tenth of it here); seed: FUZZ_SEED.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createCard } from "../../src/core/create-card.js";
import { fromHex } from "../../src/core/bytes.js";
import { apduArb } from "../helpers/apdu-arbitrary.js";
import { pivStore } from "../core/piv/piv-store.js";
import { FUZZ_APDUS, checkResponse, fuzzSeed, mutatedApdu, swOf } from "./apdu-fuzz.js";

const TOTAL = Math.ceil(FUZZ_APDUS / 10);
const PER_SEQUENCE = 50;
const SEED = fuzzSeed(0x9175);
/** Status words only the PIV application gives (libcacard never does). */
const PIV_SW = new Set([0x6e00, 0x6884, 0x6a86, 0x6982, 0x6a81, 0x6a80]);

const VERIFY = "0020008008313233343536FFFF";
const corpus = [
  "00A404000BA000000308000010000100",
  "00A4040005A000000308",
  "00CB3FFF035C017E00",
  "00CB3FFF055C035FC10200",
  "00CB3FFF055C035FC10508",
  "00CB3FFF055C035FC10900",
  "00C0000000",
  VERIFY,
  "00200080",
  "0020FF80",
  "0024008010313233343536FFFF363534333231FFFF",
  "002C008010313233343536373831323334353600",
  "0087119C267C24820081200102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F2000",
  "0087149E367C34820081300102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F3000",
  "1087079AFF7C820106820081820100" + "00".repeat(244),
  "0087079A0B" + "00".repeat(11) + "00",
  "0087009B047C02810000",
].map(fromHex);

const mutated = mutatedApdu(corpus, { minEdits: 0, extend: false });

describe("PIV card fuzz", () => {
  it(`${TOTAL} APDUs (seed ${SEED}): never throws, always a plausible SW`, async () => {
    const store = pivStore(["rsa1", "p256", "p256", "p384"], "123456");
    let total = 0;
    const faults: string[] = [];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof({ weight: 3, arbitrary: mutated }, { weight: 1, arbitrary: apduArb }), {
          minLength: PER_SEQUENCE,
          maxLength: PER_SEQUENCE,
        }),
        fc.constantFrom("piv" as const, "cac+piv" as const),
        async (apdus, personality) => {
          const card = createCard(store, { personality, warn: (m) => faults.push(m) });
          await card.powerOn();
          for (const a of apdus) {
            const r = await card.transmit(a);
            total++;
            const sw = swOf(a, r);
            // 6F00 is the card's answer to a bug: the PIV application must never reach it.
            if (sw === 0x6f00) throw new Error(`6F00 for ${Buffer.from(a).toString("hex")}: ${faults.join("; ")}`);
            checkResponse(a, r, sw, PIV_SW);
          }
        },
      ),
      { numRuns: Math.ceil(TOTAL / PER_SEQUENCE), seed: SEED },
    );
    expect(total).toBe(Math.ceil(TOTAL / PER_SEQUENCE) * PER_SEQUENCE);
    expect(faults).toEqual([]);
  }, 600_000);
});
