/**
 * Process start to ATR ready, and the resident memory of that process: spawn,
 * write "!atr" at once, stop the clock at the ATR line on stdout, read
 * /proc/<pid>/status VmRSS while the process still holds its card; then,
 * when `ops` are given, send them (hex APDU lines), wait for every reply and
 * read VmRSS again: the card process as it is after real use. Then close stdin.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

export interface StartSample {
  readonly ms: number;
  readonly rssKb: number;
  readonly atr: string;
  /** VmRSS after the `ops` were answered (NaN without ops). */
  readonly rssAfterOpsKb: number;
  /** The last reply to the ops ("" without ops). */
  readonly lastReply: string;
}

export interface StartOptions {
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  /** Hex APDU lines sent after the ATR. */
  readonly ops?: readonly string[];
}

function vmRssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

export function startToAtr(cmd: string, args: string[], options: StartOptions = {}): Promise<StartSample> {
  const { timeoutMs = 30_000, env = process.env, ops = [] } = options;
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env });
    let out = "";
    let err = "";
    let first: { ms: number; rssKb: number; atr: string } | null = null;
    let sample: StartSample | null = null;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${cmd}: no ATR${ops.length ? " or replies" : ""} within ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdin.on("error", () => undefined);
    child.stdin.write("!atr\n");
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      if (sample) return;
      out += d;
      const lines = out.split("\n");
      if (!first && lines.length > 1) {
        first = { ms: performance.now() - start, rssKb: vmRssKb(child.pid ?? -1), atr: lines[0].trim() };
        if (ops.length) child.stdin.write(ops.join("\n") + "\n");
      }
      if (first && lines.length > 1 + ops.length) {
        const lastReply = ops.length ? lines[ops.length].trim() : "";
        sample = { ...first, rssAfterOpsKb: ops.length ? vmRssKb(child.pid ?? -1) : NaN, lastReply };
        child.stdin.end();
      }
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (sample && code === 0) resolve(sample);
      else reject(new Error(`${cmd} exited with ${code} before/after the ATR: ${err.trim().split("\n").slice(-2).join(" / ")}`));
    });
  });
}
