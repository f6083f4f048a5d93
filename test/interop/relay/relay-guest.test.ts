/**
 * The issue's "done when", in CI: a QEMU guest's OpenSC reads a card that
 * lives in the host's pcscd and signs with it, through
 *
 *   guest OpenSC → pcscd → libccid → usb-ccid → ccid-card-passthru
 *     → VSCard → `cacard relay --reader "Virtual PCD 00 00" --connect ...`
 *     → host pcscd → vpcd → the card
 *
 * and the signature verifies on the host (guest-checks.ts, as for the
 * emulated card in test/interop/qemu/guest/e2e.test.ts). The card is
 * `cacard vpcd`, and libcacard 2.8's own card where libcacard-dev and gcc are
 * installed (bench/libcacard/vpcd-libcacard.c). Everything but the guest
 * build runs in fresh namespaces (relay-guest.sh).
 *
 * Skips when the tools are missing, unless CI=true, where that is a failure.
 * The guest is built (or reused) in $CACARD_GUEST_CACHE (default
 * /tmp/cacard-guest-cache); the first build downloads ~70 MB from Debian.
 */
import { afterAll, describe, expect, it } from "vitest";
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { BUILT_CLI, REPO_ROOT, StepResults, findExecutable, interopGate, runInNamespace } from "../lib/namespace.js";
import { BUILD_SCRIPT, SAMPLE_CAC, expectGuestSigned } from "../qemu/guest/guest-checks.js";

const CACHE = process.env.CACARD_GUEST_CACHE || "/tmp/cacard-guest-cache";
const CAC_ATR = "3B7A18000073667465206364313434";
const VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
const BUILD_TIMEOUT_MS = 150_000;
const GUEST_TIMEOUT_S = 150;
const RUN_LIMIT_MS = (GUEST_TIMEOUT_S + 40) * 1000;

const gate = interopGate({
  tools: ["qemu-system-x86_64", "pcscd", "apt-get", "apt-cache", "dpkg-deb", "cpio", "gzip", "opensc-tool", "pkcs15-tool", "pkcs11-tool", "openssl", "ip", "timeout"],
  files: [VPCD_DRIVER, "/usr/lib/x86_64-linux-gnu/libpcsclite.so.1", resolve(REPO_ROOT, "node_modules/koffi")],
  namespaces: true,
});
const haveLibcacard =
  findExecutable("gcc") !== null && spawnSync("pkg-config", ["--exists", "libcacard"], { timeout: 10_000 }).status === 0;
const dirs: string[] = [];

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")} failed: ${err.message}\n${stderr}`));
      else resolvePromise({ stdout, stderr });
    });
  });
}

/** The guest kernel and initramfs (built outside the namespaces: it downloads packages). */
async function guest(): Promise<{ kernel: string; initrd: string }> {
  await run("bash", [BUILD_SCRIPT, CACHE], BUILD_TIMEOUT_MS);
  const kernel = join(CACHE, "vmlinuz");
  const initrd = join(CACHE, "initrd.gz");
  expect(existsSync(kernel) && existsSync(initrd), `guest build in ${CACHE}`).toBe(true);
  return { kernel, initrd };
}

async function libcacardBridge(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "cacard-relay-bridge-"));
  dirs.push(dir);
  const out = join(dir, "vpcd-libcacard");
  const flags = (await run("pkg-config", ["--cflags", "--libs", "libcacard"], 10_000)).stdout.trim().split(/\s+/);
  await run("gcc", ["-O2", "-Wall", "-o", out, join(REPO_ROOT, "bench/libcacard/vpcd-libcacard.c"), ...flags], 60_000);
  return out;
}

async function relayIntoGuest(card: "cacard" | "libcacard", bridge?: string): Promise<void> {
  const { kernel, initrd } = await guest();
  const out = mkdtempSync(join(tmpdir(), `cacard-relay-guest-${card}-out-`));
  const work = mkdtempSync(join(tmpdir(), `cacard-relay-guest-${card}-work-`));
  dirs.push(work);
  if (process.env.CACARD_KEEP_INTEROP !== "1") dirs.push(out);
  const result = await runInNamespace({
    script: resolve(__dirname, "relay-guest.sh"),
    args: [out, work],
    env: {
      REPO: REPO_ROOT,
      NODE_BIN: process.execPath,
      CACARD_CLI: BUILT_CLI,
      KERNEL: kernel,
      INITRD: initrd,
      CARD: card,
      GUEST_TIMEOUT_S: String(GUEST_TIMEOUT_S),
      ...(bridge ? { BRIDGE: bridge } : {}),
    },
    timeoutMs: RUN_LIMIT_MS,
  });
  const r = new StepResults(out);
  const serial = r.file("serial.log");
  const relayLog = r.file("relay.log");
  const transcript =
    `--- serial ---\n${serial}\n--- relay ---\n${relayLog}\n--- card ---\n${r.file("card.log")}\n` +
    `--- qemu ---\n${r.file("qemu.log")}\n--- namespace ---\n${result.stderr}`;
  expect(result.timedOut, transcript).toBe(false);
  expect(result.stderr, transcript).toContain("scenario done");

  // The relay: the host card's ATR went to QEMU, and the relay stopped cleanly.
  expect(relayLog, transcript).toContain(`cacard relay: host card present atr=${CAC_ATR} protocol=T=0`);
  expect(relayLog, transcript).toContain(`cacard relay: card inserted reader=0 atr=${CAC_ATR}`);
  expect(relayLog, transcript).not.toMatch(/warning|protocol error/);
  expect(r.note("relay_exit"), transcript).toBe("0");
  // The guest's APDUs reached the card through the host's pcscd.
  expect(r.file("pcscd.log").match(/APDU: /g)?.length ?? 0, transcript).toBeGreaterThan(50);

  expectGuestSigned(serial, SAMPLE_CAC, transcript);
  const seconds = Number(r.note("qemu_ended")) - Number(r.note("qemu_started"));
  console.log(`[relay-guest ${card}] guest ran ${seconds.toFixed(1)} s; run ${(result.durationMs / 1000).toFixed(1)} s`);
}

describe.skipIf(gate.skip)("cacard relay: OpenSC in a QEMU guest signs with a card in the host's pcscd", () => {
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("has its prerequisites (CI=true: missing tools are a failure)", () => {
    expect(gate.missing).toEqual([]);
  });

  it.runIf(!gate.fail)("cacard vpcd's card, relayed: the guest names the CAC and signs; the host verifies", () => relayIntoGuest("cacard"), RUN_LIMIT_MS + BUILD_TIMEOUT_MS);

  it.runIf(!gate.fail && (haveLibcacard || process.env.CI === "true"))(
    "libcacard 2.8's own card, relayed: the same",
    async () => {
      expect(haveLibcacard, "libcacard-dev and gcc (CI=true)").toBe(true);
      await relayIntoGuest("libcacard", await libcacardBridge());
    },
    RUN_LIMIT_MS + BUILD_TIMEOUT_MS,
  );
});
