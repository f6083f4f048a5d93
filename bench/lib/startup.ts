/**
 * Process start to ATR ready, and the resident memory of that process: spawn,
 * write "!atr" at once, stop the clock at the ATR line on stdout, read
 * /proc/<pid>/status VmRSS while the process still holds its card, then
 * close stdin.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

export interface StartSample {
  readonly ms: number;
  readonly rssKb: number;
  readonly atr: string;
}

function vmRssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

export function startToAtr(cmd: string, args: string[], timeoutMs = 30_000): Promise<StartSample> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let sample: StartSample | null = null;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${cmd}: no ATR within ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdin.on("error", () => undefined);
    child.stdin.write("!atr\n");
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      if (sample) return;
      out += d;
      const nl = out.indexOf("\n");
      if (nl < 0) return;
      const ms = performance.now() - start;
      sample = { ms, rssKb: vmRssKb(child.pid ?? -1), atr: out.slice(0, nl).trim() };
      child.stdin.end();
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
