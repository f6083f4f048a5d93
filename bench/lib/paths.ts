/** Where things are, from dist/bench/lib/*.js or bench/lib/*.ts alike. */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root (dist/bench/lib -> ../../..). */
export const ROOT = resolve(here, here.includes(`${"/"}dist${"/"}`) ? "../../.." : "../..");
/** The bench sources (C files, scripts): always the source tree, not dist. */
export const BENCH_DIR = join(ROOT, "bench");
export const DIST_BENCH = join(ROOT, "dist", "bench");
export const CLI = join(ROOT, "dist", "cli", "main.js");
export const SAMPLE_DB = join(ROOT, "certs-sample", "nssdb");
export const RESULTS_DIR = join(ROOT, "bench", "results");
