/**
 * The vpcd section: bench/vpcd/scenario.sh in private namespaces (root,
 * unshare, pcscd, vsmartcard-vpcd, OpenSC and libpcsclite's headers needed;
 * skipped with a note otherwise). See docs/performance.md for what it found.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BENCH_DIR, CLI, ROOT } from "./paths.js";
import { buildC } from "./native.js";
import { median } from "./stats.js";

export interface VpcdCase {
  readonly tag: string;
  readonly impl: string;
  readonly route: "default" | "quickack";
  /** pkcs15-tool -D wall time, ms, every run; NaN entries = failed runs. */
  readonly p15Ms: number[];
  readonly p15MedianMs: number;
  readonly p15Failures: number;
  /** Per-APDU round trip through pcscd (SCardTransmit), µs. */
  readonly rtt: { median: number; p10: number; p90: number; n: number } | null;
  readonly error?: string;
}

export type VpcdResult =
  | { available: false; reason: string }
  | {
      available: true;
      cases: VpcdCase[];
      apdusPerDump: { cacard: number | null; libcacard: number | null };
      routeDefault: string;
      routeQuickack: string;
      notes: string[];
    };

const VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";

function onPath(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd} || test -x /usr/sbin/${cmd}`], { stdio: "ignore" }).status === 0;
}

function missing(): string[] {
  const out: string[] = [];
  if (process.getuid?.() !== 0) out.push("root (namespaces, tmpfs on /run/pcscd, ip route)");
  for (const tool of ["unshare", "pcscd", "pkcs15-tool", "ip", "timeout"]) if (!onPath(tool)) out.push(tool);
  if (!existsSync(VPCD_DRIVER)) out.push(`${VPCD_DRIVER} (vsmartcard-vpcd)`);
  if (out.length === 0) {
    const probe = spawnSync("unshare", ["--net", "--mount", "--pid", "--fork", "--mount-proc", "true"], { timeout: 10_000, stdio: "ignore" });
    if (probe.status !== 0) out.push("permission to create namespaces");
  }
  return out;
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

export async function runVpcd(options: { db: string; p15Runs: number; rttSlow: number; rttFast: number }): Promise<VpcdResult> {
  const lacking = missing();
  if (lacking.length > 0) return { available: false, reason: `missing: ${lacking.join(", ")}` };
  const bridge = buildC("vpcd-libcacard", "libcacard/vpcd-libcacard.c", ["libcacard"]);
  if (!bridge.ok) return { available: false, reason: `libcacard vpcd bridge: ${bridge.reason}` };
  const rtt = buildC("pcsc-rtt", "pcsc/pcsc-rtt.c", ["libpcsclite"]);
  if (!rtt.ok) return { available: false, reason: `pcsc-rtt: ${rtt.reason}` };

  const base = mkdtempSync(join(tmpdir(), "cacard-bench-vpcd-"));
  const out = join(base, "out");
  const work = join(base, "work");
  const limitS = 600;
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(
        "timeout",
        ["--kill-after", "5s", `${limitS}s`, "unshare", "--net", "--mount", "--pid", "--fork", "--mount-proc", "--kill-child",
          "bash", join(BENCH_DIR, "vpcd", "scenario.sh"), out, work],
        {
          cwd: ROOT,
          env: {
            ...process.env,
            REPO: ROOT,
            NODE_BIN: process.execPath,
            CACARD_CLI: CLI,
            DB: options.db,
            VPCD_LIBCACARD: bridge.path,
            PCSC_RTT: rtt.path,
            P15_RUNS: String(options.p15Runs),
            RTT_SLOW: String(options.rttSlow),
            RTT_FAST: String(options.rttFast),
          },
          stdio: ["ignore", "ignore", "pipe"],
        },
      );
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (d: string) => {
        stderr += d;
        if (process.env.BENCH_VERBOSE) process.stderr.write(d);
      });
      child.on("error", reject);
      child.on("close", (c) => {
        if (c !== 0 && !process.env.BENCH_VERBOSE) process.stderr.write(stderr.split("\n").slice(-15).join("\n") + "\n");
        resolve(c);
      });
    });
    const notes: string[] = [];
    if (code !== 0) notes.push(`scenario exited with status ${code}${code === 124 ? " (timed out)" : ""}`);
    const tags: [string, string, "default" | "quickack"][] = [
      ["cacard_default", "cacard (Node), --no-quickack", "default"],
      ["libcacard_default", "libcacard", "default"],
      ["libcacard-setsockopt_default", "libcacard + TCP_QUICKACK setsockopt", "default"],
      ["cacard-setsockopt_default", "cacard (Node) + TCP_QUICKACK helper: the default of `cacard vpcd`", "default"],
      ["cacard_quickack", "cacard (Node), --no-quickack", "quickack"],
      ["libcacard_quickack", "libcacard", "quickack"],
    ];
    const cases: VpcdCase[] = tags.map(([tag, impl, route]) => {
      const runs = readText(join(out, `p15_${tag}.runs`)).trim().split("\n").filter(Boolean).map((l) => l.split(" ").map(Number));
      const ok = runs.filter(([rc]) => rc === 0).map(([, us]) => us / 1000);
      const m = /median=([\d.]+) p10=([\d.]+) p90=([\d.]+).* n=(\d+) sw=9000/.exec(readText(join(out, `rtt_${tag}.txt`)));
      const err = readText(join(out, `error_${tag}.note`)).trim() || readText(join(out, `rtt_${tag}.txt`)).match(/pcsc-rtt: .*/)?.[0];
      const p15Err = runs.some(([rc]) => rc !== 0) ? `pkcs15-tool -D failed: ${readText(join(out, `p15_${tag}.err`)).trim().split("\n").slice(-2).join(" / ")}` : undefined;
      return {
        tag,
        impl,
        route,
        p15Ms: ok,
        p15MedianMs: median(ok),
        p15Failures: runs.length - ok.length,
        rtt: m ? { median: Number(m[1]), p10: Number(m[2]), p90: Number(m[3]), n: Number(m[4]) } : null,
        ...(err || p15Err || runs.length === 0 ? { error: err || p15Err || "did not run" } : {}),
      };
    });
    const num = (s: string) => (/^\d+$/.test(s.trim()) ? Number(s.trim()) : null);
    const routeError = readText(join(out, "route_error.note")).trim();
    if (routeError) notes.push(routeError);
    return {
      available: true,
      cases,
      apdusPerDump: { cacard: num(readText(join(out, "apdus_cacard.note"))), libcacard: num(readText(join(out, "apdus_libcacard.note"))) },
      routeDefault: readText(join(out, "route_default.txt")).trim(),
      routeQuickack: readText(join(out, "route_quickack.txt")).trim(),
      notes,
    };
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}
