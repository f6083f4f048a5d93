/**
 * Where the installed package is, and its version: the CLI runs from
 * dist/cli (bundled, with chunks in dist/cli/chunks), dist/src/cli (tsc
 * output) or src/cli (tests), and the package root is two or three levels up.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The package root: the nearest of ../.., ../../.. holding cacard's package.json. */
export function packageRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ["..", "../..", "../../.."]) {
    const candidate = resolve(here, up);
    try {
      const pkg = JSON.parse(readFileSync(resolve(candidate, "package.json"), "utf8")) as { name?: string };
      if (pkg.name === "cacard") return candidate;
    } catch {
      /* try the next level */
    }
  }
  return resolve(here, "../../..");
}

/** The package version from package.json ("unknown" if it cannot be read). */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(resolve(packageRoot(), "package.json"), "utf8")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}
