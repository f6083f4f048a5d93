/**
 * What the card fuzzers (card-apdus, piv-apdus) share: the APDU budget, byte-level
 * mutations of a corpus, and the checks every response must pass.
 */
import fc from "fast-check";
import { plausibleSw } from "../helpers/apdu-arbitrary.js";

/** FUZZ_APDUS, by default 1M with CI=true and 20k otherwise. */
export const FUZZ_APDUS = Number(process.env.FUZZ_APDUS ?? (process.env.CI === "true" ? 1_000_000 : 20_000));

/** FUZZ_SEED, or the fuzzer's own default. */
export function fuzzSeed(fallback: number): number {
  return Number(process.env.FUZZ_SEED ?? fallback);
}

export interface MutationOptions {
  /** The fewest edits per APDU (0: some come through unchanged). */
  readonly minEdits: number;
  /** Also "extend with a repeat of the first bytes" (otherwise inserts take its share). */
  readonly extend: boolean;
}

/**
 * A corpus APDU with up to three byte-level edits: overwrite a byte (header, Lc,
 * data), flip a bit, truncate, insert a byte, and with `extend`, append a repeat.
 */
export function mutatedApdu(corpus: readonly Uint8Array[], options: MutationOptions): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(
      fc.integer({ min: 0, max: corpus.length - 1 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: options.extend ? 4 : 3 }), fc.nat(), fc.integer({ min: 0, max: 255 })), {
        minLength: options.minEdits,
        maxLength: 3,
      }),
    )
    .map(([i, edits]) => {
      let a = Array.from(corpus[i]);
      for (const [kind, pos, value] of edits) {
        const at = a.length ? pos % a.length : 0;
        if (kind === 0 && a.length) a[at] = value;
        else if (kind === 1 && a.length) a[at] ^= 1 << (value & 7);
        else if (kind === 2) a = a.slice(0, at);
        else if (kind === 3 || !options.extend) a.splice(at, 0, value);
        else a = a.concat(a.slice(0, value % 8));
      }
      return Uint8Array.from(a);
    });
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** The status word ending `response` to `apdu`; throws when the response is too short for one. */
export function swOf(apdu: Uint8Array, response: Uint8Array): number {
  if (response.length < 2) throw new Error(`short response to ${hex(apdu)}`);
  return (response[response.length - 2] << 8) | response[response.length - 1];
}

/** Throws unless `sw` is plausible (or one of `alsoAllowed`) and data comes only with 9000/61xx. */
export function checkResponse(apdu: Uint8Array, response: Uint8Array, sw: number, alsoAllowed?: ReadonlySet<number>): void {
  if (!plausibleSw(sw) && !alsoAllowed?.has(sw)) throw new Error(`SW ${sw.toString(16)} for ${hex(apdu)}`);
  if (response.length > 2 && sw !== 0x9000 && sw >> 8 !== 0x61) throw new Error(`data with SW ${sw.toString(16)}`);
}
