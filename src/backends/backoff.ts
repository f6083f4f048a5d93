/**
 * Reconnect delays shared by the backends (vpcd and VSCard): capped
 * exponential backoff with jitter, so that many cards losing one host at the
 * same moment (pcscd or QEMU restarting) do not all knock at the same instant.
 * Each backend keeps its own default policy; the arithmetic is this one.
 */

export interface BackoffPolicy {
  /** First delay in ms. */
  readonly initialMs: number;
  /** Ceiling in ms. */
  readonly maxMs: number;
  /** Growth per failed attempt. */
  readonly factor: number;
  /** Fraction of the delay that is randomised away (0 = none, 1 = "full jitter"). */
  readonly jitter: number;
}

/** Past this many doublings every policy is at its ceiling; the cap keeps pow() finite. */
const MAX_EXPONENT = 64;

/**
 * Delay before reconnect attempt number `attempt` (0 = first retry).
 * `random` returns [0, 1); the result lies in [(1 - jitter) * d, d] where d
 * is the capped exponential delay.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.min(attempt, MAX_EXPONENT));
  const base = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.factor, exponent));
  const jitter = Math.min(Math.max(policy.jitter, 0), 1);
  return Math.round(base * (1 - jitter * random()));
}
