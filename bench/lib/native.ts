/**
 * Building the bench's C helpers (cc + pkg-config) and driving
 * bench-libcacard, libcacard's side of the in-process comparison.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdirSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { BENCH_DIR } from "./paths.js";
import type { Op } from "./ops.js";
import type { RunResult } from "./inprocess.js";

export type Built = { ok: true; path: string } | { ok: false; reason: string };

function have(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/**
 * Compiles bench/<source> into bench/build/<name> when the source is newer
 * than the binary. `pkgs` are pkg-config packages (all must be present).
 */
export function buildC(name: string, source: string, pkgs: string[]): Built {
  const cc = process.env.CC ?? "cc";
  if (!have(cc)) return { ok: false, reason: `C compiler '${cc}' not found` };
  if (!have("pkg-config")) return { ok: false, reason: "pkg-config not found" };
  for (const p of pkgs) {
    if (spawnSync("pkg-config", ["--exists", p]).status !== 0) {
      return { ok: false, reason: `${p} development files not found by pkg-config` };
    }
  }
  const src = join(BENCH_DIR, source);
  const outDir = join(BENCH_DIR, "build");
  const out = join(outDir, name);
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return { ok: true, path: out };
  mkdirSync(outDir, { recursive: true });
  const flags = spawnSync("pkg-config", ["--cflags", "--libs", ...pkgs], { encoding: "utf8" }).stdout.trim().split(/\s+/).filter(Boolean);
  const tmp = `${out}.tmp.${process.pid}`;
  const r = spawnSync(cc, ["-std=gnu99", "-O2", "-Wall", "-Wextra", "-o", tmp, src, ...flags], { encoding: "utf8" });
  if (r.status !== 0) return { ok: false, reason: `compiling ${source} failed: ${r.stderr.trim().split("\n").slice(0, 5).join(" / ")}` };
  renameSync(tmp, out);
  return { ok: true, path: out };
}

/** A running bench-libcacard: one request line in, one reply line out. */
export class LibcacardBench {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;
  readonly #ids = new Map<string, number>();
  #stderr = "";

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child;
    child.stderr.setEncoding("utf8").on("data", (d: string) => (this.#stderr += d));
    this.#lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  static async start(binary: string, db: string, readers = 1): Promise<LibcacardBench> {
    const args = readers > 1 ? [db, "--readers", String(readers)] : [db];
    const b = new LibcacardBench(spawn(binary, args, { stdio: ["pipe", "pipe", "pipe"] }));
    const first = await b.#next();
    if (!first.startsWith("ready")) throw new Error(`bench-libcacard did not start: ${first}`);
    return b;
  }

  async #next(): Promise<string> {
    const r = await this.#lines.next();
    if (r.done) throw new Error(`bench-libcacard exited: ${this.#stderr.trim() || "no output"}`);
    return r.value;
  }

  async #ask(line: string): Promise<string> {
    this.#child.stdin.write(line + "\n");
    const reply = await this.#next();
    if (reply.startsWith("err")) throw new Error(`bench-libcacard '${line.slice(0, 40)}': ${reply}`);
    return reply;
  }

  async define(op: Op): Promise<void> {
    const lines = [`op ${op.id}`, ...op.setup.map((a) => `setup ${a}`), ...op.apdus.map((a) => `apdu ${a}`), "end"];
    this.#child.stdin.write(lines.slice(0, -1).join("\n") + "\n");
    const reply = await this.#ask("end");
    this.#ids.set(op.id, Number(reply.split(" ")[1]));
  }

  #id(op: Op): number {
    const id = this.#ids.get(op.id);
    if (id === undefined) throw new Error(`op ${op.id} not defined in bench-libcacard`);
    return id;
  }

  /** Every reply of one power-cycled pass (setup replies first). */
  async check(op: Op): Promise<string[]> {
    return (await this.#ask(`check ${this.#id(op)}`)).split(" ").slice(1);
  }

  async run(op: Op, seconds: number): Promise<RunResult> {
    const [, rate, iterations, secs] = (await this.#ask(`run ${this.#id(op)} ${seconds}`)).split(" ");
    return { rate: Number(rate), iterations: Number(iterations), seconds: Number(secs) };
  }

  /** Setup + one iteration on every reader. */
  async each(op: Op): Promise<void> {
    await this.#ask(`each ${this.#id(op)}`);
  }

  async rssKb(): Promise<number> {
    return Number((await this.#ask("rss")).split(" ")[1]);
  }

  async atr(): Promise<string> {
    return (await this.#ask("atr")).split(" ")[1];
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
    this.#child.stdin.end("quit\n");
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
}
