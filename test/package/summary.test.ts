/**
 * test/summary.mjs, the closing lines of `npm test`: the last line keeps its
 * "Tests: N passed, N failed, N skipped" start and names what was skipped
 * and why. Fed synthetic vitest JSON reports in a scratch directory.
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const SUMMARY = resolve(__dirname, "../summary.mjs");
const scratch = mkdtempSync(join(tmpdir(), "cacard-summary-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function summarise(testResults: unknown[]) {
  writeFileSync(join(scratch, ".vitest-results.json"), JSON.stringify({ success: true, testResults }));
  const r = spawnSync(process.execPath, [SUMMARY], { cwd: scratch, encoding: "utf8", timeout: 20_000 });
  const lines = r.stdout.trim().split("\n");
  return { code: r.status, last: lines[lines.length - 1], out: r.stdout };
}

const t = (status: string, suite: string) => ({ status, ancestorTitles: [suite] });
const PARSEABLE = /^Tests: (\d+) passed, (\d+) failed, (\d+) skipped/;

describe("npm test's last line", () => {
  it("names each skipped suite with its reason", () => {
    const r = summarise([
      { name: join(scratch, "a.test.ts"), status: "passed", assertionResults: [t("passed", "a"), t("passed", "a")] },
      {
        name: join(scratch, "coolkey.test.ts"),
        status: "passed",
        assertionResults: [t("skipped", "CoolKey via pcscd + vpcd — skipped, missing: /usr/lib/pkcs11/libcoolkeypk11.so")],
      },
      { name: join(scratch, "b.test.ts"), status: "passed", assertionResults: [t("passed", "b"), t("skipped", "b")] },
    ]);
    expect(r.code).toBe(0);
    expect(r.last).toMatch(PARSEABLE);
    expect(PARSEABLE.exec(r.last)!.slice(1)).toEqual(["3", "0", "2"]);
    expect(r.last).toBe(
      "Tests: 3 passed, 0 failed, 2 skipped; skipped: CoolKey via pcscd + vpcd (missing: /usr/lib/pkcs11/libcoolkeypk11.so); " +
        "1 single test in suites that ran (see the vitest output)",
    );
  });

  it("stays the bare counts when nothing was skipped", () => {
    const r = summarise([{ name: join(scratch, "a.test.ts"), status: "passed", assertionResults: [t("passed", "a")] }]);
    expect(r.last).toBe("Tests: 1 passed, 0 failed, 0 skipped");
  });

  it("a skipped suite without a reason in its title is named by its file", () => {
    const r = summarise([
      { name: join(scratch, "a.test.ts"), status: "passed", assertionResults: [t("passed", "a")] },
      { name: join(scratch, "c.test.ts"), status: "passed", assertionResults: [t("skipped", "c")] },
    ]);
    expect(r.last).toBe("Tests: 1 passed, 0 failed, 1 skipped; skipped: c.test.ts (no reason given)");
  });
});
