/**
 * Card fuzzing: seeded random and mutated APDU sequences against whole cards.
 * Never an exception, every response a plausible status word (data only with
 * 9000/61xx), and memory flat. The mutation corpus is every command in the
 * golden transcripts. Counts: FUZZ_APDUS (default 1M with CI=true, 20k
 * otherwise; `npm run fuzz` runs 10M); seed: FUZZ_SEED.
 */
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import fc from "fast-check";
import { createCacCard } from "../../src/core/cac/cac-card.js";
import { memoryStore } from "../helpers/memory-store.js";
import { apduArb, plausibleSw } from "../helpers/apdu-arbitrary.js";

const TOTAL = Number(process.env.FUZZ_APDUS ?? (process.env.CI === "true" ? 1_000_000 : 20_000));
const PER_SEQUENCE = 100;
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);
/** RSS may grow this much over the run (allocator noise), not with the APDU count. */
const RSS_SLACK = 64 * 1024 * 1024;

const VECTORS = resolve(__dirname, "../vectors");
const corpus = readdirSync(VECTORS)
  .filter((f) => f.endsWith(".txt"))
  .flatMap((f) => readFileSync(join(VECTORS, f), "utf8").split("\n"))
  .filter((l) => l.startsWith(">> "))
  .map((l) => Uint8Array.from(Buffer.from(l.slice(3), "hex")));

/** A corpus APDU with one to three byte-level mutations. */
const mutated = fc
  .tuple(
    fc.integer({ min: 0, max: corpus.length - 1 }),
    fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
  )
  .map(([i, edits]) => {
    let a = Array.from(corpus[i]);
    for (const [kind, pos, value] of edits) {
      const at = a.length ? pos % a.length : 0;
      if (kind === 0 && a.length) a[at] = value; // overwrite a byte (header, Lc, data)
      else if (kind === 1 && a.length) a[at] ^= 1 << (value & 7); // flip a bit
      else if (kind === 2) a = a.slice(0, at); // truncate
      else if (kind === 3) a.splice(at, 0, value); // insert a byte
      else a = a.concat(a.slice(0, value % 8)); // extend with a repeat
    }
    return Uint8Array.from(a);
  });

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
            if (r.length < 2) throw new Error(`short response to ${Buffer.from(a).toString("hex")}`);
            const sw = (r[r.length - 2] << 8) | r[r.length - 1];
            if (!plausibleSw(sw)) throw new Error(`SW ${sw.toString(16)} for ${Buffer.from(a).toString("hex")}`);
            if (r.length > 2 && sw !== 0x9000 && sw >> 8 !== 0x61) throw new Error(`data with SW ${sw.toString(16)}`);
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
