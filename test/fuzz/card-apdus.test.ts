/**
 * Card fuzzing: seeded random and mutated APDU sequences against whole cards.
 * Never an exception, every response a plausible status word (data only with
 * 9000/61xx), and memory flat. The mutation corpus is every command in the
 * golden transcripts. Counts: FUZZ_APDUS (default 1M with CI=true, 20k
 * otherwise; `npm run fuzz` runs 10M); seed: FUZZ_SEED.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createCacCard } from "../../src/core/cac/cac-card.js";
import { memoryStore } from "../helpers/memory-store.js";
import { apduArb } from "../helpers/apdu-arbitrary.js";
import { loadApduCorpus } from "./frames-common.js";
import { FUZZ_APDUS, checkResponse, fuzzSeed, mutatedApdu, swOf } from "./apdu-fuzz.js";

const TOTAL = FUZZ_APDUS;
const PER_SEQUENCE = 100;
const SEED = fuzzSeed(0x5eed);
/** RSS may grow this much over the run (allocator noise), not with the APDU count. */
const RSS_SLACK = 64 * 1024 * 1024;

/** A corpus APDU (every command of the golden transcripts) with one to three byte-level mutations. */
const mutated = mutatedApdu(loadApduCorpus(), { minEdits: 1, extend: true });

const anyApdu = fc.oneof({ weight: 2, arbitrary: apduArb }, { weight: 1, arbitrary: mutated });

describe("card fuzz", () => {
  it(`${TOTAL} APDUs (seed ${SEED}): never throws, always a plausible SW, memory flat`, async () => {
    const stores = [memoryStore({ password: "12345678" }), memoryStore()];
    let total = 0;
    let rssAfterWarmup = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(anyApdu, { minLength: PER_SEQUENCE, maxLength: PER_SEQUENCE }),
        fc.boolean(),
        fc.boolean(),
        async (apdus, strict, password) => {
          const card = createCacCard(stores[password ? 0 : 1], { libcacardStrict: strict });
          await card.powerOn();
          for (const a of apdus) {
            const r = await card.transmit(a);
            total++;
            checkResponse(a, r, swOf(a, r));
          }
          if (total === 10_000) rssAfterWarmup = process.memoryUsage().rss;
        },
      ),
      { numRuns: Math.ceil(TOTAL / PER_SEQUENCE), seed: SEED },
    );
    expect(total).toBe(Math.ceil(TOTAL / PER_SEQUENCE) * PER_SEQUENCE);
    if (rssAfterWarmup) expect(process.memoryUsage().rss - rssAfterWarmup).toBeLessThan(RSS_SLACK);
  }, 3_600_000);
});
