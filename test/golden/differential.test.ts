/**
 * Differential test against the real libcacard: the same seeded random APDU
 * sequences go to Debian's libcacard 2.8.0 (test/harness/cacard-ref) and to
 * the TypeScript card in libcacard-strict mode, and every response must be
 * identical. Needs libcacard-dev; with CI=true its absence is a failure.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import fc from "fast-check";
import { openKeyStore } from "../../src/tokens/open.js";
import { createCacCard } from "../../src/core/cac/cac-card.js";
import { toHex } from "../../src/core/bytes.js";
import { apduArb } from "../helpers/apdu-arbitrary.js";

const ROOT = resolve(__dirname, "../..");
const build = spawnSync("bash", [join(ROOT, "test/harness/build.sh")], { encoding: "utf8" });
const REF = build.status === 0 ? build.stdout.trim().split("\n").pop()! : undefined;
const CI = process.env.CI === "true";
const SEQUENCES = 40;
const PER_SEQUENCE = CI ? 250 : 100;

// A skipped suite says why in its title (test/summary.mjs prints it on npm test's last line).
const TITLE = "differential: libcacard 2.8.0 vs cacard";
describe.skipIf(!REF && !CI)(!REF && !CI ? `${TITLE} — skipped, libcacard-dev not installed (the reference runner does not build)` : TITLE, () => {
  it("the reference runner builds", () => {
    expect(build.stderr.trim() || "ok").toBe("ok");
    expect(REF).toBeDefined();
  });

  for (const db of ["nssdb", "nssdb-pw"]) {
    it(`${SEQUENCES} random sequences of ${PER_SEQUENCE} APDUs on ${db}`, async () => {
      const dir = join(ROOT, "certs-sample", db);
      const store = await openKeyStore({ db: dir, nicknames: ["cert1", "cert2", "cert3"] });
      const sequences = fc.sample(fc.array(apduArb, { minLength: PER_SEQUENCE, maxLength: PER_SEQUENCE }), {
        numRuns: SEQUENCES,
        seed: 0xcacad + db.length,
      });
      // One libcacard process for all sequences: "!reset" between them, as the
      // TypeScript side starts a fresh card (the Windows compat bit is sticky
      // in both, so each sequence gets its own card and its own ref process).
      for (const [n, all] of sequences.entries()) {
        // An empty APDU is a blank line in the line protocol, which both sides skip.
        const seq = all.filter((a) => a.length > 0);
        const input = seq.map((a) => toHex(a)).join("\n") + "\n";
        const ref = spawnSync(REF!, [dir], { input, encoding: "utf8", maxBuffer: 64 << 20, timeout: 60_000 });
        expect(ref.status, ref.stderr).toBe(0);
        const expected = ref.stdout.trim().split("\n");
        const card = createCacCard(store, { libcacardStrict: true });
        await card.powerOn();
        for (const [i, a] of seq.entries()) {
          const got = toHex(await card.transmit(a));
          if (got !== expected[i]) {
            const context = seq.slice(Math.max(0, i - 8), i + 1).map((x, k) => `  ${toHex(x)} -> ${expected[Math.max(0, i - 8) + k]}`);
            expect.fail(`sequence ${n}, APDU ${i}: ${toHex(a)}\n libcacard: ${expected[i]}\n cacard:    ${got}\n${context.join("\n")}`);
          }
        }
      }
    }, 300_000);
  }
});
