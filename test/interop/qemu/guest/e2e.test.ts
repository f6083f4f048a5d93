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
 * the file the card was given (guest-checks.ts).
 *
 * One guest run per card: the sample CAC (libcacard's personality), a
 * `--personality piv` card (PIN split from the DB password), a `cac+piv`
 * card (OpenSC's default driver, PIV, takes it) and a CAC whose keys stay on
 * a SoftHSM2 token made here (`cacard vscard --pkcs11`, host mode).
 *
 * With CI=true the test always runs and fails when a tool is missing; without
 * CI it is skipped when QEMU or the guest's ingredients are not installed.
 * The guest is built (or reused) in $CACARD_GUEST_CACHE, default
 * /tmp/cacard-guest-cache; the first build downloads ~70 MB from Debian.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { tmpdir } from "node:os";
import { BUILD_SCRIPT, SAMPLE_CAC, expectGuestSigned, type GuestCard } from "./guest-checks.js";
import { FIXTURES, SOFTHSM_LABEL, SOFTHSM_MODULE, makeSoftHsmToken, pkcs11jsBuilt } from "../../../tokens/pkcs11/tokens.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "../../../..");
const CLI = join(ROOT, "dist/cli/main.js");
const DB = join(ROOT, "certs-sample/nssdb");
const DB_PW = join(ROOT, "certs-sample/nssdb-pw");
const CACHE = process.env.CACARD_GUEST_CACHE || "/tmp/cacard-guest-cache";
const CI = /^(1|true|yes)$/i.test(process.env.CI ?? "");

const PIV_ATR = "3B9B18800180F9A00000030800001000C0";
/** One guest run (the build is done once, before). */
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
/** The host-mode run also needs SoftHSM2 and the pkcs11js binding. */
const HSM_TOOLS = ["softhsm2-util"];

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
const missingHsm = [
  ...HSM_TOOLS.filter((t) => !onPath(t)),
  ...(existsSync(SOFTHSM_MODULE) ? [] : [SOFTHSM_MODULE]),
  ...(pkcs11jsBuilt() ? [] : ["pkcs11js (built)"]),
];
const skipHsm = skip || (!CI && missingHsm.length > 0);
if (!skip && skipHsm) console.warn(`[guest-e2e] SoftHSM run skipped: not installed: ${missingHsm.join(", ")}`);

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

/** How to start `cacard vscard` for one run, and what the guest should see. */
interface CardRun {
  readonly card: GuestCard;
  /** Card options after `vscard --connect 127.0.0.1:PORT`. */
  readonly args: readonly string[];
  /** Extra environment (SOFTHSM2_CONF for the token run). */
  readonly env?: Record<string, string>;
}

/** Starts QEMU and the card, waits for the guest to power off. */
async function runGuest(kernel: string, initrd: string, run: CardRun): Promise<Run> {
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
          ...["-append", `console=ttyS0 panic=-1 quiet cacard.watchdog=${GUEST_WATCHDOG_S} cacard.pin=${run.card.pin}`],
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

    card = spawn(process.execPath, [CLI, "vscard", "--connect", `127.0.0.1:${port}`, ...run.args], {
      cwd: ROOT,
      env: { ...process.env, ...run.env },
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

const SAMPLE_CERTS = [1, 2, 3].map((n) => ({ cn: `cert${n}`, bits: 2048 }));

/** `--personality piv`: the PIV driver; a 6-digit card PIN apart from the DB password (docs/piv.md). */
const PIV_CARD: GuestCard = {
  name: "piv",
  atr: PIV_ATR,
  pin: "123456",
  cardName: /Personal Identity Verification Card/,
  // OpenSC's PIV emulation lists the PIN and the PUK.
  pins: 2,
  keys: SAMPLE_CERTS,
  tokenLabel: /token label\s*:\s*cert1/,
  manufacturer: /token manufacturer\s*:\s*piv_II/,
  keyId: "01",
  certPem: SAMPLE_CAC.certPem,
};

/** `--personality cac+piv`: libcacard's ATR, and OpenSC's PIV driver (its default for a dual card). */
const DUAL_CARD: GuestCard = { ...PIV_CARD, name: "cac+piv", atr: SAMPLE_CAC.atr, pin: SAMPLE_CAC.pin };

/** Host mode: a CAC over the SoftHSM2 token of test/tokens/pkcs11 (RSA-2048 and RSA-4096 picked by label). */
const HSM_CARD: GuestCard = {
  ...SAMPLE_CAC,
  name: "softhsm",
  pin: "77777777",
  keys: [
    { cn: "cacard pkcs11 RSA-2048", bits: 2048 },
    { cn: "cacard pkcs11 RSA-4096", bits: 4096 },
  ],
  tokenLabel: /token label\s*:\s*cacard pkcs11 RSA-2048/,
  certPem: join(FIXTURES, "rsa2048.cert.pem"),
};

const dirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

describe.skipIf(skip)("guest end to end: OpenSC in a QEMU guest over usb-ccid + ccid-card-passthru", () => {
  let guest: { kernel: string; initrd: string; buildMs: number; log: string } | undefined;

  beforeAll(async () => {
    if (missingTools.length > 0) return; // the first test reports it
    const t0 = Date.now();
    const built = await run("bash", [BUILD_SCRIPT, CACHE], BUILD_TIMEOUT_MS);
    guest = { kernel: join(CACHE, "vmlinuz"), initrd: join(CACHE, "initrd.gz"), buildMs: Date.now() - t0, log: built.stderr };
  }, BUILD_TIMEOUT_MS + 10_000);

  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  async function endToEnd(make: () => CardRun): Promise<void> {
    const t0 = Date.now();
    expect(missingTools, "tools the guest test needs (install them; see test/interop/qemu/guest/README.md)").toEqual([]);
    expect(existsSync(CLI), `${CLI} missing: run npm run build first`).toBe(true);
    expect(guest && existsSync(guest.kernel) && existsSync(guest.initrd), guest?.log).toBe(true);
    const cardRun = make();
    const { card } = cardRun;

    const r = await runGuest(guest!.kernel, guest!.initrd, cardRun);
    // CACARD_KEEP_INTEROP=1: keep the serial log of every run for a look afterwards.
    if (process.env.CACARD_KEEP_INTEROP === "1") {
      const kept = join(tmpdir(), `cacard-guest-${card.name.replace(/\W/g, "-")}.serial.log`);
      writeFileSync(kept, r.serial);
      console.log(`[guest-e2e ${card.name}] serial log kept in ${kept}`);
    }
    const transcript = `--- serial ---\n${r.serial}\n--- card ---\n${r.cardLog}\n--- qemu stderr ---\n${r.qemuStderr}`;
    // The card side: QEMU took the reader and the card (status lines of `cacard vscard`).
    expect(r.cardLog, transcript).toMatch(/reader 0 attached/);
    expect(r.cardLog, transcript).toMatch(new RegExp(`card inserted reader=0 atr=${card.atr}`, "i"));
    expectGuestSigned(r.serial, card, transcript);

    const done = /==CACARD-DONE failed=(\d+) uptime=([\d.]+)==/.exec(r.serial);
    const guestReady = /==CACARD-INFO card-ready uptime=([\d.]+)==/.exec(r.serial)?.[1];
    console.log(
      `[guest-e2e ${card.name}] initramfs ${seconds(guest!.buildMs)} s; QEMU start → card ready ${r.cardReadyMs === null ? "?" : seconds(r.cardReadyMs)} s ` +
        `(guest uptime ${guestReady} s); QEMU run ${seconds(r.qemuMs)} s (guest uptime at power-off ${done?.[2]} s); ` +
        `test ${seconds(Date.now() - t0)} s`,
    );
  }

  it(
    "CAC (libcacard's personality): names the CAC, lists its PIN and 3 RSA keys, and signs with cert1's key",
    () => endToEnd(() => ({ card: SAMPLE_CAC, args: ["--db", DB] })),
    TEST_TIMEOUT_MS,
  );

  it(
    "--personality piv, card PIN apart from the DB password: OpenSC's PIV driver lists 3 keys and signs with 9A",
    () =>
      endToEnd(() => {
        const dir = tempDir("cacard-guest-piv-");
        writeFileSync(join(dir, "db-password.txt"), "12345678\n", { mode: 0o600 });
        writeFileSync(join(dir, "pin.txt"), `${PIV_CARD.pin}\n`, { mode: 0o600 });
        return {
          card: PIV_CARD,
          args: ["--personality", "piv", "--db", DB_PW, "--password-file", join(dir, "db-password.txt"), "--pin-file", join(dir, "pin.txt")],
        };
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    "--personality cac+piv: the dual card, taken by OpenSC's PIV driver, signs with 9A",
    () => endToEnd(() => ({ card: DUAL_CARD, args: ["--personality", "cac+piv", "--db", DB] })),
    TEST_TIMEOUT_MS,
  );

  it.skipIf(skipHsm)(
    "--pkcs11 SoftHSM2 (host mode): the guest signs with a key that stays on the token",
    () =>
      endToEnd(() => {
        expect(missingHsm, "SoftHSM2 and pkcs11js (CI=true: missing is a failure)").toEqual([]);
        const env = makeSoftHsmToken(tempDir("cacard-guest-hsm-"));
        return {
          card: HSM_CARD,
          args: ["--pkcs11", SOFTHSM_MODULE, "--token", SOFTHSM_LABEL, "--cert", "rsa2048", "--cert", "rsa4096"],
          env: { SOFTHSM2_CONF: env.SOFTHSM2_CONF },
        };
      }),
    TEST_TIMEOUT_MS,
  );
});
