/**
 * End to end through real QEMU: a tiny Linux guest (see README.md in this
 * folder) uses the card through
 *
 *   OpenSC → pcscd → libccid → (guest USB, UHCI) → QEMU usb-ccid
 *     → ccid-card-passthru → VSCard over loopback TCP → `cacard vscard`
 *
 * and runs opensc-tool, pkcs15-tool and pkcs11-tool on it, including a
 * PIN-protected signature. The guest prints every result between
 * ==CACARD-BEGIN name== / ==CACARD-END name rc=N== markers on its serial
 * console (QEMU's stdout); the signature is checked here with node:crypto
 * against the certificate read from the card, and that certificate against
 * certs-sample/pem/cert1.pem.
 *
 * With CI=true the test always runs and fails when a tool is missing; without
 * CI it is skipped when QEMU or the guest's ingredients are not installed.
 * The guest is built (or reused) in $CACARD_GUEST_CACHE, default
 * /tmp/cacard-guest-cache; the first build downloads ~70 MB from Debian.
 */
import { describe, expect, it } from "vitest";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BUILD_SCRIPT, expectGuestSignedWithCac } from "./guest-checks.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "../../../..");
const CLI = join(ROOT, "dist/cli/main.js");
const DB = join(ROOT, "certs-sample/nssdb");
const CACHE = process.env.CACARD_GUEST_CACHE || "/tmp/cacard-guest-cache";
const CI = /^(1|true|yes)$/i.test(process.env.CI ?? "");

const PIN = "12345678";
const CAC_ATR = "3b7a18000073667465206364313434";
/** Whole test, build included. */
const TEST_TIMEOUT_MS = 240_000;
/** A cold build downloads the kernel package; a cached one takes a couple of seconds. */
const BUILD_TIMEOUT_MS = 150_000;
/** From QEMU's start to its exit; a run takes ~15 s on 2 cores under TCG. */
const GUEST_TIMEOUT_MS = 180_000;
/** The guest powers itself off after this many seconds whatever happens. */
const GUEST_WATCHDOG_S = 150;

const QEMU = "qemu-system-x86_64";
/** Host tools the guest build and the run need (the build script checks the files in detail). */
const TOOLS = [QEMU, "apt-get", "apt-cache", "dpkg-deb", "cpio", "gzip", "pcscd", "opensc-tool", "pkcs15-tool", "pkcs11-tool", "openssl"];

function onPath(tool: string): boolean {
  const dirs = (process.env.PATH ?? "").split(delimiter).concat(["/usr/sbin", "/sbin"]);
  return dirs.some((d) => {
    try {
      accessSync(join(d, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const missingTools = TOOLS.filter((t) => !onPath(t));
const skip = !CI && missingTools.length > 0;
if (skip) console.warn(`[guest-e2e] skipped: not installed: ${missingTools.join(", ")}`);

// ---------------------------------------------------------------------------

const seconds = (ms: number) => (ms / 1000).toFixed(1);

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")} failed: ${err.message}\n${stderr}`));
      else resolvePromise({ stdout, stderr });
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePromise(port));
    });
  });
}

/**
 * True once something listens on 127.0.0.1:port. Read from /proc rather than
 * probed with a connection: QEMU's chardev would take a probe for the card.
 */
function listening(port: number): boolean {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  try {
    return readFileSync("/proc/net/tcp", "utf8")
      .split("\n")
      .some((line) => {
        const f = line.trim().split(/\s+/);
        return f[1] === local && f[3] === "0A";
      });
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolvePromise) => {
    if (child.exitCode !== null || child.signalCode !== null) resolvePromise(child.exitCode);
    else child.once("exit", (code) => resolvePromise(code));
  });
}

async function stop(child: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const done = await Promise.race([exited(child).then(() => true), sleep(graceMs).then(() => false)]);
  if (!done) {
    child.kill("SIGKILL");
    await exited(child);
  }
}


interface Run {
  serial: string;
  qemuStderr: string;
  cardLog: string;
  qemuExit: number | null;
  /** ms from QEMU's start to the guest's card-ready marker */
  cardReadyMs: number | null;
  qemuMs: number;
}

/** Starts QEMU and the card, waits for the guest to power off. */
async function runGuest(kernel: string, initrd: string): Promise<Run> {
  let qemu: ChildProcess | undefined;
  let card: ChildProcess | undefined;
  let serial = "";
  let qemuStderr = "";
  let cardLog = "";
  let cardReadyMs: number | null = null;
  try {
    let port = 0;
    let started = 0;
    // A port found free can be taken before QEMU binds it: try a few.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      serial = "";
      qemuStderr = "";
      started = Date.now();
      qemu = spawn(
        QEMU,
        [
          ...["-nodefaults", "-display", "none", "-M", "q35", "-accel", "tcg", "-m", "512"],
          ...["-kernel", kernel, "-initrd", initrd],
          ...["-append", `console=ttyS0 panic=-1 quiet cacard.watchdog=${GUEST_WATCHDOG_S} cacard.pin=${PIN}`],
          ...["-no-reboot", "-serial", "stdio"],
          // UHCI, not qemu-xhci: QEMU 7.2's usb-ccid under xHCI garbles 54-byte responses.
          ...["-device", "ich9-usb-uhci1", "-device", "usb-ccid,id=ccid0"],
          ...["-chardev", `socket,id=ccid,host=127.0.0.1,port=${port},server=on,wait=off,nodelay=on`],
          ...["-device", "ccid-card-passthru,chardev=ccid"],
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      const q = qemu;
      q.stdout!.setEncoding("utf8");
      q.stdout!.on("data", (chunk: string) => {
        serial += chunk;
        if (cardReadyMs === null && serial.includes("==CACARD-INFO card-ready")) cardReadyMs = Date.now() - started;
      });
      q.stderr!.setEncoding("utf8");
      q.stderr!.on("data", (chunk: string) => (qemuStderr += chunk));
      while (!listening(port) && q.exitCode === null && q.signalCode === null && Date.now() - started < 15_000) {
        await sleep(50);
      }
      if (listening(port)) break;
      await stop(q, 1000);
      if (attempt >= 3 || !/in use|bind/i.test(qemuStderr)) {
        throw new Error(`QEMU did not listen on 127.0.0.1:${port}:\n${qemuStderr}`);
      }
    }

    card = spawn(process.execPath, [CLI, "vscard", "--connect", `127.0.0.1:${port}`, "--db", DB], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    card.stdout!.setEncoding("utf8");
    card.stderr!.setEncoding("utf8");
    card.stdout!.on("data", (chunk: string) => (cardLog += chunk));
    card.stderr!.on("data", (chunk: string) => (cardLog += chunk));
    const cardExit = exited(card).then((code) => ({ code }));

    const q = qemu!;
    const outcome = await Promise.race([
      exited(q).then((code) => ({ kind: "qemu" as const, code })),
      cardExit.then(async ({ code }) => {
        // The card should serve until QEMU goes away; give the guest a moment to
        // report what it saw, then end the run.
        await Promise.race([exited(q), sleep(20_000)]);
        return { kind: "card" as const, code };
      }),
      sleep(GUEST_TIMEOUT_MS).then(() => ({ kind: "timeout" as const, code: null })),
    ]);
    const qemuMs = Date.now() - started;
    if (outcome.kind === "timeout") {
      throw new Error(`guest did not power off within ${seconds(GUEST_TIMEOUT_MS)} s\n--- serial ---\n${serial}\n--- card ---\n${cardLog}`);
    }
    if (outcome.kind === "card" && q.exitCode === null) {
      throw new Error(`cacard vscard exited (code ${outcome.code}) while the guest was running\n--- card ---\n${cardLog}\n--- serial ---\n${serial}`);
    }
    // QEMU closed the socket; the card may exit on its own or keep reconnecting.
    await Promise.race([exited(card), sleep(3000)]);
    return { serial, qemuStderr, cardLog, qemuExit: q.exitCode, cardReadyMs, qemuMs };
  } finally {
    await stop(card, 2000);
    await stop(qemu, 1000);
  }
}

describe.skipIf(skip)("guest end to end: OpenSC in a QEMU guest over usb-ccid + ccid-card-passthru", () => {
  it(
    "names the CAC, lists its PIN and 3 RSA keys, and signs with cert1's key",
    async () => {
      const t0 = Date.now();
      expect(missingTools, "tools the guest test needs (install them; see test/interop/qemu/guest/README.md)").toEqual([]);
      expect(existsSync(CLI), `${CLI} missing: run npm run build first`).toBe(true);

      const built = await run("bash", [BUILD_SCRIPT, CACHE], BUILD_TIMEOUT_MS);
      const buildMs = Date.now() - t0;
      const kernel = join(CACHE, "vmlinuz");
      const initrd = join(CACHE, "initrd.gz");
      expect(existsSync(kernel) && existsSync(initrd), built.stderr).toBe(true);

      const r = await runGuest(kernel, initrd);
      const transcript = `--- serial ---\n${r.serial}\n--- card ---\n${r.cardLog}\n--- qemu stderr ---\n${r.qemuStderr}`;
      // The card side: QEMU took the reader and the card (status lines of `cacard vscard`).
      expect(r.cardLog, transcript).toMatch(/reader 0 attached/);
      expect(r.cardLog, transcript).toMatch(new RegExp(`card inserted reader=0 atr=${CAC_ATR}`, "i"));
      expectGuestSignedWithCac(r.serial, CAC_ATR, transcript);

      const done = /==CACARD-DONE failed=(\d+) uptime=([\d.]+)==/.exec(r.serial);
      const guestReady = /==CACARD-INFO card-ready uptime=([\d.]+)==/.exec(r.serial)?.[1];
      console.log(
        `[guest-e2e] initramfs ${seconds(buildMs)} s; QEMU start → card ready ${r.cardReadyMs === null ? "?" : seconds(r.cardReadyMs)} s ` +
          `(guest uptime ${guestReady} s); QEMU run ${seconds(r.qemuMs)} s (guest uptime at power-off ${done?.[2]} s); ` +
          `test ${seconds(Date.now() - t0)} s`,
      );
    },
    TEST_TIMEOUT_MS,
  );
});
