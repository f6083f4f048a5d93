/**
 * `--pid-file FILE` of the long-running commands (vpcd, vscard, relay): the
 * process id of cacard itself, so that `kill -USR1 $(cat FILE)` reaches it
 * and not a wrapper (`npx` and `npm exec` run cacard as a child; a signal to
 * `$!` goes to npm, which opens its debugger on SIGUSR1). Written at start
 * (atomically: a temporary file renamed into place), removed at exit if it
 * still holds this process's id.
 */
import { readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { CacardError } from "../core/errors.js";

export class PidFileError extends CacardError {
  constructor(message: string) {
    super("CLI_PID_FILE", message);
  }
}

/** The process id in `path`, or null when there is none (no file, not a number). */
function readPid(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, owned by someone else.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Writes this process's id to `path`; refuses when the file names another
 * running process (a second instance with the same pid file). Returns the
 * function that removes it.
 */
export function writePidFile(path: string): () => void {
  const existing = readPid(path);
  if (existing !== null && existing !== process.pid && isRunning(existing)) {
    throw new PidFileError(`--pid-file ${path}: process ${existing} is running with it (another cacard?)`);
  }
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, `${process.pid}\n`, { mode: 0o644 });
    renameSync(temporary, path);
  } catch (e) {
    try {
      unlinkSync(temporary);
    } catch {
      /* never written */
    }
    throw new PidFileError(`--pid-file ${path}: cannot write it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return () => {
    if (readPid(path) !== process.pid) return; // replaced by someone else meanwhile
    try {
      unlinkSync(path);
    } catch {
      /* already gone */
    }
  };
}
