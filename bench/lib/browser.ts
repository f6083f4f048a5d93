/**
 * The browser row: the page's raw RSA-2048 private operation (BigInt CRT with
 * blinding, src/web/crypto/rsa-raw.ts, as bundled in dist/web/cacard-web.js)
 * in Debian's Chromium, against node:crypto's privateDecrypt with
 * RSA_NO_PADDING (OpenSSL) on the same key and input. The page is served by
 * the built `cacard web`; Chromium is driven by playwright-core. Both
 * processes are started here and stopped by their PIDs / by Playwright.
 */
import { spawn } from "node:child_process";
import { constants, createPrivateKey, privateDecrypt } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { CLI, ROOT } from "./paths.js";
import { measured, type Measured } from "./stats.js";

export const CHROMIUM = process.env.CACARD_CHROMIUM || "/usr/bin/chromium";

export interface BrowserRsaResult {
  chromium: string;
  /** ms per RSA-2048 raw private operation, per run (each run the mean of `batch` operations). */
  page: Measured;
  node: Measured;
  /** page / node, median of the per-run ratios. */
  ratio: number;
  batch: number;
  outputsEqual: boolean;
}

/** A PKCS#1-shaped block below the modulus, fixed (no randomness in the input). */
function fixedInput(): Uint8Array {
  const input = new Uint8Array(256).fill(0xa5);
  input[0] = 0x00;
  input[1] = 0x01;
  return input;
}

export async function measureBrowserRsa(runs: number, batch = 20): Promise<BrowserRsaResult> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not installed (Debian package chromium)`);
  if (!existsSync(join(ROOT, "dist/web/cacard-web.js"))) throw new Error("dist/web missing: npm run build");
  const { chromium } = await import("playwright-core");
  const keyPem = readFileSync(join(ROOT, "certs-sample/pem/cert1.key"), "utf8");
  const input = fixedInput();

  const web = spawn(process.execPath, [CLI, "web", "--port", "0"], { stdio: ["ignore", "pipe", "ignore"] });
  const kill = setTimeout(() => web.kill("SIGKILL"), 300_000);
  let browser: Awaited<ReturnType<typeof chromium.launch>> | null = null;
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      web.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) resolve(m[1]);
      });
      web.once("exit", (code) => reject(new Error(`cacard web exited (${code})`)));
      setTimeout(() => reject(new Error("cacard web did not start")), 15_000);
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, timeout: 30_000 });
    const page = await browser.newPage();
    await page.goto(url, { timeout: 15_000 });
    const pageRuns: number[] = await page.evaluate(
      async ({ runs, batch, inputHex }) => {
        const m = await import(new URL("cacard-web.js", (globalThis as unknown as { location: { href: string } }).location.href).href);
        const certificate = new Uint8Array(await (await fetch("sample/cert1.pem")).arrayBuffer());
        const key = new Uint8Array(await (await fetch("sample/cert1.key")).arrayBuffer());
        const token = await m.BrowserToken.open([{ label: "cert1", certificate, key }]);
        const login = await token.login();
        const rsa = login.session.key(0);
        const data = Uint8Array.from(inputHex.match(/../g)!.map((h: string) => parseInt(h, 16)));
        for (let i = 0; i < 5; i++) await rsa.rsaRaw(data); // warm-up (JIT)
        const out: number[] = [];
        for (let r = 0; r < runs; r++) {
          const t0 = performance.now();
          for (let i = 0; i < batch; i++) await rsa.rsaRaw(data);
          out.push((performance.now() - t0) / batch);
        }
        (globalThis as unknown as { lastOutput: string }).lastOutput = Array.from(await rsa.rsaRaw(data), (b: number) => b.toString(16).padStart(2, "0")).join("");
        return out;
      },
      { runs, batch, inputHex: Buffer.from(input).toString("hex") },
    );
    const pageOutput = await page.evaluate(() => (globalThis as unknown as { lastOutput: string }).lastOutput);

    const keyObject = createPrivateKey(keyPem);
    const op = () => privateDecrypt({ key: keyObject, padding: constants.RSA_NO_PADDING }, input);
    for (let i = 0; i < 5; i++) op();
    const nodeRuns: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      for (let i = 0; i < batch; i++) op();
      nodeRuns.push((performance.now() - t0) / batch);
    }
    const ratios = pageRuns.map((p, i) => p / nodeRuns[i]);
    return {
      chromium: browser.version(),
      page: measured(pageRuns),
      node: measured(nodeRuns),
      ratio: measured(ratios).value,
      batch,
      outputsEqual: pageOutput === op().toString("hex"),
    };
  } finally {
    await Promise.race([browser?.close(), new Promise((r) => setTimeout(r, 10_000))]);
    clearTimeout(kill);
    if (web.exitCode === null) web.kill("SIGTERM");
  }
}
