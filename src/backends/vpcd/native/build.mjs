#!/usr/bin/env node
/**
 * Builds dist/native/tcp-quickack.node from tcp-quickack.c with the system C
 * compiler and Node's own headers (node_api.h). Optional: without a compiler
 * or the headers the card works as before (vpcd then pays Linux's delayed
 * ACKs, docs/vpcd.md), so a failure prints one line and exits 0. Linux only.
 *
 * Headers are looked up in $npm_config_nodedir/include/node (what node-gyp
 * uses), next to the running node (<prefix>/include/node) and /usr/include/node.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../../..");
const source = join(here, "tcp-quickack.c");
const output = join(root, "dist", "native", "tcp-quickack.node");

function skip(reason) {
  rmSync(output, { force: true });
  process.stdout.write(`cacard: optional TCP_QUICKACK helper not built (${reason}); see docs/vpcd.md\n`);
  process.exit(0);
}

if (process.platform !== "linux") skip(`TCP_QUICKACK is Linux-only, this is ${process.platform}`);

const candidates = [
  process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, "include", "node"),
  resolve(dirname(process.execPath), "..", "include", "node"),
  "/usr/include/node",
].filter(Boolean);
const include = candidates.find((dir) => existsSync(join(dir, "node_api.h")));
if (!include) skip(`node_api.h not found in ${candidates.join(", ")}`);

if (existsSync(output) && statSync(output).mtimeMs >= statSync(source).mtimeMs) process.exit(0);
mkdirSync(dirname(output), { recursive: true });
const cc = process.env.CC || "cc";
const args = ["-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-DNODE_GYP_MODULE_NAME=tcp_quickack", `-I${include}`, "-o", output, source];
const run = spawnSync(cc, args, { encoding: "utf8" });
if (run.error) skip(`${cc}: ${run.error.message}`);
if (run.status !== 0) skip(`${cc} failed: ${(run.stderr || "").trim().split("\n")[0]}`);
