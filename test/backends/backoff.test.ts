import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { backoffDelay } from "../../src/backends/backoff.js";
import { VPCD_DEFAULT_BACKOFF } from "../../src/backends/vpcd/client.js";
import { VSCARD_DEFAULT_BACKOFF } from "../../src/backends/vscard/client.js";

describe("backoffDelay", () => {
  it("doubles from vpcd's 100 ms to its 5 s ceiling without jitter", () => {
    const policy = { ...VPCD_DEFAULT_BACKOFF, jitter: 0 };
    expect([0, 1, 2, 3, 4, 5, 6, 7, 100].map((a) => backoffDelay(a, policy))).toEqual([
      100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000,
    ]);
  });

  it("doubles from VSCard's 250 ms to its 10 s ceiling without jitter", () => {
    const policy = { ...VSCARD_DEFAULT_BACKOFF, jitter: 0 };
    expect([0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, policy))).toEqual([250, 500, 1000, 2000, 4000, 8000, 10_000]);
  });

  it("keeps jitter within [(1 - j) d, d]", () => {
    expect(backoffDelay(0, VPCD_DEFAULT_BACKOFF, () => 0)).toBe(100);
    expect(backoffDelay(0, VPCD_DEFAULT_BACKOFF, () => 0.999999)).toBe(80);
    expect(backoffDelay(10, VPCD_DEFAULT_BACKOFF, () => 0.5)).toBe(4500);
    const opts = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.5 };
    expect(backoffDelay(3, opts, () => 0)).toBe(800);
    expect(backoffDelay(3, opts, () => 0.999999)).toBe(400);
    fc.assert(
      fc.property(fc.nat(1000), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (a, r) => {
        const d = backoffDelay(a, VPCD_DEFAULT_BACKOFF, () => r);
        expect(d).toBeGreaterThanOrEqual(80);
        expect(d).toBeLessThanOrEqual(5000);
      }),
    );
  });

  it("clamps odd inputs: negative attempts, huge attempts, jitter outside [0, 1]", () => {
    const policy = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 };
    expect(backoffDelay(-3, policy)).toBe(100);
    expect(backoffDelay(1e9, policy)).toBe(1000);
    expect(backoffDelay(0, { ...policy, jitter: 7 }, () => 0.5)).toBe(50);
    expect(backoffDelay(0, { ...policy, jitter: -1 }, () => 0.5)).toBe(100);
  });
});
