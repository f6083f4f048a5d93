/**
 * `npm run bench`: cacard's APDU throughput, side by side with libcacard and
 * `openssl speed` measured in the same run. Ratios are the headline; each
 * figure is the median of several runs. Writes bench/results/latest.{md,json}.
 *
 * Two views:
 *  - in-process: operations per second through VirtualCard.transmit;
 *  - line protocol: the same APDU script piped through `cacard apdu` and
 *    through test/harness/cacard-ref (libcacard), so both pay the same hex
 *    I/O; process start-up is measured separately and subtracted.
 */
import "reflect-metadata";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { openKeyStore } from "../src/keystore/open.js";
import { createCacCard } from "../src/cac/cac-card.js";
import type { VirtualCard } from "../src/card/card.js";
import { fromHex, toHex } from "../src/util/bytes.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const DB = join(ROOT, "certs-sample/nssdb");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 0.5);

/** One benchmarked operation: the APDUs of one logical operation. */
interface Op {
  name: string;
  setup: string[];
  apdus: string[];
}

const SIGN_BLOCK =
  "0001" + "FF".repeat(256 - 3 - 51) + "00" + "3031300D060960864801650304020105000420" + "5A".repeat(32);

function readCertOps(certLength: number): string[] {
  // OpenSC style: length of both buffers, then 240-byte chunks of the value buffer.
  const out = ["8052000002010202", "805200020201 0A0A".replace(" ", ""), "8052000002020202"];
  const total = certLength + 3;
  const h = (x: number) => x.toString(16).padStart(2, "0").toUpperCase();
  for (let off = 2; off < total; off += 240) {
    const n = Math.min(240, total - off);
    out.push(`8052${h(off >> 8)}${h(off & 0xff)}0202${h(n)}${h(n)}`);
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function inProcess(card: VirtualCard, op: Op): number {
  const setup = op.setup.map(fromHex);
  const apdus = op.apdus.map(fromHex);
  const rates: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    card.powerOn();
    for (const a of setup) card.transmit(a);
    let n = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < SECONDS * 1000) {
      for (let i = 0; i < 50; i++) {
        for (const a of apdus) card.transmit(a);
        n++;
      }
      elapsed = performance.now() - start;
    }
    rates.push((n * 1000) / elapsed);
  }
  return median(rates);
}

function timeProcess(cmd: string, args: string[], input: string): number {
  const start = performance.now();
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 30, stdio: ["pipe", "ignore", "pipe"] });
  const ms = performance.now() - start;
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  return ms;
}

/** ops/s over the line protocol, start-up subtracted. */
function lineProtocol(cmd: string, args: string[], op: Op, count: number): number {
  const body = op.apdus.join("\n") + "\n";
  const input = op.setup.join("\n") + "\n" + body.repeat(count);
  const rates: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const empty = timeProcess(cmd, args, op.setup.join("\n") + "\n");
    const full = timeProcess(cmd, args, input);
    rates.push((count * 1000) / Math.max(1, full - empty));
  }
  return median(rates);
}

function opensslSpeed(): number | undefined {
  try {
    const out = execFileSync("openssl", ["speed", "-seconds", "2", "rsa2048"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const line = out.split("\n").find((l) => /^rsa\s+2048 bits/.test(l));
    return line ? Number(line.trim().split(/\s+/)[5]) : undefined;
  } catch {
    return undefined;
  }
}

function libcacardRef(): string | undefined {
  const r = spawnSync("bash", [join(ROOT, "test/harness/build.sh")], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim().split("\n").pop() : undefined;
}

async function main(): Promise<void> {
  const store = await openKeyStore({ db: DB, nicknames: ["cert1", "cert2", "cert3"] });
  const card = createCacCard(store, { libcacardStrict: true });
  const certLength = store.credentials[0].certificate.length;
  const ops: Op[] = [
    { name: "SELECT (PKI 0, Le=00)", setup: [], apdus: ["00A4040007A000000079010000"] },
    { name: "GET PROPERTIES (PKI 0)", setup: ["00A4040007A000000079010000"], apdus: ["8056010020"] },
    { name: `READ BUFFER, whole certificate (${readCertOps(certLength).length} APDUs)`, setup: ["00A4040007A000000079010000"], apdus: readCertOps(certLength) },
    { name: "VERIFY", setup: [], apdus: ["00200000083132333435363738"] },
    {
      name: "SIGN RSA-2048 (240+16 chained, GET RESPONSE)",
      setup: ["00A4040007A000000079010000"],
      apdus: [`80428000F0${SIGN_BLOCK.slice(0, 480)}`, `8042000010${SIGN_BLOCK.slice(480)}`, "00C0000000"],
    },
  ];
  // Sanity: the sign op really signs.
  card.powerOn();
  card.transmit(fromHex(ops[4].setup[0]));
  for (const a of ops[4].apdus.slice(0, 2)) card.transmit(fromHex(a));
  const sig = toHex(card.transmit(fromHex("00C0000000")));
  if (!sig.endsWith("9000") || sig.length !== 516) throw new Error("sign benchmark did not sign");

  const ref = libcacardRef();
  const cli = [join(ROOT, "dist/src/cli/main.js"), "apdu", "--libcacard-strict", "--db", DB];
  const rows: Record<string, unknown>[] = [];
  for (const op of ops) {
    const count = op.name.startsWith("SIGN") ? 400 : 20000;
    const inproc = inProcess(card, op);
    const viaCli = lineProtocol(process.execPath, cli, op, count);
    const viaRef = ref ? lineProtocol(ref, [DB], op, count) : undefined;
    rows.push({ op: op.name, cacardInProcess: inproc, cacardLine: viaCli, libcacardLine: viaRef, ratio: viaRef ? viaCli / viaRef : undefined });
    process.stderr.write(`${op.name}: ${inproc.toFixed(0)}/s in-process, ${viaCli.toFixed(0)}/s cli, ${viaRef?.toFixed(0) ?? "n/a"}/s libcacard\n`);
  }
  const openssl = opensslSpeed();
  const signRow = rows[rows.length - 1];
  const md = [
    `# cacard benchmark (${new Date().toISOString()})`,
    "",
    `Node ${process.version}; median of ${RUNS} runs. "line" = the same APDU script through \`cacard apdu\` and through`,
    "libcacard's reference runner (test/harness/cacard-ref), start-up subtracted; ratio = cacard / libcacard.",
    ref ? "" : "**libcacard harness not available (libcacard-dev not installed): no libcacard column.**",
    "",
    "| operation | cacard in-process ops/s | cacard line ops/s | libcacard line ops/s | ratio |",
    "|---|---:|---:|---:|---:|",
    ...rows.map((r) =>
      `| ${r.op} | ${(r.cacardInProcess as number).toFixed(0)} | ${(r.cacardLine as number).toFixed(0)} | ${r.libcacardLine ? (r.libcacardLine as number).toFixed(0) : "n/a"} | ${r.ratio ? (r.ratio as number).toFixed(2) + "x" : "n/a"} |`,
    ),
    "",
    openssl
      ? `RSA-2048 sign: \`openssl speed rsa2048\` ${openssl.toFixed(0)}/s; cacard through APDUs in-process ${(signRow.cacardInProcess as number).toFixed(0)}/s = **${((signRow.cacardInProcess as number) / openssl).toFixed(2)}x** openssl.`
      : "`openssl speed` not available.",
    "",
  ].join("\n");
  const outDir = join(ROOT, "bench/results");
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "latest.md"), md);
  writeFileSync(join(outDir, "latest.json"), JSON.stringify({ date: new Date().toISOString(), node: process.version, runs: RUNS, rows, opensslRsa2048SignPerSecond: openssl }, null, 2));
  process.stdout.write(md);
}

main().catch((e) => {
  process.stderr.write(`bench: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
