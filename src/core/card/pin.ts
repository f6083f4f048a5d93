/**
 * PIN retry counter. libcacard has none (a wrong PIN is 6985 forever), so by
 * default this does nothing; with a policy a wrong PIN counts down (63Cx) and
 * blocks (6983), which stops a guest from brute-forcing the DB password.
 */
export interface PinPolicy {
  /** Wrong PINs allowed before the PIN blocks (1-15). */
  readonly maxTries: number;
}

export class PinState {
  #left: number | undefined;

  constructor(readonly policy?: PinPolicy) {
    this.#left = policy?.maxTries;
  }

  /** Tries left, or undefined without a policy. */
  get triesLeft(): number | undefined {
    return this.#left;
  }

  get blocked(): boolean {
    return this.#left === 0;
  }

  succeeded(): void {
    if (this.policy) this.#left = this.policy.maxTries;
  }

  /** Records a wrong PIN; returns the tries left (undefined without a policy). */
  failed(): number | undefined {
    if (this.#left === undefined) return undefined;
    if (this.#left > 0) this.#left--;
    return this.#left;
  }
}

/** The outcome of checking a PIN against the card's one PIN. */
export type PinCheck =
  | { readonly ok: true }
  /** Wrong PIN; `triesLeft` undefined without a retry counter (libcacard). */
  | { readonly ok: false; readonly blocked: false; readonly triesLeft: number | undefined }
  /** Blocked: nothing was compared. */
  | { readonly ok: false; readonly blocked: true };

export interface PinStatus {
  /** The token is logged in (or needs no PIN). */
  readonly verified: boolean;
  readonly blocked: boolean;
  /** Undefined without a retry counter. */
  readonly triesLeft: number | undefined;
}
