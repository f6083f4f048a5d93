// The closing lines of `npm test`, from vitest's JSON report: test files that
// failed without a failing test (an import that throws, a failing hook), the
// suites that were skipped, and last the line CI reads, which also names what
// was skipped and why:
//   Tests: N passed, N failed, N skipped[; skipped: SUITE (REASON); ...]
// (everything up to "skipped" keeps its old shape for parsers).
// A test file that fails to load or run counts as one failed test there, so
// that the count can never read "0 failed" for a run that lost a suite. Exits
// non-zero unless every file ran and nothing failed.
import { readFileSync } from "node:fs";
import { relative } from "node:path";

const REPORT = ".vitest-results.json";

/** The line CI parses; always printed last. `why`: what was skipped and why, if anything. */
function closingLine(passed, failed, skipped, why = []) {
  const tail = why.length > 0 ? `; skipped: ${why.join("; ")}` : "";
  console.log(`Tests: ${passed} passed, ${failed} failed, ${skipped} skipped${tail}`);
}

/**
 * A skipped suite for the closing line: the project titles a suite it skips
 * "TITLE — skipped, REASON" (test/interop/lib/scenario-suite.ts); other
 * suites are named by their file.
 */
function skipReason(suite) {
  const [file, title] = suite.split(" > ");
  const m = /^(.*?) — skipped, (.*)$/.exec(title ?? "");
  return m ? `${m[1]} (${m[2]})` : `${file} (no reason given)`;
}

let report;
try {
  report = JSON.parse(readFileSync(REPORT, "utf8"));
} catch {
  console.error(`test summary: ${REPORT} is missing or unreadable (did vitest run?)`);
  closingLine(0, 1, 0);
  process.exit(1);
}

const files = Array.isArray(report.testResults) ? report.testResults : [];
const name = (file) => relative(process.cwd(), file.name ?? "?") || file.name;
const firstLine = (text) => String(text ?? "").trim().split("\n")[0] || "no message";

let passed = 0;
let failed = 0;
let skipped = 0;
/** Files whose failure no test accounts for: they did not load, or a hook failed. */
const brokenFiles = [];
/** "file > suite" -> number of tests, for suites where nothing ran. */
const skippedSuites = new Map();

for (const file of files) {
  const tests = file.assertionResults ?? [];
  let failedHere = 0;
  const bySuite = new Map();
  for (const t of tests) {
    if (t.status === "passed") passed++;
    else if (t.status === "failed") failedHere++;
    else skipped++; // skipped, pending, todo
    const suite = `${name(file)} > ${(t.ancestorTitles ?? [])[0] ?? "(top level)"}`;
    const s = bySuite.get(suite) ?? { total: 0, skipped: 0 };
    s.total++;
    if (t.status !== "passed" && t.status !== "failed") s.skipped++;
    bySuite.set(suite, s);
  }
  failed += failedHere;
  if (file.status === "failed" && failedHere === 0) {
    failed++;
    brokenFiles.push(`${name(file)}: ${firstLine(file.message)}`);
  }
  for (const [suite, s] of bySuite) if (s.total === s.skipped) skippedSuites.set(suite, s.total);
}

if (brokenFiles.length > 0) {
  console.log(`Test files that failed to load or run (${brokenFiles.length}):`);
  for (const line of brokenFiles) console.log(`  ${line}`);
}
if (skippedSuites.size > 0) {
  // vitest's JSON report keeps no skip reason; the suite's title is where the
  // project states it (e.g. "... (pcscd not installed)").
  console.log(`Skipped suites (${skippedSuites.size}):`);
  for (const [suite, n] of skippedSuites) console.log(`  ${suite} (${n} test${n === 1 ? "" : "s"})`);
}
const why = [...skippedSuites.keys()].map(skipReason);
const loose = skipped - [...skippedSuites.values()].reduce((a, b) => a + b, 0);
if (loose > 0) why.push(`${loose} single test${loose === 1 ? "" : "s"} in suites that ran (see the vitest output)`);
closingLine(passed, failed, skipped, why);
process.exit(failed === 0 && report.success !== false && passed > 0 ? 0 : 1);
