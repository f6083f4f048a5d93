/**
 * TCP_QUICKACK for the vpcd connection, through the optional native helper
 * (native/tcp-quickack.c, built by `npm run build` when a C compiler and
 * Node's headers are there).
 *
 * Why: vpcd writes each command's 2-byte length and its payload with two
 * send() calls and leaves Nagle on, so the payload waits for our ACK of the
 * length, which Linux delays by up to 40 ms on an interactive connection:
 * ~44 ms per APDU with any card (docs/vpcd.md, "Latency"). With TCP_QUICKACK
 * set after every read the ACK goes out at once (bench: 44 ms → ~0.1 ms per
 * APDU, the same as libcacard's bridge with the option).
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import type { Socket } from "node:net";
import { fileURLToPath } from "node:url";

const HELPER = "tcp-quickack.node";

/**
 * Where the helper is, relative to this module: dist/src/backends/vpcd (tsc),
 * dist/cli/chunks (the bundled CLI) or src/backends/vpcd (tests on the sources).
 */
const CANDIDATES = ["../../../native/", "../../native/", "../../../dist/native/"];

export type QuickAckSetter = (socket: Socket) => boolean;

/** The setter, or null; `why` names the helper's path, or the reason it is missing. */
export interface QuickAckSupport {
  readonly set: QuickAckSetter | null;
  readonly why: string;
}

let loaded: QuickAckSupport | undefined;

/** The setter, or null with the reason (helper not built, not Linux, failed to load). Loaded once. */
export function quickAckSupport(): QuickAckSupport {
  loaded ??= load();
  return loaded;
}

function load(): QuickAckSupport {
  if (process.platform !== "linux") return { set: null, why: "TCP_QUICKACK is Linux-only" };
  const path = CANDIDATES.map((dir) => fileURLToPath(new URL(dir + HELPER, import.meta.url))).find((p) => existsSync(p));
  if (path === undefined) return { set: null, why: `${HELPER} was not built (npm run build needs a C compiler and Node's headers)` };
  try {
    const helper = createRequire(import.meta.url)(path) as { setQuickAck?: (fd: number) => boolean };
    const setQuickAck = helper.setQuickAck;
    if (typeof setQuickAck !== "function") return { set: null, why: `${path} has no setQuickAck` };
    return { set: (socket) => setQuickAck(socketFd(socket)), why: path };
  } catch (e) {
    return { set: null, why: `${path} failed to load: ${(e as Error).message}` };
  }
}

/**
 * The socket's file descriptor. Node documents no accessor; `_handle.fd` is
 * the libuv handle's descriptor on Unix (-1 or absent when not open).
 */
function socketFd(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === "number" ? fd : -1;
}
