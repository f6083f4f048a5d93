#!/usr/bin/env node
/**
 * `cacard` entry point: dispatches to one module per command. Errors are one
 * line on stderr; exit 2 for usage errors, 1 for anything else.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import type { Command, CliIo } from "./command.js";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from "./errors.js";
import { hasThreadPool, rerunWithThreadPool } from "./thread-pool.js";
import { packageVersion } from "./package-info.js";
// The core's platform on Node (node:crypto), for every command.
import "../platform/node.js";

/** Lazy so that `cacard apdu` does not load the TLS or QEMU code. */
const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  apdu: () => import("./commands/apdu.js"),
  info: () => import("./commands/info.js"),
  list: () => import("./commands/list.js"),
  demo: () => import("./commands/demo.js"),
  vpcd: () => import("./commands/vpcd.js"),
  vscard: () => import("./commands/vscard.js"),
  "qemu-args": () => import("./commands/qemu-args.js"),
  "libvirt-xml": () => import("./commands/libvirt-xml.js"),
  relay: () => import("./commands/relay.js"),
  web: () => import("./commands/web.js"),
};

async function mainHelp(): Promise<string> {
  const lines = ["Usage: cacard <command> [options]", "       cacard --version", "", "Commands:"];
  for (const name of Object.keys(COMMANDS)) {
    const { command } = await COMMANDS[name]();
    lines.push(`  ${name.padEnd(12)} ${command.summary}`);
  }
  lines.push("", "Run `cacard <command> --help` for a command's options.");
  return lines.join("\n") + "\n";
}

function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, " ").trim();
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.stdout.write(await mainHelp());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === "--version" || name === "-V" || name === "version") {
    io.stdout.write(`cacard ${packageVersion()}\n`);
    return EXIT_OK;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    io.stderr.write(`cacard: unknown command '${name}' (see cacard --help)\n`);
    return EXIT_USAGE;
  }
  const { command } = await load();
  if (rest.includes("--help") || rest.includes("-h")) {
    io.stdout.write(command.help.endsWith("\n") ? command.help : command.help + "\n");
    return EXIT_OK;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`cacard ${name}: ${oneLine(e.message)}\n`);
      return EXIT_USAGE;
    }
    const err = e as Error & { code?: string };
    // node:util parseArgs reports unknown or malformed options with these codes.
    if (typeof err.code === "string" && err.code.startsWith("ERR_PARSE_ARGS")) {
      const unknown = /Unknown option '([^']+)'/.exec(err.message);
      const text = unknown ? `unknown option '${unknown[1]}' (see cacard ${name} --help)` : oneLine(err.message);
      io.stderr.write(`cacard ${name}: ${text}\n`);
      return EXIT_USAGE;
    }
    io.stderr.write(`cacard ${name}: ${oneLine(err.message ?? String(e))}\n`);
    if (io.env.CACARD_DEBUG) io.stderr.write(`${err.stack}\n`);
    return EXIT_FAILURE;
  }
}

/** How long a finished command lets background compile jobs settle before exiting. */
const EXIT_SETTLE_MS = 25;

function isEntryPoint(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/**
 * V8 flags for the cacard process (not for library users, whose process is
 * theirs). The only WebAssembly the CLI runs is sql.js reading two small
 * files once at start, which gains nothing from TurboFan: compiling its hot
 * SQLite functions a second time left ~19 MB of compiler memory and
 * optimised code in the process and delayed the ATR (docs/performance.md).
 * Set before any WebAssembly is compiled.
 */
export const CLI_V8_FLAGS: readonly string[] = ["--liftoff-only"];

if (isEntryPoint()) {
  for (const flag of CLI_V8_FLAGS) setFlagsFromString(flag);
  const controller = new AbortController();
  const stop = () => controller.abort();
  // Catch SIGINT/SIGTERM only while a command runs (long-running commands stop
  // cleanly on the abort signal). Afterwards the default action is back, so a
  // signal always ends the process, even one stuck in Node's exit path.
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  // A closed stdout (e.g. `cacard apdu | head`) is not an error worth a stack trace.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(EXIT_OK);
  });
  // Keep a libuv handle alive while the command runs. Without one, the loop
  // can run dry while a promise waits on something that is not a libuv handle
  // (sql.js compiling its WebAssembly); Node 20 then blocks in
  // NodePlatform::DrainTasks waiting for background jobs, and a concurrent
  // TurboFan job that needs a GC from the main thread deadlocks it (gdb: main
  // thread in DrainTasks, worker in CollectionBarrier::AwaitCollectionBackground).
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const argv = process.argv.slice(2);
  // A long-running relay needs a bigger libuv pool than Node starts with (thread-pool.ts).
  const rerun = argv[0] === "relay" && !argv.some((a) => ["--help", "-h", "--list"].includes(a)) && !hasThreadPool(process.env);
  (rerun
    ? rerunWithThreadPool(argv, controller.signal)
    : main(argv, {
        stdin: process.stdin,
        stdout: process.stdout,
        stderr: process.stderr,
        env: process.env,
        signal: controller.signal,
      })
  )
    .catch((e) => {
      process.stderr.write(`cacard: ${oneLine(String((e as Error)?.message ?? e))}\n`);
      return EXIT_FAILURE;
    })
    .then((code) => {
      clearInterval(keepAlive);
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      // The same deadlock can hit process.exit, which joins the worker
      // threads: with the loop alive a moment longer, in-flight compile jobs
      // finish (their GC requests are served) and, as no JS runs, no new
      // ones start; then exit. stdout/stderr to pipes and files are
      // synchronous on Linux.
      setTimeout(() => process.exit(code), EXIT_SETTLE_MS);
    });
}
