/**
 * Fault: pcscd is SIGKILLed in the middle of an OpenSC session while
 * `cacard vpcd` is connected, and restarted a few seconds later. cacard must
 * notice, retry with growing (capped, jittered) delays, reconnect, and serve
 * OpenSC again: `opensc-tool -n` and a pkcs11-tool signature that openssl
 * verifies. Real pcscd + vsmartcard-vpcd in private namespaces
 * (pcscd-restart.sh); ~20 s.
 *
 * Skips when the tools are missing, unless CI=true, where that is a failure.
 * CACARD_KEEP_INTEROP=1 keeps the output directory.
 */
import { expect, it } from "vitest";
import { resolve } from "node:path";
import { scenarioSuite } from "../lib/scenario-suite.js";
import { VPCD_DEFAULT_BACKOFF as DEFAULT_BACKOFF } from "../../../src/backends/vpcd/client.js";

const VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
const SCENARIO = resolve(__dirname, "pcscd-restart.sh");
const RUN_LIMIT_MS = 120_000;

scenarioSuite(
  {
    title: "fault: pcscd killed mid-session and restarted (cacard vpcd reconnects)",
    prerequisites: { tools: ["pcscd", "opensc-tool", "pkcs11-tool", "openssl", "ip", "timeout"], files: [VPCD_DRIVER], namespaces: true },
    needs: "pcscd, vsmartcard-vpcd, opensc and root namespaces",
    scenario: SCENARIO,
    prefix: "cacard-fault-pcscd",
    limitMs: RUN_LIMIT_MS,
    summary: (s) =>
      `[pcscd fault] ${(s.run.durationMs / 1000).toFixed(1)} s; killed after ${s.r.note("apdus_before_kill")} APDUs; ` +
      `card back ${(Number(s.r.note("reinserted_at")) - Number(s.r.note("restarted_at"))).toFixed(2)} s after the restart; ` +
      `sign ${s.r.seconds("after_sign")} s`,
  },
  (s) => {
    const cacardLog = () => s.r.file("cacard.log");

    it("pcscd was SIGKILLed while an OpenSC session was running", () => {
      s.ok("before_name");
      expect(s.r.note("pcscd_kill_status")).toBe("137"); // 128 + SIGKILL
      expect(s.r.note("victim_done_before_kill")).toBe("no");
      expect(Number(s.r.note("apdus_before_kill"))).toBeGreaterThanOrEqual(40);
      // The interrupted session failed (or was cut short); it did not hang past its limit.
      expect(s.r.rc("victim")).not.toBe(124);
      expect(s.r.rc("victim")).not.toBe(0);
    });

    it("cacard noticed the drop and retried with growing delays, within the backoff policy", () => {
      const log = cacardLog();
      const dropped = log.indexOf("card 0: disconnected (closed by vpcd)");
      expect(dropped, log).toBeGreaterThan(0);
      const after = log.slice(dropped);
      // --verbose: every attempt and every scheduled retry.
      const delays = [...after.matchAll(/card 0: retry in (\d+) ms/g)].map((m) => Number(m[1]));
      const attempts = [...after.matchAll(/card 0: connecting to 127\.0\.0\.1:35963 \(attempt (\d+)\)/g)].map((m) => Number(m[1]));
      expect(after).toMatch(/card 0: disconnected \(connect failed \(ECONNREFUSED\)\)/);
      // A 2+ s outage: 100, 200, 400, 800 ms (each up to 20 % less), ... = at least 4 retries.
      expect(delays.length, after).toBeGreaterThanOrEqual(4);
      delays.forEach((d, k) => {
        const base = Math.min(DEFAULT_BACKOFF.maxMs, DEFAULT_BACKOFF.initialMs * DEFAULT_BACKOFF.factor ** k);
        expect(d, `retry ${k}`).toBeLessThanOrEqual(base);
        expect(d, `retry ${k}`).toBeGreaterThanOrEqual(Math.floor(base * (1 - DEFAULT_BACKOFF.jitter)));
      });
      expect(Math.max(...delays)).toBeLessThanOrEqual(DEFAULT_BACKOFF.maxMs);
      // Attempts count up while refused (the count of failures since the last good session).
      expect(attempts.slice(0, 4)).toEqual([1, 2, 3, 4]);
      expect(attempts.length).toBe(delays.length);
      expect(log.match(/connected to vpcd at 127\.0\.0\.1:35963/g)?.length).toBeGreaterThanOrEqual(2);
      expect(log).not.toMatch(/Error:|at .*\.js:\d+/); // no stack trace
    });

    it("the card is back: opensc-tool -n and a pkcs11-tool signature that openssl verifies", () => {
      s.ok("after_name");
      expect(s.r.out("after_name").trim()).toBe("Common Access Card (CAC)");
      s.ok("after_sign");
      s.ok("after_verify");
      expect(s.r.out("after_verify")).toContain("Verified OK");
      expect(s.r.file("pcscd2.log")).toContain("Card inserted into Virtual PCD 00 00");
    });

    it("cacard vpcd still exits 0 on SIGTERM", () => {
      expect(s.r.note("cacard_exit")).toBe("0");
      expect(cacardLog()).toContain("cacard vpcd: stopped");
    });
  },
);
