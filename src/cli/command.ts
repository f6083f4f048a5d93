/** The shape of a `cacard <command>` module. */
import type { Readable, Writable } from "node:stream";

export interface CliIo {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT/SIGTERM; long-running commands stop cleanly when it fires. */
  readonly signal: AbortSignal;
}

export interface Command {
  readonly name: string;
  /** One line for `cacard --help`. */
  readonly summary: string;
  /** Full `--help` text for the command. */
  readonly help: string;
  /** Returns the exit code. Throws UsageError for bad arguments. */
  run(argv: string[], io: CliIo): Promise<number>;
}
