/** Small filesystem predicates that never throw (a missing path is just "no"). */
import { readdirSync, statSync, type Stats } from "node:fs";
import { FileReadError, fsErrorReason } from "./read-file.js";

export function pathExists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * stat() that tells "not there" (null) from "not allowed to look"
 * (FileReadError FILE_ACCESS), so that a permission problem is reported as
 * one instead of as a missing file.
 */
export function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw new FileReadError(code === "EACCES" || code === "EPERM" ? "FILE_ACCESS" : "FILE_READ", path, fsErrorReason(e), { cause: e });
  }
}

/** Throws FileReadError when the directory cannot be listed (e.g. mode 000 for this user). */
export function checkListable(dir: string): void {
  try {
    readdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FileReadError(code === "EACCES" || code === "EPERM" ? "FILE_ACCESS" : "FILE_READ", dir, `cannot list it: ${fsErrorReason(e)}`, { cause: e });
  }
}
