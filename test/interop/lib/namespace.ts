/**
 * Running interop scenarios in throw-away Linux namespaces.
 *
 * A scenario is a bash driver that becomes PID 1 of fresh network, mount and
 * PID namespaces (`unshare --net --mount --pid --fork --mount-proc`): it gets
 * its own loopback (so fixed ports like vpcd's 35963 never clash with the
 * host), its own mounts (a tmpfs on /run/pcscd hides any host pcscd), and
 * when it exits the kernel kills everything it started. The driver writes its
 * results to files that the vitest test then checks.
 *
 * Shared by the OpenSC suite and meant for other interop suites (QEMU, ...).
 */
import { spawn, spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";

export const REPO_ROOT = resolve(__dirname, "../../..");
export const INTEROP_LIB = __dirname;
export const BUILT_CLI = join(REPO_ROOT, "dist", "cli", "main.js");

const SBIN = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/** Absolute path of an executable on PATH (plus the sbin directories), or null. */
export function findExecutable(name: string): string | null {
  if (name.includes("/")) return isExecutable(name) ? name : null;
  const dirs = [...(process.env.PATH ?? "").split(delimiter), ...SBIN].filter(Boolean);
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface Prerequisites {
  /** Executables that must exist (names or absolute paths). */
  readonly tools?: readonly string[];
  /** Files that must exist (drivers, modules). */
  readonly files?: readonly string[];
  /** Root and a working `unshare --net --mount --pid`. */
  readonly namespaces?: boolean;
}

/** What is missing for a suite, as human-readable items (empty = ready). */
export function missingPrerequisites(req: Prerequisites): string[] {
  const missing: string[] = [];
  for (const tool of req.tools ?? []) if (!findExecutable(tool)) missing.push(tool);
  for (const file of req.files ?? []) if (!existsSync(file)) missing.push(file);
  if (req.namespaces) {
    if (process.getuid?.() !== 0) missing.push("root (for unshare --net --mount --pid)");
    else if (!findExecutable("unshare")) missing.push("unshare");
    else {
      const probe = spawnSync(
        "unshare",
        ["--net", "--mount", "--pid", "--fork", "--mount-proc", "true"],
        { timeout: 10_000, stdio: "ignore" },
      );
      if (probe.status !== 0) missing.push("permission to create namespaces (unshare failed)");
    }
  }
  return missing;
}

/**
 * The skip policy shared by interop suites: skip when something is missing,
 * except in CI (CI=true), where missing tools are a failure.
 */
export interface InteropGate {
  readonly missing: string[];
  /** True: skip the suite (locally, tools missing). */
  readonly skip: boolean;
  /** True: run a failing test instead (CI with tools missing). */
  readonly fail: boolean;
  readonly reason: string;
}

export function interopGate(req: Prerequisites, env: NodeJS.ProcessEnv = process.env): InteropGate {
  const missing = missingPrerequisites(req);
  const ci = env.CI === "true";
  const reason = missing.length ? `missing: ${missing.join(", ")}` : "";
  return { missing, skip: missing.length > 0 && !ci, fail: missing.length > 0 && ci, reason };
}

export interface NamespaceRunOptions {
  /** The bash driver; runs as PID 1 of the new namespaces. */
  readonly script: string;
  readonly args?: readonly string[];
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /** Hard limit for the whole run; the namespace is killed after it. */
  readonly timeoutMs: number;
  /** Extra unshare flags (default: --net --mount --pid --fork --mount-proc --kill-child). */
  readonly unshareFlags?: readonly string[];
}

export interface NamespaceRunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  readonly timedOut: boolean;
}

const DEFAULT_UNSHARE = ["--net", "--mount", "--pid", "--fork", "--mount-proc", "--kill-child"];
const KILL_GRACE_S = 5;

/**
 * Runs a driver script in new namespaces under timeout(1), with a JS timer as
 * a second line of defence. Both stop the run by PID: timeout(1) signals
 * unshare, whose --kill-child SIGKILLs the driver (PID 1 inside), and the
 * kernel then kills every process left in that PID namespace.
 */
export function runInNamespace(options: NamespaceRunOptions): Promise<NamespaceRunResult> {
  const seconds = Math.max(1, Math.ceil(options.timeoutMs / 1000));
  const argv = [
    "--kill-after",
    `${KILL_GRACE_S}s`,
    `${seconds}s`,
    "unshare",
    ...(options.unshareFlags ?? DEFAULT_UNSHARE),
    "bash",
    options.script,
    ...(options.args ?? []),
  ];
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn("timeout", argv, {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    let timedOut = false;
    const backstop = setTimeout(
      () => {
        timedOut = true;
        if (child.pid !== undefined) {
          try {
            process.kill(child.pid, "SIGKILL");
          } catch {
            /* already gone */
          }
        }
      },
      (seconds + KILL_GRACE_S + 5) * 1000,
    );
    child.on("error", (e) => {
      clearTimeout(backstop);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(backstop);
      resolvePromise({
        code,
        signal,
        stdout,
        stderr,
        durationMs: Date.now() - started,
        timedOut: timedOut || code === 124 || code === 137,
      });
    });
  });
}

/** Reads the files a driver wrote with sb_step / sb_note. */
export class StepResults {
  constructor(readonly dir: string) {}

  has(step: string): boolean {
    return existsSync(join(this.dir, `${step}.rc`));
  }

  out(step: string): string {
    return this.#read(`${step}.out`);
  }

  err(step: string): string {
    return this.#read(`${step}.err`);
  }

  /** Exit status, or NaN when the step never ran. */
  rc(step: string): number {
    const text = this.#read(`${step}.rc`).trim();
    return text === "" ? NaN : Number(text);
  }

  seconds(step: string): number {
    return Number(this.#read(`${step}.time`).trim() || NaN);
  }

  note(key: string): string {
    return this.#read(`${key}.note`).trim();
  }

  file(name: string): string {
    return this.#read(name);
  }

  /** A step's output and errors, for assertion messages. */
  describe(step: string): string {
    return `step ${step} (rc ${this.rc(step)}):\n--- stdout\n${this.out(step)}\n--- stderr\n${this.err(step)}`;
  }

  #read(name: string): string {
    try {
      return readFileSync(join(this.dir, name), "utf8");
    } catch {
      return "";
    }
  }
}
