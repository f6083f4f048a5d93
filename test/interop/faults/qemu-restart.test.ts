/**
 * Fault: real QEMU (guest-less, -S, like test/interop/qemu) is SIGKILLed while
 * `cacard vscard --connect` is attached, and started again on the same port.
 * cacard must report the drop, retry with growing capped delays, reconnect,
 * and QEMU must accept its ReaderAdd and ATR again (cacard's "reader 0
 * attached" / "card inserted", and QEMU's own passthru debug log). Runs in
 * private namespaces (qemu-restart.sh); ~10 s.
 *
 * Skips when QEMU is missing, unless CI=true, where that is a failure.
 * CACARD_KEEP_INTEROP=1 keeps the output directory.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  BUILT_CLI,
  REPO_ROOT,
  StepResults,
  findExecutable,
  interopGate,
  runInNamespace,
  type NamespaceRunResult,
} from "../lib/namespace.js";

const QEMU = "qemu-system-x86_64";
const SCENARIO = resolve(__dirname, "qemu-restart.sh");
const RUN_LIMIT_MS = 90_000;
/** What the scenario passes: --retry-initial-ms 100 --retry-max-ms 1000 (jitter 50 %, the default). */
const INITIAL_MS = 100;
const MAX_MS = 1000;
const JITTER = 0.5;

const gate = interopGate({ tools: [QEMU, "ip", "timeout", "awk"], namespaces: true });
const title = "fault: QEMU killed and restarted on the same port (cacard vscard reconnects)";

if (gate.skip) {
  describe.skip(`${title} — skipped, ${gate.reason}`, () => {
    it("needs qemu-system-x86_64 and root namespaces", () => {});
  });
} else {
  describe(title, () => {
    if (gate.fail) {
      it("has its prerequisites (CI=true: missing tools are a failure)", () => {
        throw new Error(`QEMU fault prerequisites ${gate.reason}`);
      });
      return;
    }

    let out = "";
    let work = "";
    let run: NamespaceRunResult;
    let r: StepResults;
    let lines: string[] = [];

    beforeAll(async () => {
      if (!existsSync(BUILT_CLI)) throw new Error(`${BUILT_CLI} is missing: build first (npm test runs tsc)`);
      out = mkdtempSync(join(tmpdir(), "cacard-fault-qemu-out-"));
      work = mkdtempSync(join(tmpdir(), "cacard-fault-qemu-work-"));
      run = await runInNamespace({
        script: SCENARIO,
        args: [out, work],
        env: { REPO: REPO_ROOT, NODE_BIN: process.execPath, CACARD_CLI: BUILT_CLI, QEMU_BIN: findExecutable(QEMU) ?? QEMU },
        timeoutMs: RUN_LIMIT_MS,
      });
      r = new StepResults(out);
      lines = r.file("cacard.log").split("\n");
      console.log(
        `[qemu fault] ${(run.durationMs / 1000).toFixed(1)} s; card back ` +
          `${(Number(r.note("reinserted_at")) - Number(r.note("restarted_at"))).toFixed(2)} s after the restart; output ${out}`,
      );
    }, RUN_LIMIT_MS + 30_000);

    afterAll(() => {
      if (work) rmSync(work, { recursive: true, force: true });
      if (out && process.env.CACARD_KEEP_INTEROP !== "1") rmSync(out, { recursive: true, force: true });
    });

    /** Index of the first line matching re at or after `from`. */
    const find = (re: RegExp, from = 0) => lines.findIndex((l, i) => i >= from && re.test(l));

    it("runs inside its namespace within the time limit", () => {
      expect(run.timedOut, run.stderr).toBe(false);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toContain("scenario done");
      expect(r.note("qemu_args")).toMatch(/^socket,id=ccid0,host=127\.0\.0\.1,port=35971,server=on,wait=off,nodelay=on$/m);
    });

    it("the first QEMU took ReaderAdd and the ATR, then died by SIGKILL", () => {
      const attached = find(/^cacard vscard: reader 0 attached name="cacard"$/);
      expect(attached, r.file("cacard.log")).toBeGreaterThanOrEqual(0);
      expect(find(/^cacard vscard: card inserted reader=0 atr=3B7A18000073667465206364313434$/, attached)).toBeGreaterThan(attached);
      expect(r.file("qemu1.log")).toContain("VSC_ATR 15");
      expect(r.file("qemu1.log")).toContain("atr passes check");
      expect(r.note("qemu_kill_status")).toBe("137");
      expect(r.note("port_free_during_outage")).toBe("yes");
    });

    it("cacard reported the drop and retried with growing, capped delays", () => {
      const dropped = find(/^cacard vscard: disconnected 127\.0\.0\.1:35971 reason=/);
      expect(dropped, r.file("cacard.log")).toBeGreaterThan(0);
      const back = find(/^cacard vscard: connected 127\.0\.0\.1:35971 tls=off$/, dropped);
      expect(back).toBeGreaterThan(dropped);
      const outage = lines.slice(dropped, back);
      expect(outage.filter((l) => /connect failed 127\.0\.0\.1:35971 reason=".*ECONNREFUSED/.test(l)).length).toBeGreaterThanOrEqual(3);
      const retries = outage
        .map((l) => /^cacard vscard: retrying in (\d+) ms attempt=(\d+)$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ ms: Number(m[1]), attempt: Number(m[2]) }));
      expect(retries.length).toBeGreaterThanOrEqual(4);
      // After a session that worked the count starts again at 0; each refusal adds one.
      expect(retries.map((x) => x.attempt)).toEqual(retries.map((_, i) => i));
      for (const { ms, attempt } of retries) {
        const base = Math.min(MAX_MS, INITIAL_MS * 2 ** Math.max(0, attempt - 1));
        expect(ms, `attempt ${attempt}`).toBeLessThanOrEqual(base);
        expect(ms, `attempt ${attempt}`).toBeGreaterThanOrEqual(Math.floor(base * (1 - JITTER)));
      }
    });

    it("the restarted QEMU accepted ReaderAdd and the ATR again", () => {
      const dropped = find(/^cacard vscard: disconnected /);
      const again = find(/^cacard vscard: connected 127\.0\.0\.1:35971 tls=off$/, dropped);
      // Same handshake as the first time: Init both ways, ReaderRemove(0) cleanup, ReaderAdd, ATR.
      const order = [/tx Init/, /rx Init/, /host init version=2/, /tx ReaderRemove reader=0/, /tx ReaderAdd/, /rx Error reader=0 code=0/, /reader 0 attached/, /tx ATR reader=0 15 bytes/, /card inserted reader=0/];
      let at = again;
      for (const re of order) {
        const i = find(re, at + 1);
        expect(i, `${re} after line ${at}:\n${lines.slice(again).join("\n")}`).toBeGreaterThan(at);
        at = i;
      }
      expect(lines.filter((l) => /card inserted reader=0/.test(l))).toHaveLength(2);
      expect(r.file("qemu2.log")).toContain("atr passes check");
      expect(lines.filter((l) => /warning|protocol error/.test(l))).toEqual([]);
    });

    it("cacard vscard exits 0 on SIGTERM after all that", () => {
      expect(r.note("cacard_exit")).toBe("0");
      expect(lines).toContain("cacard vscard: stopped");
    });
  });
}
