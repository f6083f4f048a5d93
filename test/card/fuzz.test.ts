/**
 * Random and structured APDU sequences against a whole card: transmit never
 * throws, and every response is at least a status word the card can produce.
 * CI runs 100k APDUs (1000 sequences of 100); locally 20k.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createCacCard } from "../../src/cac/cac-card.js";
import { memoryStore } from "../helpers/memory-store.js";
import { apduArb, plausibleSw } from "../helpers/apdu-arbitrary.js";

const SEQUENCES = process.env.CI ? 1000 : 200;
const PER_SEQUENCE = 100;

describe("card fuzz", () => {
  it(`${SEQUENCES * PER_SEQUENCE} APDUs: never throws, always a plausible status word`, () => {
    const store = memoryStore({ password: "12345678" });
    let total = 0;
    fc.assert(
      fc.property(fc.array(apduArb, { minLength: PER_SEQUENCE, maxLength: PER_SEQUENCE }), fc.boolean(), (apdus, strict) => {
        const card = createCacCard(store, { libcacardStrict: strict });
        card.powerOn();
        for (const a of apdus) {
          const r = card.transmit(a);
          total++;
          if (r.length < 2) throw new Error(`short response to ${Buffer.from(a).toString("hex")}`);
          const sw = (r[r.length - 2] << 8) | r[r.length - 1];
          if (!plausibleSw(sw)) throw new Error(`SW ${sw.toString(16)} for ${Buffer.from(a).toString("hex")}`);
          // Data only ever comes with 9000 or 61xx (GET RESPONSE continuation) or 63Cx... never with errors.
          if (r.length > 2 && sw !== 0x9000 && sw >> 8 !== 0x61) throw new Error(`data with SW ${sw.toString(16)}`);
        }
      }),
      { numRuns: SEQUENCES, seed: Number(process.env.FUZZ_SEED ?? 0x5eed) },
    );
    expect(total).toBe(SEQUENCES * PER_SEQUENCE);
  }, 300_000);
});
