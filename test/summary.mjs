// Prints the plain closing line CI readers look for ("N passed, N failed,
// N skipped") from vitest's JSON report, and exits non-zero unless every test
// file ran and nothing failed. `npm test` runs it after vitest.
import { readFileSync } from "node:fs";

const REPORT = ".vitest-results.json";
let report;
try {
  report = JSON.parse(readFileSync(REPORT, "utf8"));
} catch {
  console.log("0 passed, 1 failed");
  console.error(`test summary: ${REPORT} is missing or unreadable (did vitest run?)`);
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
const failed = (report.numFailedTests ?? 0) + (report.numFailedTestSuites ?? 0);
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`Tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed === 0 && report.success !== false && passed > 0 ? 0 : 1);
