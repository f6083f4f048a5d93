/**
 * The card in a real browser tab against real QEMU: Debian's Chromium driven
 * by playwright-core (no browser download), the page served by the built
 * `cacard web`, and QEMU's ccid-card-passthru on a WebSocket chardev.
 *
 *  1. guest-less (-S): the sample card loads; the page loads encrypted PKCS#8 files with their
 *     password, connects, and QEMU accepts its ATR (passthru's debug
 *     output); remove and insert from the page reach QEMU too;
 *  2. with the tiny guest (test/interop/qemu/guest): the page loads
 *     certs-sample/pem's certificates and keys from files, OpenSC in the
 *     guest reads the card and signs with cert1's key after a PIN login, and
 *     the signature verifies here. A screenshot of the page after the guest
 *     signed goes to docs/images/browser-card.png (CACARD_SCREENSHOT overrides).
 *
 * With CI=true both run and fail when a tool is missing; without CI they are
 * skipped when Chromium or QEMU is not installed. Loopback only; every
 * process is started here and stopped by its PID (Chromium by Playwright).
 */
import { afterEach, describe, expect, it } from "vitest";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { BUILT_CLI, QEMU, REPO_ROOT, findOnPath, freePort, isListening, killAll, startProc, until, type Proc } from "../interop/qemu/harness.js";
import { BUILD_SCRIPT, expectGuestSignedWithCac } from "../interop/qemu/guest/guest-checks.js";

const CI = /^(1|true|yes)$/i.test(process.env.CI ?? "");
const CHROMIUM = process.env.CACARD_CHROMIUM || "/usr/bin/chromium";
const haveTools = existsSync(CHROMIUM) && findOnPath(QEMU) !== null;
const run = CI || haveTools;
if (!run) console.warn(`[browser] skipped: needs ${CHROMIUM} and ${QEMU}`);

const CAC_ATR = "3b7a18000073667465206364313434";
const PIN = "12345678";
const CACHE = process.env.CACARD_GUEST_CACHE || "/tmp/cacard-guest-cache";
const SCREENSHOT = process.env.CACARD_SCREENSHOT || join(REPO_ROOT, "docs/images/browser-card.png");
const PEM = (dir: string, ...names: string[]) => names.map((n) => join(REPO_ROOT, "certs-sample", dir, n));
const SAMPLE_FILES = ["cert1.pem", "cert1.key", "cert2.pem", "cert2.key", "cert3.pem", "cert3.key"];

interface PageStatus {
  state: string;
  detail: string;
  apdus: number;
  loads: number;
  credentials: { label: string; subject: string; key: string }[];
  events: string[];
  error: string;
}

let browser: Browser | null = null;
afterEach(async () => {
  // Playwright closes the Chromium it launched (and kills it if it does not go).
  await Promise.race([browser?.close(), new Promise((r) => setTimeout(r, 10_000))]);
  browser = null;
  await killAll();
});

/** `cacard web --port 0`; resolves to the page's URL. */
async function startWeb(): Promise<{ proc: Proc; url: string }> {
  const proc = startProc("cacard-web", process.execPath, [BUILT_CLI, "web", "--port", "0"], 280_000);
  const at = await proc.waitLine(/serving http:\/\/127\.0\.0\.1:\d+\//, 15_000);
  return { proc, url: /(http:\/\/\S+)/.exec(proc.lines[at])![1] };
}

/** QEMU with passthru on a WebSocket chardev; stdout line-buffered so passthru's debug lines show live. */
async function startQemuWs(port: number, args: string[], hardMs: number): Promise<Proc> {
  const chardev = `socket,id=ccid,host=127.0.0.1,port=${port},server=on,wait=off,websocket=on,nodelay=on`;
  const qemu = startProc(
    "qemu",
    "stdbuf",
    [
      "-oL",
      QEMU,
      ...["-nodefaults", "-display", "none", "-M", "q35", "-accel", "tcg"],
      ...args,
      // UHCI, not qemu-xhci: QEMU 7.2's usb-ccid under xHCI garbles 54-byte responses.
      ...["-device", "ich9-usb-uhci1", "-device", "usb-ccid,id=ccid0"],
      ...["-chardev", chardev, "-device", "ccid-card-passthru,chardev=ccid,debug=4"],
    ],
    hardMs,
  );
  await until(() => isListening(port) || qemu.exited !== null, 20_000, `QEMU listening on ${port}`);
  if (qemu.exited !== null) throw new Error(`QEMU exited: ${qemu.output}`);
  return qemu;
}

async function openPage(url: string): Promise<{ page: Page; consoleLines: string[] }> {
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, timeout: 30_000 });
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  const consoleLines: string[] = [];
  page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));
  await page.goto(url, { timeout: 15_000 });
  return { page, consoleLines };
}

const status = (page: Page) => page.evaluate(() => (globalThis as unknown as { cacard: PageStatus }).cacard);

async function waitState(page: Page, state: string, timeoutMs: number, context: () => string): Promise<void> {
  try {
    await page.waitForFunction((s) => (globalThis as unknown as { cacard: PageStatus }).cacard.state === s, state, { timeout: timeoutMs });
  } catch (e) {
    throw new Error(`page never reached ${state}: ${JSON.stringify(await status(page))}\n${context()}\n${(e as Error).message}`);
  }
}

/** Picks files in the page's file input and loads them; returns the credentials it shows. */
async function loadFiles(page: Page, files: string[], password = ""): Promise<PageStatus> {
  await page.setInputFiles("#files", files);
  await page.fill("#password", password);
  await clickAndLoad(page, "#load");
  return status(page);
}

/** Clicks a button that loads a card and waits for that load to finish. */
async function clickAndLoad(page: Page, selector: string): Promise<void> {
  const before = (await status(page)).loads;
  await page.click(selector);
  await page.waitForFunction((n) => (globalThis as unknown as { cacard: PageStatus }).cacard.loads > n, before, { timeout: 15_000 });
}

async function connect(page: Page, wsPort: number): Promise<void> {
  await page.fill("#url", `ws://127.0.0.1:${wsPort}/`);
  await page.click("#connect");
}

describe.runIf(run)("the browser card (Chromium) against QEMU's WebSocket chardev", () => {
  it("guest-less: encrypted keys from files, QEMU accepts the ATR, remove/insert from the page", async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} (Debian package chromium) is required`).toBe(true);
    expect(existsSync(BUILT_CLI), "run npm run build first").toBe(true);
    const web = await startWeb();
    const wsPort = await freePort();
    const qemu = await startQemuWs(wsPort, ["-S"], 90_000);
    const { page, consoleLines } = await openPage(web.url);
    const context = () => `--- qemu ---\n${qemu.output}\n--- console ---\n${consoleLines.join("\n")}`;

    // The bundled sample card is one click, and says its keys are public.
    await clickAndLoad(page, "#sample");
    expect((await status(page)).credentials.map((c) => c.label)).toEqual(["cert1", "cert2", "cert3"]);
    expect(await page.isVisible("#sample-note")).toBe(true);
    expect(await page.textContent("#sample-note")).toMatch(/public test keys/);

    // A wrong password is refused in the page, the right one opens the keys.
    const wrong = await loadFiles(page, PEM("pem-enc", ...SAMPLE_FILES), "not-the-password");
    expect(wrong.error).toMatch(/wrong password/);
    const loaded = await loadFiles(page, PEM("pem-enc", ...SAMPLE_FILES), PIN);
    expect(loaded.error).toBe("");
    expect(loaded.credentials).toEqual(["cert1", "cert2", "cert3"].map((l) => ({ label: l, subject: `CN=${l}`, key: "RSA 2048" })));

    await connect(page, wsPort);
    await waitState(page, "card-inserted", 15_000, context);
    const events = (await status(page)).events;
    expect(events, context()).toContain("reader-attached");
    expect(events.filter((e) => e === "warning" || e === "protocol-error"), context()).toEqual([]);
    // ccid-card-passthru's own account: the ATR arrived and passed its check.
    await qemu.waitLine(/VSC_ATR 15/, 10_000);
    await qemu.waitLine(/atr passes check/, 10_000);

    await page.click("#remove");
    await waitState(page, "card-removed", 10_000, context);
    await qemu.waitLine(/VSC_CardRemove/, 10_000);
    const atrs = qemu.count(/VSC_ATR 15/);
    await page.click("#insert");
    await waitState(page, "card-inserted", 10_000, context);
    await until(() => qemu.count(/VSC_ATR 15/) > atrs, 10_000, "a second ATR in QEMU");

    await page.click("#disconnect");
    await waitState(page, "disconnected", 10_000, context);
    expect(consoleLines.filter((l) => l.startsWith("pageerror")), context()).toEqual([]);
  }, 120_000);

  const guestTools = ["apt-get", "dpkg-deb", "cpio", "gzip", "pcscd", "opensc-tool", "openssl"];
  const guestRun = CI || guestTools.every((t) => findOnPath(t) !== null || existsSync(`/usr/sbin/${t}`));
  it.runIf(guestRun)("OpenSC in a QEMU guest signs with the key held by the page", async () => {
    const build = startProc("guest-build", "bash", [BUILD_SCRIPT, CACHE], 160_000);
    await build.waitExit();
    expect(build.exited, build.output).toBe(0);
    const web = await startWeb();
    const { page, consoleLines } = await openPage(web.url);
    const loaded = await loadFiles(page, PEM("pem", ...SAMPLE_FILES));
    expect(loaded.error).toBe("");
    expect(loaded.credentials.map((c) => c.label)).toEqual(["cert1", "cert2", "cert3"]);

    const wsPort = await freePort();
    const qemu = await startQemuWs(
      wsPort,
      [
        ...["-m", "512", "-kernel", join(CACHE, "vmlinuz"), "-initrd", join(CACHE, "initrd.gz")],
        ...["-append", `console=ttyS0 panic=-1 quiet cacard.watchdog=150 cacard.pin=${PIN}`],
        ...["-no-reboot", "-serial", "stdio"],
      ],
      200_000,
    );
    const transcript = () => `--- serial ---\n${qemu.output}\n--- page ---\n${consoleLines.join("\n")}`;
    await connect(page, wsPort);
    await waitState(page, "card-inserted", 20_000, transcript);

    // Screenshot while the page still holds the connection: right after the guest's signature.
    await until(() => /==CACARD-END sign rc=\d+==/.test(qemu.output) || qemu.exited !== null, 170_000, "the guest's sign step");
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    await until(() => qemu.exited !== null, 60_000, "the guest to power off");

    expectGuestSignedWithCac(qemu.output, CAC_ATR, transcript());
    const after = await status(page);
    expect(after.apdus).toBeGreaterThan(50);
    expect(after.events).not.toContain("protocol-error");
  }, 280_000);
});
