/**
 * The shape every namespace-scenario interop suite shares: skip (or, with
 * CI=true, fail) when the tools are missing; otherwise run one bash scenario
 * inside fresh namespaces before the tests, give the tests its step results,
 * and clean up the directories it made (CACARD_KEEP_INTEROP=1 keeps the output).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BUILT_CLI,
  REPO_ROOT,
  StepResults,
  interopGate,
  runInNamespace,
  type NamespaceRunResult,
  type Prerequisites,
} from "./namespace.js";

export interface ScenarioSuiteOptions {
  readonly title: string;
  readonly prerequisites: Prerequisites;
  /** What the skip message says is needed, e.g. "pcscd, vsmartcard-vpcd, opensc and root namespaces". */
  readonly needs: string;
  /** The bash scenario; called as `scenario OUT WORK` inside the namespaces. */
  readonly scenario: string;
  /** Temp directory prefix, e.g. "cacard-opensc". */
  readonly prefix: string;
  readonly limitMs: number;
  /** Extra environment for the scenario (besides REPO, NODE_BIN and CACARD_CLI). */
  readonly env?: Readonly<Record<string, string>>;
  /** One line logged after the run (timings), given the results. */
  readonly summary?: (s: ScenarioRun) => string;
}

export interface ScenarioRun {
  readonly run: NamespaceRunResult;
  readonly r: StepResults;
  readonly out: string;
  /** Scratch directory the scenario wrote into (removed after the suite). */
  readonly work: string;
  /** Asserts that a step exited 0, showing its output otherwise. */
  ok(step: string): void;
}

export function scenarioSuite(options: ScenarioSuiteOptions, tests: (s: ScenarioRun) => void): void {
  const gate = interopGate(options.prerequisites);
  if (gate.skip) {
    describe.skip(`${options.title} — skipped, ${gate.reason}`, () => {
      it(`needs ${options.needs}`, () => {});
    });
    return;
  }
  describe(options.title, () => {
    if (gate.fail) {
      it("has its prerequisites (CI=true: missing tools are a failure)", () => {
        throw new Error(`${options.title}: prerequisites ${gate.reason}`);
      });
      return;
    }
    let out = "";
    let work = "";
    let run: NamespaceRunResult | undefined;
    let r: StepResults | undefined;
    const s: ScenarioRun = {
      get run() {
        if (!run) throw new Error("the scenario did not run");
        return run;
      },
      get r() {
        if (!r) throw new Error("the scenario did not run");
        return r;
      },
      get out() {
        return out;
      },
      get work() {
        return work;
      },
      ok(step: string) {
        expect(s.r.rc(step), s.r.describe(step)).toBe(0);
      },
    };

    beforeAll(async () => {
      if (!existsSync(BUILT_CLI)) throw new Error(`${BUILT_CLI} is missing: build first (npm test runs tsc)`);
      out = mkdtempSync(join(tmpdir(), `${options.prefix}-out-`));
      work = mkdtempSync(join(tmpdir(), `${options.prefix}-work-`));
      run = await runInNamespace({
        script: options.scenario,
        args: [out, work],
        env: { ...options.env, REPO: REPO_ROOT, NODE_BIN: process.execPath, CACARD_CLI: BUILT_CLI },
        timeoutMs: options.limitMs,
      });
      r = new StepResults(out);
      if (options.summary) console.log(`${options.summary(s)}; output ${out}`);
    }, options.limitMs + 30_000);

    afterAll(() => {
      if (work) rmSync(work, { recursive: true, force: true });
      if (out && process.env.CACARD_KEEP_INTEROP !== "1") rmSync(out, { recursive: true, force: true });
    });

    it("runs the whole scenario inside its namespace within the time limit", () => {
      expect(s.run.timedOut, s.run.stderr).toBe(false);
      expect(s.run.code, s.run.stderr).toBe(0);
      expect(s.run.stderr).toContain("scenario done");
      expect(s.run.durationMs).toBeLessThan(options.limitMs);
    });

    tests(s);
  });
}
