/** Issue 16 item 2: the rate limit for peer-caused log lines, on a fake clock. */
import { describe, expect, it } from "vitest";
import { WARNING_BURST, WarningLimiter } from "../../src/util/rate-limit.js";

describe("WarningLimiter", () => {
  it("lets WARNING_BURST lines of a kind through per window, then summarises the rest once", () => {
    let now = 1_000;
    const lines: string[] = [];
    const limiter = new WarningLimiter((l) => lines.push(l), { windowMs: 10_000, now: () => now });
    for (let i = 0; i < 100_000; i++) limiter.warn("odd frames", `odd frame ${i}`);
    limiter.warn("other", "other 0");
    expect(lines).toEqual([...Array.from({ length: WARNING_BURST }, (_, i) => `odd frame ${i}`), "other 0"]);
    now += 10_000;
    limiter.warn("odd frames", "odd frame again");
    expect(lines.slice(-2)).toEqual([`${100_000 - WARNING_BURST} more odd frames suppressed (100000 in 10 s)`, "odd frame again"]);
    limiter.flush();
    expect(lines).toHaveLength(WARNING_BURST + 3);
  });

  it("admit() counts for callers that print their own way; flush() reports what is left", () => {
    const lines: string[] = [];
    const limiter = new WarningLimiter((l) => lines.push(l), { burst: 1, now: () => 0 });
    expect([limiter.admit("k"), limiter.admit("k"), limiter.admit("k")]).toEqual([true, false, false]);
    limiter.flush();
    expect(lines).toEqual(["2 more k suppressed (3 in 1 s)"]);
  });
});
