/**
 * Helpers for running real QEMU (guest-less: -S, no firmware runs) and the
 * built `cacard vscard` CLI side by side on loopback. Every process started
 * here is tracked and killed by its PID in killAll().
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import net from "node:net";
import { join, resolve } from "node:path";

export const REPO_ROOT = resolve(__dirname, "../../..");
export const BUILT_CLI = join(REPO_ROOT, "dist", "cli", "main.js");
export const QEMU = "qemu-system-x86_64";

export function findOnPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(":").filter(Boolean)) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return null;
}

/** A port the OS says is free right now (bound then released on 127.0.0.1). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen({ host: "127.0.0.1", port: 0 }, () => r()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** True when something listens on 127.0.0.1:port (read from /proc, without connecting). */
export function isListening(port: number): boolean {
  const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  try {
    return readFileSync("/proc/net/tcp", "utf8")
      .split("\n")
      .some((line) => {
        const f = line.trim().split(/\s+/);
        return f[1] === want && f[3] === "0A";
      });
  } catch {
    return false;
  }
}

export async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export class Proc {
  readonly lines: string[] = [];
  output = "";
  stdout = "";
  exited: number | null = null;
  readonly #exit: Promise<void>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    const onData = (d: Buffer) => {
      this.output += d.toString();
      const parts = this.output.split("\n");
      this.lines.splice(0, this.lines.length, ...parts.filter((l) => l !== ""));
    };
    child.stdout?.on("data", (d: Buffer) => (this.stdout += d.toString()));
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    this.#exit = new Promise((r) => child.once("exit", (code, sig) => ((this.exited = code ?? (sig ? 128 : 0)), r())));
  }

  get pid(): number {
    return this.child.pid as number;
  }

  /** Waits for a line matching re (searching from line `from`); returns its index. */
  async waitLine(re: RegExp, timeoutMs = 15_000, from = 0): Promise<number> {
    let index = -1;
    try {
      await until(
        () => {
          index = this.lines.findIndex((l, i) => i >= from && re.test(l));
          return index >= 0 || this.exited !== null;
        },
        timeoutMs,
        `${this.name}: ${re}`,
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- ${this.name} output ---\n${this.output}`);
    }
    if (index < 0) throw new Error(`${this.name} exited (${this.exited}) before ${re}\n${this.output}`);
    return index;
  }

  count(re: RegExp): number {
    return this.lines.filter((l) => re.test(l)).length;
  }

  write(text: string): void {
    this.child.stdin?.write(text);
  }

  /** SIGTERM, then SIGKILL after graceMs; by PID only. */
  async kill(graceMs = 2000): Promise<void> {
    if (this.exited !== null) return;
    try {
      process.kill(this.pid, "SIGTERM");
    } catch {
      /* already gone */
    }
    const timer = setTimeout(() => {
      try {
        process.kill(this.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }, graceMs);
    await this.#exit;
    clearTimeout(timer);
  }

  async killHard(): Promise<void> {
    if (this.exited !== null) return;
    try {
      process.kill(this.pid, "SIGKILL");
    } catch {
      /* gone */
    }
    await this.#exit;
  }

  waitExit(): Promise<void> {
    return this.#exit;
  }
}

const running = new Set<Proc>();

export function startProc(name: string, cmd: string, args: string[], hardTimeoutMs = 90_000): Proc {
  const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, CACARD_DEBUG: "" } });
  const proc = new Proc(name, child);
  running.add(proc);
  // Hard bound: nothing started here outlives this, whatever the test does.
  const guard = setTimeout(() => void proc.killHard(), hardTimeoutMs);
  guard.unref();
  void proc.waitExit().then(() => {
    clearTimeout(guard);
    running.delete(proc);
  });
  return proc;
}

export async function killAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.kill()));
}

/** Guest-less QEMU with the given device/chardev arguments (CPU stopped with -S). */
export function startQemu(args: string[]): Proc {
  return startProc("qemu", QEMU, ["-nodefaults", "-display", "none", "-M", "q35", "-accel", "tcg", "-S", ...args]);
}

export function startCacard(args: string[]): Proc {
  return startProc("cacard", process.execPath, [BUILT_CLI, "vscard", ...args]);
}

/** Runs a short CLI command (qemu-args) and returns its stdout. */
export async function cli(args: string[]): Promise<string> {
  const p = startProc("cacard-cli", process.execPath, [BUILT_CLI, ...args], 30_000);
  await p.waitExit();
  if (p.exited !== 0) throw new Error(`cacard ${args.join(" ")} failed: ${p.output}`);
  return p.stdout;
}
