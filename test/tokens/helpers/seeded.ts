/**
 * Deterministic "random" bytes for the key store tests: SHA-256 in counter
 * mode over a label, so every run feeds the same operands, salts and IVs and
 * a failure can be replayed (no unseeded randomness in tests).
 */
import { createHash } from "node:crypto";

const BLOCK_BYTES = 32;

/** A stream of bytes determined by `label` alone. */
export class SeededBytes {
  #counter = 0;
  #pool = new Uint8Array(0);
  #at = 0;

  constructor(private readonly label: string) {}

  /** The next `length` bytes of the stream. */
  next(length: number): Uint8Array {
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      if (this.#at === this.#pool.length) {
        this.#pool = new Uint8Array(createHash("sha256").update(`${this.label}/${this.#counter++}`).digest());
        this.#at = 0;
      }
      const n = Math.min(length - filled, this.#pool.length - this.#at);
      out.set(this.#pool.subarray(this.#at, this.#at + n), filled);
      filled += n;
      this.#at += n;
    }
    return out;
  }
}

/** `length` bytes determined by `label`: the same on every run. */
export function seededBytes(length: number, label: string): Uint8Array {
  return new SeededBytes(label).next(length);
}

/**
 * The fast-check settings of this suite: a fixed seed, so the generated
 * cases are the same on every run.
 */
export const FC_SEED = 0x5eed_cac;
