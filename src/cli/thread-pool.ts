/**
 * libuv's thread pool for `cacard relay`.
 *
 * Every pcsc-lite call of the relay runs on libuv's pool (koffi's async calls
 * are Node-API async work), and some of them wait for a long time: the
 * reader monitor's SCardGetStatusChange always holds one thread, an exchange
 * waiting for another application's transaction or a slow card holds
 * another. The pool has 4 threads by default and also serves fs, dns and
 * async crypto, so the relay asks for more.
 *
 * libuv sizes the pool from UV_THREADPOOL_SIZE once, when it is first used,
 * and an ES module program uses it while Node is still loading the modules,
 * before any of our code runs: setting the variable from inside the process
 * is too late (measured on Node 20). So the CLI entry starts the relay in a
 * child process that has it in its environment from the start.
 */
import { spawn } from "node:child_process";

/** Threads the relay wants: its two long waits plus the default four for everything else. */
export const RELAY_THREADPOOL_SIZE = 8;

/** True when this process was started with a pool of at least `size` threads. */
export function hasThreadPool(env: NodeJS.ProcessEnv, size: number = RELAY_THREADPOOL_SIZE): boolean {
  const n = Number(env.UV_THREADPOOL_SIZE);
  return Number.isInteger(n) && n >= size;
}

/**
 * Runs this CLI again with the same arguments and UV_THREADPOOL_SIZE set;
 * resolves with the child's exit code. The abort signal (SIGINT/SIGTERM)
 * becomes SIGTERM for the child. The child is told over an IPC channel when
 * this process dies, however it dies, and stops (see watchParent).
 */
export function rerunWithThreadPool(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const script = process.argv[1] as string;
  const child = spawn(process.execPath, [...process.execArgv, script, ...argv], {
    env: { ...process.env, UV_THREADPOOL_SIZE: String(RELAY_THREADPOOL_SIZE) },
    stdio: ["inherit", "inherit", "inherit", "ipc"],
  });
  const forward = () => child.kill("SIGTERM");
  signal.addEventListener("abort", forward, { once: true });
  return new Promise((resolve) => {
    child.once("error", () => resolve(1));
    child.once("exit", (code, sig) => {
      signal.removeEventListener("abort", forward);
      resolve(code ?? (sig ? 128 + 15 : 1));
    });
  });
}

/** In a child started by rerunWithThreadPool: calls `stop` when the parent goes away. */
export function watchParent(stop: () => void): () => void {
  if (!process.channel) return () => undefined;
  process.once("disconnect", stop);
  // The channel must not keep the process alive on its own.
  process.channel.unref();
  return () => process.off("disconnect", stop);
}
