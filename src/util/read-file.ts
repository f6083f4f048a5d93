/**
 * Reading a file the user named (a password, a PIN, a secret, a certificate, a
 * key, TLS material, an NSS database) with a size limit and a time limit, so
 * that a wrong path cannot exhaust memory or hang the start:
 *
 * - a regular file larger than the limit is refused from its size, before any
 *   byte is read (and one that grows past it while read is refused too);
 * - anything else (a FIFO, /dev/stdin, a device such as /dev/zero) is read
 *   without blocking, at most limit + 1 bytes and for at most
 *   FILE_READ_TIMEOUT_MS: `--password-file <(printf ...)` works, while
 *   /dev/zero or a FIFO that nobody writes gets a one-line answer instead of
 *   filling memory or waiting for ever.
 *
 * Failures are FileReadError with a reason a person can act on ("permission
 * denied", "is a directory", "is larger than N bytes").
 */
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { CacardError } from "../core/errors.js";

/** How long a FIFO or device may take to deliver its content and end. */
export const FILE_READ_TIMEOUT_MS = 2_000;
/** Pause between non-blocking reads of a FIFO or device that has no data yet. */
const POLL_INTERVAL_MS = 10;
/** Read size for FIFOs and devices. */
const READ_CHUNK = 64 * 1024;

export type FileReadErrorCode =
  | "FILE_NOT_FOUND" // ENOENT, ENOTDIR
  | "FILE_ACCESS" // EACCES, EPERM
  | "FILE_NOT_A_FILE" // a directory
  | "FILE_TOO_LARGE" // past the caller's limit
  | "FILE_TIMEOUT" // a FIFO or device that did not end in time
  | "FILE_READ"; // any other I/O error

/** A file could not be read; `reason` is the part after the path ("permission denied"). */
export class FileReadError extends CacardError {
  declare readonly code: FileReadErrorCode;
  constructor(
    code: FileReadErrorCode,
    readonly path: string,
    readonly reason: string,
    options?: { readonly cause?: unknown },
  ) {
    super(code, `${path}: ${reason}`, options);
  }
}

/** A short, stable reason for a file-system error ("permission denied (EACCES)"). */
export function fsErrorReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err?.code) {
    case "ENOENT":
      return "no such file";
    case "ENOTDIR":
      return "a part of the path is not a directory";
    case "EACCES":
    case "EPERM":
      return `permission denied (${err.code})`;
    case "EISDIR":
      return "is a directory";
    case "ELOOP":
      return "too many symbolic links";
    default:
      return err?.code ? `${err.code}` : String(err?.message ?? e);
  }
}

function errorCode(e: unknown): FileReadErrorCode {
  switch ((e as NodeJS.ErrnoException)?.code) {
    case "ENOENT":
    case "ENOTDIR":
      return "FILE_NOT_FOUND";
    case "EACCES":
    case "EPERM":
      return "FILE_ACCESS";
    case "EISDIR":
      return "FILE_NOT_A_FILE";
    default:
      return "FILE_READ";
  }
}

function tooLarge(path: string, maxBytes: number): FileReadError {
  return new FileReadError("FILE_TOO_LARGE", path, `is larger than ${maxBytes} bytes (the limit for this file)`);
}

/** Blocks the thread for `ms` (only between reads of a FIFO or device, bounded by the deadline). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export interface ReadLimits {
  /** Largest accepted content. */
  readonly maxBytes: number;
  /** For FIFOs and devices; default FILE_READ_TIMEOUT_MS. */
  readonly timeoutMs?: number;
}

/**
 * The whole content of `path`, at most `maxBytes`. Throws FileReadError.
 * Synchronous: it runs once at start, before anything is served.
 */
export function readFileBounded(path: string, limits: ReadLimits): Uint8Array {
  const { maxBytes } = limits;
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO with no writer and reading an idle one both
    // return at once; it changes nothing for regular files. O_NOCTTY: a
    // terminal named as a file never becomes our controlling terminal.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    throw new FileReadError(errorCode(e), path, fsErrorReason(e), { cause: e });
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new FileReadError("FILE_NOT_A_FILE", path, "is a directory");
    if (st.isFile() && st.size > maxBytes) throw tooLarge(path, maxBytes);
    // A regular file is read whole in one go when its size is right; /proc
    // files say 0 and a file may grow meanwhile, so the loop goes on to EOF.
    const first = st.isFile() ? st.size + 1 : READ_CHUNK;
    return readAll(fd, path, maxBytes, first, limits.timeoutMs ?? FILE_READ_TIMEOUT_MS);
  } catch (e) {
    if (e instanceof FileReadError) throw e;
    throw new FileReadError(errorCode(e), path, fsErrorReason(e), { cause: e });
  } finally {
    closeSync(fd);
  }
}

/** Reads to EOF, at most maxBytes (+1 to notice more), waiting for a FIFO or device until the deadline. */
function readAll(fd: number, path: string, maxBytes: number, firstChunk: number, timeoutMs: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let got = 0;
  const deadline = Date.now() + timeoutMs;
  const wipe = () => parts.forEach((p) => p.fill(0));
  for (;;) {
    const chunk = new Uint8Array(Math.min(parts.length === 0 ? firstChunk : READ_CHUNK, maxBytes + 1 - got));
    let n: number;
    try {
      n = readSync(fd, chunk, 0, chunk.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") {
        wipe();
        throw e;
      }
      if (Date.now() >= deadline) {
        wipe();
        throw new FileReadError(
          "FILE_TIMEOUT",
          path,
          `is not a regular file and did not end within ${timeoutMs} ms (a FIFO or device nobody writes?)`,
        );
      }
      sleepSync(POLL_INTERVAL_MS);
      continue;
    }
    if (n === 0) break;
    parts.push(chunk.subarray(0, n));
    got += n;
    if (got > maxBytes) {
      wipe();
      throw tooLarge(path, maxBytes);
    }
  }
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(got);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  wipe();
  return out;
}
