/**
 * `npm run bench`: cacard side by side with libcacard and with `openssl
 * speed`, all measured in the same run on the same machine. Ratios are the
 * headline; every figure is the median of several runs. Writes
 * bench/results/latest.{md,json}. docs/performance.md explains each figure.
 *
 * Sections (BENCH_SECTIONS, comma separated; default all):
 *   inprocess  cacard's VirtualCard.answer (and transmit) vs libcacard's vreader_xfr_bytes
 *              (bench/libcacard/bench-libcacard.c), same APDUs, runs
 *              interleaved; SIGN RSA-2048/3072/4096 vs `openssl speed`
 *   apdutool   the `cacard apdu` tool vs libcacard's replay (cacard-ref) of the
 *              same file: a non-crypto stream, and an RSA-2048 SIGN stream vs
 *              raw node:crypto (BENCH_APDU_LINES, BENCH_APDU_SIGNS)
 *   startup    process start to ATR (`cacard apdu` vs test/harness/cacard-ref)
 *              and the RSS of that process
 *   rss        RSS with 1 and 100 cards in one process, both implementations
 *   vscard     VSCard round trips/s against a fake QEMU host, 1 and 100 readers
 *   vpcd       pkcs15-tool -D and per-APDU latency through pcscd + vpcd
 *              (root + namespaces), with and without a `quickack 1` route
 *   browser    the page's RSA-2048 raw private op (BigInt CRT) in Debian's
 *              Chromium vs node:crypto RSA_NO_PADDING (bench/lib/browser.ts)
 *
 * Environment: BENCH_RUNS (runs per figure, default 5), BENCH_SECONDS
 * (length of one throughput run, default 0.5), BENCH_STARTS (process starts,
 * default 10), BENCH_OUT (result file stem, default "latest"), BENCH_VERBOSE,
 * BENCH_UPDATE_DOCS=1 (also copy the tables into docs/performance.md, between
 * its `<!-- bench:begin -->` and `<!-- bench:end -->` markers).
 */
import "reflect-metadata";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { openKeyStore } from "../src/tokens/open.js";
import { createCacCard } from "../src/core/cac/cac-card.js";
import type { VirtualCard } from "../src/core/card/card.js";
import { rsaBits } from "../src/core/token/types.js";
import { fromHex } from "../src/core/bytes.js";
import { apduOps, signOp, type Op } from "./lib/ops.js";
import { checkCacard, runCacard } from "./lib/inprocess.js";
import { LibcacardBench, buildC } from "./lib/native.js";
import { KEY_SIZES, haveCertutil, makeKeyDb, type KeyDb } from "./lib/keydb.js";
import { opensslRsaSign, opensslVersion } from "./lib/openssl.js";
import { startToAtr, type StartSample } from "./lib/startup.js";
import { measureApduTool, type ApduToolResult } from "./lib/apdu-tool.js";
import { measureVscard } from "./lib/vscard-host.js";
import { runVpcd, type VpcdResult } from "./lib/vpcd.js";
import { measureBrowserRsa, type BrowserRsaResult } from "./lib/browser.js";
import { CLI_V8_FLAGS } from "../src/cli/main.js";
import { CLI, DIST_BENCH, RESULTS_DIR, ROOT, SAMPLE_DB } from "./lib/paths.js";
import { fmt, log, measured, median, spread, type Measured } from "./lib/stats.js";
import "../src/platform/node.js";

const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 5));
const SECONDS = Math.max(0.05, Number(process.env.BENCH_SECONDS ?? 0.5));
const STARTS = Math.max(1, Number(process.env.BENCH_STARTS ?? 10));
const OUT = process.env.BENCH_OUT ?? "latest";
const ALL_SECTIONS = ["inprocess", "apdutool", "startup", "rss", "vscard", "vpcd", "browser"] as const;
const APDU_LINES = Math.max(1000, Number(process.env.BENCH_APDU_LINES ?? 500_000));
const APDU_SIGNS = Math.max(10, Number(process.env.BENCH_APDU_SIGNS ?? 3000));
type Section = (typeof ALL_SECTIONS)[number];
const SECTIONS = new Set<string>((process.env.BENCH_SECTIONS ?? ALL_SECTIONS.join(",")).split(",").map((s) => s.trim()));
const on = (s: Section) => SECTIONS.has(s);

/** The issue's targets. */
const TARGETS = {
  signVsOpenssl: 0.9,
  apduVsLibcacard: 1.5,
  apduToolVsLibcacard: 1.5,
  apduToolSignVsNodeCrypto: 0.95,
  vscardOneReader: 20_000,
  startToAtrMs: 250,
  rssOneCardMB: 80,
  rssHundredCardsMB: 200,
};

const MB = 1e6;

// ---- result model -------------------------------------------------------

interface OpRow {
  id: string;
  name: string;
  kind: "apdu" | "sign";
  bits?: number;
  apdusPerOp: number;
  cacard: Measured;
  libcacard: Measured | null;
  /** Median of the per-run ratios cacard / libcacard (runs are interleaved). */
  ratio: number | null;
  openssl?: Measured | null;
  /** Median of per-run cacard / openssl. */
  vsOpenssl?: number | null;
  libcacardVsOpenssl?: number | null;
  repliesMatch: boolean | null;
  mismatch?: string;
}

interface Target {
  what: string;
  figure: string;
  value: number | null;
  target: string;
  pass: boolean | null;
  /** How far from the target: value / threshold (for ≥) or threshold / value (for ≤). */
  margin: number | null;
  note?: string;
}

interface Results {
  date: string;
  machine: Record<string, unknown>;
  settings: Record<string, unknown>;
  targets: Target[];
  inprocess: { rows: OpRow[]; note?: string } | { skipped: string };
  apdutool: ApduToolResult | { skipped: string };
  startup: StartupResult | { skipped: string };
  rss: Record<string, unknown> | { skipped: string };
  vscard: Record<string, unknown> | { skipped: string };
  vpcd: VpcdResult | { skipped: string };
  browser: BrowserRsaResult | { skipped: string };
  notes: string[];
  durationS: number;
}

interface StartupSummary {
  ms: Measured;
  rssMB: Measured;
  rssAfterOpsMB?: Measured;
  atr: string;
  lastReply: string;
}

interface StartupResult {
  command: string;
  opsAfterAtr: number;
  extraCaCerts: string | null;
  cacard: StartupSummary;
  cacardDefaultEnv: StartupSummary | null;
  libcacard: StartupSummary | null;
  bareNode: StartupSummary | null;
  bareNodeDefaultEnv: StartupSummary | null;
}

const notes: string[] = [];

function note(text: string): void {
  notes.push(text);
  log(`NOTE: ${text}`);
}

// ---- in-process ---------------------------------------------------------

async function loadCard(db: string): Promise<VirtualCard> {
  return createCacCard(await openKeyStore({ db, nicknames: ["cert1", "cert2", "cert3"] }), { libcacardStrict: true });
}

async function sectionInprocess(libBinary: string | null, libReason: string): Promise<Results["inprocess"]> {
  const sample = await loadCard(SAMPLE_DB);
  let keyDb: KeyDb | null = null;
  let keyCard: VirtualCard | null = null;
  const ops: { op: Op; card: VirtualCard; db: string }[] = (await apduOps(sample)).map((op) => ({ op, card: sample, db: SAMPLE_DB }));
  if (haveCertutil()) {
    const t = performance.now();
    keyDb = makeKeyDb();
    log(`NSS DB with RSA-2048/3072/4096 keys made by certutil in ${((performance.now() - t) / 1000).toFixed(1)} s: ${keyDb.dir}`);
    keyCard = await loadCard(keyDb.dir);
    for (const bits of KEY_SIZES) ops.push({ op: await signOp(keyCard, keyDb.pkiIndex(bits), bits), card: keyCard, db: keyDb.dir });
  } else {
    note("certutil not found (libnss3-tools): SIGN is measured with RSA-2048 from certs-sample only; no 3072/4096");
    ops.push({ op: await signOp(sample, 0, 2048), card: sample, db: SAMPLE_DB });
  }
  try {
    // libcacard: one process per database, both driven line by line.
    const libs = new Map<string, LibcacardBench>();
    if (libBinary) {
      for (const db of new Set(ops.map((o) => o.db))) libs.set(db, await LibcacardBench.start(libBinary, db));
      for (const { op, db } of ops) await libs.get(db)!.define(op);
    }
    const rows: OpRow[] = [];
    const match = new Map<string, { ok: boolean | null; why?: string }>();
    for (const { op, card, db } of ops) {
      const lib = libs.get(db);
      if (!lib) {
        match.set(op.id, { ok: null });
        continue;
      }
      const mine = await checkCacard(card, op);
      const theirs = await lib.check(op);
      const i = mine.findIndex((r, k) => r !== theirs[k]);
      match.set(op.id, i < 0 && mine.length === theirs.length ? { ok: true } : { ok: false, why: `APDU ${i + 1}: cacard ${mine[i]?.slice(-40)} vs libcacard ${theirs[i]?.slice(-40)}` });
      if (i >= 0) note(`${op.name}: cacard and libcacard answer differently (${match.get(op.id)!.why})`);
    }

    // What a promise per APDU costs: transmit() against the answer() hot path, side by side.
    const viaTransmit: number[] = [];
    const selectOp = ops.find(({ op }) => op.kind !== "sign");
    if (selectOp) {
      for (let r = 0; r < RUNS; r++) {
        const a = await runCacard(selectOp.card, selectOp.op, SECONDS, "answer");
        const t = await runCacard(selectOp.card, selectOp.op, SECONDS, "transmit");
        viaTransmit.push(t.rate / a.rate);
      }
      viaTransmit.sort((x, y) => x - y);
      note(
        `${selectOp.op.name} through transmit() (a promise per APDU, awaited in batches) runs at ` +
          `${viaTransmit[Math.floor(viaTransmit.length / 2)].toFixed(2)}x of the answer() hot path the table measures (median of ${RUNS} side-by-side runs)`,
      );
    }
    const rates = new Map<string, { c: number[]; l: number[] }>(ops.map(({ op }) => [op.id, { c: [], l: [] }]));
    const osslRuns: Map<number, number>[] = [];
    const signBits = ops.filter(({ op }) => op.kind === "sign").map(({ op }) => op.bits!);
    log(`in-process: ${ops.length} operations x ${RUNS} runs (+1 warm-up) x ${SECONDS} s, cacard and libcacard interleaved, openssl speed each run`);
    // SIGN runs last as long as one `openssl speed` run (1 s) and openssl runs
    // right after cacard's, for the same key size: on a shared machine the
    // ratio is only meaningful between figures taken side by side.
    const signSeconds = Math.max(SECONDS, 1);
    for (let r = -1; r < RUNS; r++) {
      const ossl = new Map<number, number>();
      let osslOk = signBits.length > 0;
      for (const { op, card, db } of ops) {
        const c = await runCacard(card, op, op.kind === "sign" ? signSeconds : SECONDS);
        const o = op.kind === "sign" && r >= 0 ? opensslRsaSign([op.bits!], 1) : null;
        if (o?.has(op.bits!)) ossl.set(op.bits!, o.get(op.bits!)!);
        else if (op.kind === "sign") osslOk = false;
        const lib = libs.get(db);
        const l = lib ? await lib.run(op, SECONDS) : null;
        if (r >= 0) {
          rates.get(op.id)!.c.push(c.rate);
          if (l) rates.get(op.id)!.l.push(l.rate);
        }
      }
      if (r >= 0) {
        if (osslOk) osslRuns.push(ossl);
        log(`  run ${r + 1}/${RUNS} done`);
      }
    }
    if (osslRuns.length === 0) note("openssl speed failed or is not installed: no RSA limit");
    for (const { op } of ops) {
      const { c, l } = rates.get(op.id)!;
      const ratios = l.length === c.length && l.length > 0 ? c.map((x, k) => x / l[k]) : [];
      const row: OpRow = {
        id: op.id,
        name: op.name,
        kind: op.kind,
        ...(op.bits ? { bits: op.bits } : {}),
        apdusPerOp: op.apdus.length,
        cacard: measured(c),
        libcacard: l.length ? measured(l) : null,
        ratio: ratios.length ? median(ratios) : null,
        repliesMatch: match.get(op.id)?.ok ?? null,
        ...(match.get(op.id)?.why ? { mismatch: match.get(op.id)!.why } : {}),
      };
      if (op.kind === "sign" && op.bits) {
        const o = osslRuns.map((m) => m.get(op.bits!)!).filter((x) => x > 0);
        row.openssl = o.length ? measured(o) : null;
        row.vsOpenssl = o.length === c.length ? median(c.map((x, k) => x / o[k])) : o.length ? median(c) / median(o) : null;
        row.libcacardVsOpenssl = o.length === l.length && l.length ? median(l.map((x, k) => x / o[k])) : null;
      }
      rows.push(row);
      log(`  ${op.name}: cacard ${fmt(row.cacard.value)}/s, libcacard ${fmt(row.libcacard?.value)}/s, ratio ${fmt(row.ratio)}x`);
    }
    for (const lib of libs.values()) await lib.close();
    return { rows, ...(libBinary ? {} : { note: `libcacard not available: ${libReason}` }) };
  } finally {
    keyDb?.cleanup();
  }
}

// ---- start-up and memory -----------------------------------------------

/**
 * The APDUs a card process answers after its ATR before its RSS is read
 * again: the in-process operations (SELECT, GET PROPERTIES, READ BUFFER of a
 * whole certificate, VERIFY) and an RSA-2048 SIGN, which decrypts key 1.
 */
async function startupOps(): Promise<string[]> {
  const card = await loadCard(SAMPLE_DB);
  const ops = [...(await apduOps(card)), await signOp(card, 0, rsaBits(card.keyStore.credentials[0].algorithm))];
  return ops.flatMap((op) => [...op.setup, ...op.apdus]);
}

/**
 * NODE_EXTRA_CA_CERTS makes Node 20 read and parse that CA bundle at every
 * process start, before any script runs (+40-70 ms for Debian's 140
 * certificates on the CI machine, which sets it). Node processes are timed
 * with the environment as it is and, when it is set, once more without it.
 */
const EXTRA_CA = "NODE_EXTRA_CA_CERTS";

async function sectionApduTool(): Promise<ApduToolResult> {
  const ref = spawnSync("bash", [join(ROOT, "test/harness/build.sh")], { encoding: "utf8" });
  const refPath = ref.status === 0 ? ref.stdout.trim().split("\n").pop()! : null;
  if (!refPath) note(`apdu tool: libcacard reference runner not built: ${ref.stderr.trim().split("\n").pop()}`);
  const card = await loadCard(SAMPLE_DB);
  const r = await measureApduTool(card, {
    cli: CLI,
    db: SAMPLE_DB,
    keyPem: join(ROOT, "certs-sample", "pem", "cert1.key"),
    ref: refPath,
    runs: RUNS,
    streamApdus: APDU_LINES,
    signatures: APDU_SIGNS,
    log,
  });
  if (r.stream.outputsMatch === false) note("apdu tool: cacard's and libcacard's outputs differ on the non-crypto stream");
  if (r.sign.outputsMatch === false) note("apdu tool: cacard's and libcacard's outputs differ on the SIGN stream");
  log(
    `  stream: cacard ${fmt(r.stream.cacard.wholeRate.value)}/s whole, ${fmt(r.stream.cacard.steadyRate.value)}/s steady; ` +
      `libcacard ${fmt(r.stream.libcacard?.wholeRate.value)}/s, ${fmt(r.stream.libcacard?.steadyRate.value)}/s; ` +
      `sign: cacard ${fmt(r.sign.cacard.steadyRate.value)}/s steady vs node:crypto ${fmt(r.sign.nodeCrypto.loopRate.value)}/s`,
  );
  return r;
}

async function sectionStartup(): Promise<Results["startup"]> {
  const ref = spawnSync("bash", [join(ROOT, "test/harness/build.sh")], { encoding: "utf8" });
  const refPath = ref.status === 0 ? ref.stdout.trim().split("\n").pop()! : null;
  if (!refPath) note(`libcacard reference runner not built: ${ref.stderr.trim().split("\n").pop()}`);
  const ops = await startupOps();
  const defaultEnv = { ...process.env };
  delete defaultEnv[EXTRA_CA];
  const extraCa = process.env[EXTRA_CA];
  const cacard: StartSample[] = [];
  const cacardDefault: StartSample[] = [];
  const lib: StartSample[] = [];
  const bare: StartSample[] = [];
  const bareDefault: StartSample[] = [];
  const bareArgs = ["-e", "console.log('up'); process.stdin.resume()"];
  const cli = [CLI, "apdu", "--db", SAMPLE_DB];
  log(`start to ATR: ${STARTS} starts each, alternating${extraCa ? `; ${EXTRA_CA} is set, so Node starts are also timed without it` : ""}`);
  for (let i = 0; i < STARTS; i++) {
    cacard.push(await startToAtr(process.execPath, cli, { ops }));
    if (extraCa) cacardDefault.push(await startToAtr(process.execPath, cli, { ops, env: defaultEnv }));
    if (refPath) lib.push(await startToAtr(refPath, [SAMPLE_DB], { ops }));
    bare.push(await startToAtr(process.execPath, bareArgs));
    if (extraCa) bareDefault.push(await startToAtr(process.execPath, bareArgs, { env: defaultEnv }));
  }
  const sum = (xs: StartSample[]) =>
    xs.length
      ? {
          ms: measured(xs.map((s) => s.ms)),
          rssMB: measured(xs.map((s) => (s.rssKb * 1024) / MB)),
          ...(Number.isNaN(xs[0].rssAfterOpsKb) ? {} : { rssAfterOpsMB: measured(xs.map((s) => (s.rssAfterOpsKb * 1024) / MB)) }),
          atr: xs[0].atr,
          lastReply: xs[0].lastReply,
        }
      : null;
  const c = sum(cacard)!;
  const l = sum(lib);
  if (l && l.atr !== c.atr) note(`ATR differs: cacard ${c.atr}, libcacard ${l.atr}`);
  if (l && l.lastReply !== c.lastReply) note(`last reply of the start-up ops differs: cacard ${c.lastReply}, libcacard ${l.lastReply}`);
  if (!c.lastReply.endsWith("9000")) note(`the start-up ops did not end with 9000 (${c.lastReply.slice(-4)})`);
  log(`  cacard ${fmt(c.ms.value)} ms, ${fmt(c.rssMB.value)} MB, after ops ${fmt(c.rssAfterOpsMB?.value)} MB; libcacard ${fmt(l?.ms.value)} ms`);
  return {
    command: "node dist/cli/main.js apdu --db certs-sample/nssdb",
    opsAfterAtr: ops.length,
    extraCaCerts: extraCa ?? null,
    cacard: c,
    cacardDefaultEnv: sum(cacardDefault),
    libcacard: l,
    bareNode: sum(bare),
    bareNodeDefaultEnv: sum(bareDefault),
  };
}

async function sectionRss(libBinary: string | null): Promise<Results["rss"]> {
  const script = join(DIST_BENCH, "rss-cards.js");
  const runs = Math.min(RUNS, 3);
  const cacard = (n: number) => {
    const xs: { vmRssKb: number; heapUsed: number; external: number; arrayBuffers: number; setupMs: number }[] = [];
    for (let r = 0; r < runs; r++) {
      const p = spawnSync(process.execPath, [...CLI_V8_FLAGS, script, SAMPLE_DB, String(n)], { encoding: "utf8", timeout: 300_000 });
      if (p.status !== 0) throw new Error(`rss-cards ${n}: ${p.stderr.trim().split("\n").slice(-3).join(" / ")}`);
      xs.push(JSON.parse(p.stdout.trim().split("\n").pop()!));
    }
    return {
      cards: n,
      rssMB: measured(xs.map((x) => (x.vmRssKb * 1024) / MB)),
      heapUsedMB: measured(xs.map((x) => x.heapUsed / MB)),
      externalMB: measured(xs.map((x) => x.external / MB)),
      setupMs: measured(xs.map((x) => x.setupMs)),
    };
  };
  log(`RSS: 1 and 100 cards in one process, ${runs} runs each`);
  const one = cacard(1);
  const hundred = cacard(100);
  let lib: Record<string, unknown> | null = null;
  if (libBinary) {
    const card = await loadCard(SAMPLE_DB);
    const ops = [...(await apduOps(card)), await signOp(card, 0, rsaBits(card.keyStore.credentials[0].algorithm))];
    const measure = async (n: number) => {
      const xs: number[] = [];
      for (let r = 0; r < runs; r++) {
        const b = await LibcacardBench.start(libBinary, SAMPLE_DB, n);
        for (const op of ops) {
          await b.define(op);
          await b.each(op);
        }
        xs.push(((await b.rssKb()) * 1024) / MB);
        await b.close();
      }
      return { cards: n, rssMB: measured(xs) };
    };
    lib = { one: await measure(1), hundred: await measure(100) };
  }
  log(`  cacard 1 card ${fmt(one.rssMB.value)} MB, 100 cards ${fmt(hundred.rssMB.value)} MB`);
  return {
    what: "VmRSS after opening N key stores, creating N cards, power-on, SELECT + GET PROPERTIES + READ BUFFER (cert 1) + VERIFY + SIGN (RSA-2048) on each",
    cacard: { one, hundred },
    libcacard: lib,
  };
}

// ---- VSCard -------------------------------------------------------------

type Placement = "one CPU" | "two CPUs" | "unpinned";

function canPin(): boolean {
  return os.cpus().length >= 2 && spawnSync("taskset", ["-c", "0", "true"], { stdio: "ignore" }).status === 0;
}

async function sectionVscard(): Promise<Results["vscard"]> {
  const script = join(DIST_BENCH, "vscard-card.js");
  const apdu = fromHex("00A4040007A000000079010000");
  const built = buildC("fake-qemu", "vscard/fake-qemu.c", []);
  if (!built.ok) note(`VSCard: C fake host not built (${built.reason}); using the Node one (bench/lib/vscard-host.ts), whose own cost caps the figures lower`);
  const native = built.ok ? built.path : null;
  const echo = buildC("echo-card", "vscard/echo-card.c", []);
  const pin = native !== null && canPin();
  if (!pin) note("VSCard: taskset or a second CPU not available; host and card run wherever the scheduler puts them");
  const placements: Placement[] = pin ? ["one CPU", "two CPUs"] : ["unpinned"];
  const labels = {
    echo: "limit: minimal C card side (bench/vscard/echo-card.c), answers 90 00",
    raw: "limit for Node: minimal hand-written Node card side, no cacard code, answers 90 00",
    null: "cacard VscardClient + null card (answers 90 00 at once)",
    cac: "cacard VscardClient + CAC card (`cacard vscard` minus the CLI)",
  };
  type Mode = "echo" | "raw" | "null" | "cac";
  const configs: { mode: Mode; readers: number; placement: Placement }[] = [];
  const modes1: Mode[] = echo.ok ? ["echo", "raw", "null", "cac"] : ["raw", "null", "cac"];
  for (const placement of placements) for (const mode of modes1) configs.push({ mode, readers: 1, placement });
  if (pin) configs.push({ mode: "cac", readers: 1, placement: "unpinned" });
  for (const placement of placements) for (const mode of ["raw", "cac"] as const) configs.push({ mode, readers: 100, placement });
  const rows: Record<string, unknown>[] = [];
  for (const c of configs) {
    const cpus = c.placement === "one CPU" ? { host: "0", card: "0" } : c.placement === "two CPUs" ? { host: "0", card: "1" } : null;
    const label = labels[c.mode];
    log(`VSCard: ${c.mode}, ${c.readers} reader(s), ${c.placement}, ${RUNS} runs x ${SECONDS} s`);
    try {
      const r = await measureVscard({ node: process.execPath, nodeFlags: CLI_V8_FLAGS, script, hostBinary: native, mode: c.mode, echoBinary: echo.ok ? echo.path : null, db: SAMPLE_DB, readers: c.readers, apdu, runs: RUNS, seconds: SECONDS, cpus });
      if (c.mode === "cac" && r.firstReply !== "6F0B8407A0000000790100A5009000") note(`VSCard ${label}: unexpected reply ${r.firstReply}`);
      if (r.errors > 0) note(`VSCard ${label}: ${r.errors} APDUs answered with VSC_Error`);
      const m = measured(r.runs);
      rows.push({ ...c, label, roundTrips: m, spread: spread(m) });
      log(`  ${fmt(m.value)} round trips/s`);
    } catch (e) {
      rows.push({ ...c, label, error: (e as Error).message });
      note(`VSCard ${label} (${c.readers} readers, ${c.placement}): ${(e as Error).message}`);
    }
  }
  return { apdu: "00A4040007A000000079010000 (SELECT PKI 0)", outstandingPerReader: 1, host: native ? "bench/vscard/fake-qemu.c" : "bench/lib/vscard-host.ts", rows };
}

// ---- report -------------------------------------------------------------

function pct(x: number | null | undefined): string {
  return x === null || x === undefined || !Number.isFinite(x) ? "n/a" : `${fmt(x, 2)}x`;
}

function pf(t: Target): string {
  if (t.pass === null) return "n/a";
  return t.pass ? "PASS" : "**FAIL**";
}

function buildTargets(res: Results): Target[] {
  const out: Target[] = [];
  const ge = (what: string, figure: string, value: number | null, min: number, unit: string, note?: string): Target => ({
    what,
    figure,
    value,
    target: `>= ${fmt(min)}${unit}`,
    pass: value === null ? null : value >= min,
    margin: value === null ? null : value / min,
    ...(note ? { note } : {}),
  });
  const le = (what: string, figure: string, value: number | null, max: number, unit: string, note?: string): Target => ({
    what,
    figure,
    value,
    target: `<= ${fmt(max)}${unit}`,
    pass: value === null ? null : value <= max,
    margin: value === null ? null : max / value,
    ...(note ? { note } : {}),
  });
  if ("rows" in res.inprocess) {
    const sign = res.inprocess.rows.find((r) => r.id === "sign2048");
    out.push(
      ge(
        "RSA-2048 sign through APDUs vs `openssl speed rsa2048`",
        sign?.vsOpenssl != null ? `${pct(sign.vsOpenssl)} (${fmt(sign.cacard.value)}/s vs ${fmt(sign.openssl?.value)}/s)` : "n/a",
        sign?.vsOpenssl ?? null,
        TARGETS.signVsOpenssl,
        "x",
      ),
    );
    for (const r of res.inprocess.rows.filter((x) => x.kind === "apdu")) {
      out.push(
        ge(
          `${r.name} vs libcacard (in-process)`,
          r.ratio !== null ? `${pct(r.ratio)} (${fmt(r.cacard.value)}/s vs ${fmt(r.libcacard?.value)}/s)` : "libcacard not available",
          r.ratio,
          TARGETS.apduVsLibcacard,
          "x",
        ),
      );
    }
  } else out.push({ what: "in-process throughput", figure: res.inprocess.skipped, value: null, target: "", pass: null, margin: null });
  if ("stream" in res.apdutool) {
    const a = res.apdutool;
    out.push(
      ge(
        `\`cacard apdu\` replaying ${fmt(a.streamApdus)} non-crypto APDUs vs libcacard's replay (cacard-ref) of the same file, whole processes`,
        a.stream.wholeRatio !== null
          ? `${pct(a.stream.wholeRatio)} (${fmt(a.stream.cacard.wholeRate.value)}/s vs ${fmt(a.stream.libcacard?.wholeRate.value)}/s; after start-up ${pct(a.stream.steadyRatio)})`
          : "libcacard not available",
        a.stream.wholeRatio,
        TARGETS.apduToolVsLibcacard,
        "x",
      ),
      ge(
        `\`cacard apdu\` replaying ${fmt(a.signatures)} RSA-2048 SIGNs vs raw node:crypto (privateDecrypt, no padding), after start-up`,
        `${pct(a.sign.steadyRatio)} (${fmt(a.sign.cacard.steadyRate.value)}/s vs ${fmt(a.sign.nodeCrypto.loopRate.value)}/s; whole processes ${pct(a.sign.wholeRatio)})`,
        a.sign.steadyRatio,
        TARGETS.apduToolSignVsNodeCrypto,
        "x",
      ),
    );
  } else out.push({ what: "`cacard apdu` tool", figure: res.apdutool.skipped, value: null, target: "", pass: null, margin: null });
  if ("rows" in res.vscard) {
    const rows = res.vscard.rows as Record<string, unknown>[];
    const get = (mode: string, placement: string) => rows.find((r) => r.mode === mode && r.readers === 1 && r.placement === placement)?.roundTrips as Measured | undefined;
    for (const placement of ["one CPU", "two CPUs", "unpinned"]) {
      const m = get("cac", placement);
      if (!m) continue;
      if (placement === "unpinned" && (get("cac", "one CPU") || get("cac", "two CPUs"))) continue;
      const ceiling = get("raw", placement);
      const floor = get("echo", placement);
      out.push(
        ge(
          `VSCard round trips/s, 1 reader, fake QEMU host${placement === "unpinned" ? "" : ` and card on ${placement === "one CPU" ? "the same CPU" : "different CPUs"}`}`,
          `${fmt(m.value)}/s${floor ? ` (a C card: ${fmt(floor.value)}/s` : ""}${ceiling ? `${floor ? "; " : " ("}a bare Node card: ${fmt(ceiling.value)}/s)` : floor ? ")" : ""}`,
          m.value,
          TARGETS.vscardOneReader,
          "/s",
        ),
      );
    }
    if (!rows.some((r) => r.roundTrips)) out.push({ what: "VSCard round trips/s, 1 reader", figure: "VSCard: backend not available / failed", value: null, target: `>= ${fmt(TARGETS.vscardOneReader)}/s`, pass: null, margin: null });
  } else out.push({ what: "VSCard round trips/s, 1 reader", figure: skippedOf(res.vscard), value: null, target: `>= ${fmt(TARGETS.vscardOneReader)}/s`, pass: null, margin: null });
  if ("cacard" in res.startup) {
    const st = res.startup;
    const c = st.cacard;
    const bare = (b: StartupSummary | null) => (b ? `; bare \`node -e\`: ${fmt(b.ms.value)} ms` : "");
    const envNote = st.extraCaCerts ? ` as this machine runs it (${EXTRA_CA} set)` : "";
    out.push(le(`Process start to ATR (\`cacard apdu\`)${envNote}`, `${fmt(c.ms.value)} ms${bare(st.bareNode)}`, c.ms.value, TARGETS.startToAtrMs, " ms"));
    if (st.cacardDefaultEnv) {
      const d = st.cacardDefaultEnv;
      out.push(le(`Process start to ATR (\`cacard apdu\`), Node's default environment (${EXTRA_CA} unset)`, `${fmt(d.ms.value)} ms${bare(st.bareNodeDefaultEnv)}`, d.ms.value, TARGETS.startToAtrMs, " ms"));
    }
    const after = c.rssAfterOpsMB;
    if (after) out.push(le(`RSS with one card (\`cacard apdu\` process after its ATR and ${st.opsAfterAtr} APDUs incl. an RSA-2048 SIGN)`, `${fmt(after.value)} MB`, after.value, TARGETS.rssOneCardMB, " MB"));
  } else out.push({ what: "start to ATR / RSS one card", figure: skippedOf(res.startup), value: null, target: "", pass: null, margin: null });
  if ("cacard" in res.rss) {
    const c = res.rss.cacard as { one: { rssMB: Measured }; hundred: { rssMB: Measured } };
    out.push(le("RSS with 100 cards in one process", `${fmt(c.hundred.rssMB.value)} MB`, c.hundred.rssMB.value, TARGETS.rssHundredCardsMB, " MB"));
  } else out.push({ what: "RSS with 100 cards", figure: skippedOf(res.rss), value: null, target: `<= ${TARGETS.rssHundredCardsMB} MB`, pass: null, margin: null });
  return out;
}

function markdown(res: Results): string {
  const L: string[] = [];
  const m = res.machine;
  L.push(`# cacard benchmark results`, "");
  L.push(
    `${res.date}; ${m.cpu} x ${m.cores}; ${m.os}; Node ${m.node}; libcacard ${m.libcacard}; ${m.openssl}. ` +
      `Load average ${m.loadBefore} before, ${m.loadAfter} after. Every figure is the median of ${RUNS} runs ` +
      `(${SECONDS} s each for throughput; ${STARTS} process starts) unless stated. Whole run: ${fmt(res.durationS)} s. ` +
      `Reproduce with \`npm run bench\`; see docs/performance.md.`,
    "",
  );
  L.push("## Targets (issue 5)", "", "| target | measured | wanted | result | margin |", "|---|---|---|---|---:|");
  for (const t of res.targets) L.push(`| ${t.what} | ${t.figure} | ${t.target} | ${pf(t)} | ${t.margin === null ? "" : pct(t.margin)} |`);
  L.push("", "margin = measured / wanted for a minimum, wanted / measured for a maximum (below 1x = short by that factor).", "");

  L.push("## In-process throughput (operations/s)", "");
  if ("rows" in res.inprocess) {
    L.push(
      "Both sides run the same APDU lists in the same loop: cacard through `VirtualCard.transmit` (libcacard-strict card), " +
        "libcacard through `vreader_xfr_bytes` in bench/libcacard/bench-libcacard.c, initialised as test/harness/cacard-ref.c does it. " +
        "Runs alternate between the two, so both see the same machine load; the ratio is the median of the per-run ratios. " +
        "An operation is one logical operation (e.g. a whole certificate read is one op of several APDUs).",
      "",
    );
    if (res.inprocess.note) L.push(`**${res.inprocess.note}**`, "");
    L.push("| operation | APDUs/op | cacard ops/s | libcacard ops/s | cacard / libcacard | same replies | cacard spread |", "|---|---:|---:|---:|---:|:-:|---:|");
    for (const r of res.inprocess.rows) {
      L.push(
        `| ${r.name} | ${r.apdusPerOp} | ${fmt(r.cacard.value)} | ${r.libcacard ? fmt(r.libcacard.value) : "libcacard not available"} | ${pct(r.ratio)} | ${r.repliesMatch === null ? "n/a" : r.repliesMatch ? "yes" : "**no**"} | ${(spread(r.cacard) * 100).toFixed(0)}% |`,
      );
    }
    const signs = res.inprocess.rows.filter((r) => r.kind === "sign");
    if (signs.length) {
      L.push("", "### RSA signing against the OpenSSL limit", "");
      L.push(
        "`openssl speed -elapsed -seconds 1 -mr rsaN` for each key size in every run, right after cacard's 1-second SIGN run with that key (single thread, wall clock). " +
          "Keys for SIGN come from an NSS database made by certutil at bench time (cert1 RSA-2048, cert2 RSA-3072, cert3 RSA-4096), read by both sides.",
        "",
        "| key | openssl sign/s | cacard sign/s (APDUs) | cacard / openssl | libcacard sign/s | libcacard / openssl |",
        "|---|---:|---:|---:|---:|---:|",
      );
      for (const r of signs) {
        L.push(`| RSA-${r.bits} | ${fmt(r.openssl?.value)} | ${fmt(r.cacard.value)} | ${pct(r.vsOpenssl)} | ${fmt(r.libcacard?.value)} | ${pct(r.libcacardVsOpenssl)} |`);
      }
    }
  } else L.push(`Skipped: ${res.inprocess.skipped}`);
  L.push("");

  L.push("## The `cacard apdu` tool vs libcacard's replay of the same file", "");
  if ("stream" in res.apdutool) {
    const a = res.apdutool;
    const row = (name: string, f: { wholeS: Measured; emptyS: Measured; wholeRate: Measured; steadyRate: Measured } | null, unit: string) =>
      f
        ? `| ${name} | ${fmt(f.wholeS.value)} s | ${fmt(f.emptyS.value)} s | ${fmt(f.wholeRate.value)} ${unit}/s | ${fmt(f.steadyRate.value)} ${unit}/s |`
        : `| ${name} | n/a | | | |`;
    L.push(
      "Whole processes, stdin from a file, stdout read and hashed: `node dist/cli/main.js apdu --db certs-sample/nssdb` and " +
        "test/harness/cacard-ref (libcacard 2.8 through `vreader_xfr_bytes`, the same line protocol, flushing every line). " +
        "\"empty\" is the same command on an empty file (start-up, card, exit); \"after start-up\" = operations / (run - empty run). " +
        `Non-crypto stream: ${fmt(a.streamApdus)} APDUs, SELECT PKI i, GET PROPERTIES and the READ BUFFERs of its certificate, i = 0, 1, 2 in turn. ` +
        `SIGN stream: VERIFY, SELECT PKI 0, then ${fmt(a.signatures)} RSA-2048 signatures of ${a.signApdusEach} APDUs each (chained SIGN, GET RESPONSE); ` +
        "node:crypto = `privateDecrypt` with RSA_NO_PADDING on the same key and block in a loop in a child node process (its loop alone, and the whole process).",
      "",
      "| command | whole run | empty input | whole-run rate | after start-up |",
      "|---|---:|---:|---:|---:|",
      row("cacard apdu, non-crypto stream", a.stream.cacard, "APDUs"),
      row("cacard-ref (libcacard), non-crypto stream", a.stream.libcacard, "APDUs"),
      row("cacard apdu, RSA-2048 SIGN stream", a.sign.cacard, "signatures"),
      row("cacard-ref (libcacard), RSA-2048 SIGN stream (1 run)", a.sign.libcacard, "signatures"),
      `| node:crypto privateDecrypt loop, same key | | | ${fmt(a.sign.nodeCrypto.wholeRate.value)} ops/s (whole process) | ${fmt(a.sign.nodeCrypto.loopRate.value)} ops/s (loop) |`,
      "",
      `cacard / libcacard, non-crypto: ${pct(a.stream.wholeRatio)} whole runs, ${pct(a.stream.steadyRatio)} after start-up; same output: ${a.stream.outputsMatch === null ? "n/a" : a.stream.outputsMatch ? "yes" : "**no**"}. ` +
        `cacard / node:crypto, SIGN: ${pct(a.sign.steadyRatio)} after start-up, ${pct(a.sign.wholeRatio)} whole processes; same signatures as libcacard: ${a.sign.outputsMatch === null ? "n/a" : a.sign.outputsMatch ? "yes" : "**no**"}.`,
      "",
    );
  } else L.push(`Skipped: ${res.apdutool.skipped}`, "");

  L.push("## Start-up and memory", "");
  if ("cacard" in res.startup || "cacard" in res.rss) {
    L.push("| figure | cacard | libcacard | wanted (cacard) |", "|---|---:|---:|---:|");
    if ("cacard" in res.startup) {
      const st = res.startup;
      const c = st.cacard;
      const l = st.libcacard;
      const mb = (x: Measured | undefined) => (x ? `${fmt(x.value)} MB` : "n/a");
      L.push(`| process start to ATR line (\`cacard apdu\` / cacard-ref, median of ${STARTS}) | ${fmt(c.ms.value)} ms | ${l ? fmt(l.ms.value) + " ms" : "n/a"} | <= ${TARGETS.startToAtrMs} ms |`);
      if (st.cacardDefaultEnv) L.push(`| the same with ${EXTRA_CA} unset (this machine sets it to ${st.extraCaCerts}) | ${fmt(st.cacardDefaultEnv.ms.value)} ms | | <= ${TARGETS.startToAtrMs} ms |`);
      L.push(`| RSS of that process after the ATR | ${mb(c.rssMB)} | ${l ? mb(l.rssMB) : "n/a"} | |`);
      L.push(`| RSS of that process after ${st.opsAfterAtr} more APDUs (SELECT, GET PROPERTIES, READ BUFFER of certificate 1, VERIFY, RSA-2048 SIGN) | ${mb(c.rssAfterOpsMB)} | ${l ? mb(l.rssAfterOpsMB) : "n/a"} | <= ${TARGETS.rssOneCardMB} MB |`);
      const b = st.bareNode;
      if (b) L.push(`| for scale: bare \`node -e\` start to its first line / its RSS | ${fmt(b.ms.value)} ms / ${fmt(b.rssMB.value)} MB | | |`);
      const bd = st.bareNodeDefaultEnv;
      if (bd) L.push(`| for scale: the same with ${EXTRA_CA} unset | ${fmt(bd.ms.value)} ms / ${fmt(bd.rssMB.value)} MB | | |`);
    } else L.push(`| start to ATR | ${skippedOf(res.startup)} | | |`);
    if ("cacard" in res.rss) {
      const c = res.rss.cacard as { one: { rssMB: Measured; heapUsedMB: Measured; externalMB: Measured; setupMs: Measured }; hundred: { rssMB: Measured; heapUsedMB: Measured; externalMB: Measured; setupMs: Measured } };
      const l = res.rss.libcacard as { one: { rssMB: Measured }; hundred: { rssMB: Measured } } | null;
      L.push(`| RSS, 1 card in a process without the CLI (bench/rss-cards.ts, the CLI's V8 flags) after the same operations / bench-libcacard | ${fmt(c.one.rssMB.value)} MB | ${l ? fmt(l.one.rssMB.value) + " MB" : "n/a"} | |`);
      L.push(`| RSS, 100 cards in one process, each after a few operations | ${fmt(c.hundred.rssMB.value)} MB | ${l ? fmt(l.hundred.rssMB.value) + " MB" : "n/a"} | <= ${TARGETS.rssHundredCardsMB} MB |`);
      L.push(`| of which JS heap / external (cacard, 100 cards) | ${fmt(c.hundred.heapUsedMB.value)} / ${fmt(c.hundred.externalMB.value)} MB | | |`);
      L.push(`| time to open 100 key stores and create 100 cards | ${fmt(c.hundred.setupMs.value)} ms | | |`);
    } else L.push(`| RSS N cards | ${skippedOf(res.rss)} | | |`);
  } else L.push(`Skipped: ${skippedOf(res.startup)}`);
  L.push("");

  L.push("## VSCard round trips (fake QEMU host)", "");
  if ("rows" in res.vscard) {
    L.push(
      `A fake QEMU ccid-card-passthru host (${res.vscard.host}) listens on 127.0.0.1:0 (Init, ReaderAdd -> Error SUCCESS with a reader id, ATR -> Error SUCCESS); ` +
        "the card side runs in its own process (bench/vscard-card.ts: cacard's VscardClient) and connects to it. Each reader has exactly one APDU outstanding (SELECT PKI), as with QEMU. " +
        "The \"limit\" rows replace the card side by a minimal VSCard responder (in C, and in plain Node without cacard code): they show how fast any card side, and any Node card side, can go in the same placement. " +
        "Placement: both processes pinned (taskset) to one CPU, to two different CPUs, or left to the scheduler. " +
        "With one reader every round trip wakes the other process twice; across CPUs that wake-up is what is measured " +
        "(in a VM an idle vCPU's wake-up costs tens of µs), so compare each row with the limits in the same placement.",
      "",
      "| card side | placement | readers | round trips/s | spread |",
      "|---|---|---:|---:|---:|",
    );
    for (const r of res.vscard.rows as Record<string, unknown>[]) {
      const m = r.roundTrips as Measured | undefined;
      L.push(`| ${r.label} | ${r.placement} | ${r.readers} | ${m ? fmt(m.value) : `error: ${r.error}`} | ${m ? (spread(m) * 100).toFixed(0) + "%" : ""} |`);
    }
  } else L.push(`Skipped: ${skippedOf(res.vscard)}`);
  L.push("");

  L.push("## vpcd: pcscd + vsmartcard vpcd + OpenSC", "");
  const v = res.vpcd;
  if ("skipped" in v) L.push(`Skipped: ${v.skipped}`);
  else if (!v.available) L.push(`Skipped: ${v.reason}`);
  else {
    L.push(
      `In a private network/mount/PID namespace: \`pcscd -f\` with vpcd on 127.0.0.1:35963, the card side connecting to it, ` +
        `\`pkcs15-tool -D\` (OpenSC file cache off; ${v.apdusPerDump.cacard ?? "?"} APDUs with cacard, ${v.apdusPerDump.libcacard ?? "?"} with libcacard) ` +
        "and SCardTransmit of SELECT PKI timed one by one (bench/pcsc/pcsc-rtt.c). " +
        "\"quickack route\" = `ip route replace local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1 quickack 1` inside the namespace.",
      "",
      "| card side | loopback route | pkcs15-tool -D | per-APDU round trip, median (p10-p90) |",
      "|---|---|---:|---:|",
    );
    for (const c of v.cases) {
      const rtt = c.rtt ? `${fmtUs(c.rtt.median)} (${fmtUs(c.rtt.p10)}-${fmtUs(c.rtt.p90)})` : "n/a";
      const p15 = c.p15Ms.length ? `${fmt(c.p15MedianMs)} ms` : "failed";
      L.push(`| ${c.impl} | ${c.route === "default" ? "default" : "quickack 1"} | ${p15}${c.p15Failures ? ` (${c.p15Failures} failed)` : ""} | ${rtt}${c.error ? ` — ${c.error}` : ""} |`);
    }
    for (const n of v.notes) L.push("", `Note: ${n}`);
  }
  L.push("");

  L.push("## Browser: the page's raw RSA vs node:crypto", "");
  const b = res.browser;
  if ("skipped" in b) L.push(`Skipped: ${b.skipped}`);
  else {
    L.push(
      `RSA-2048 raw private operation (m^d mod n) on certs-sample's cert1 key and a fixed input: the page's BigInt CRT with ` +
        `blinding (dist/web/cacard-web.js) in Chromium ${b.chromium} (headless, Debian's), against node:crypto ` +
        `\`privateDecrypt\` with RSA_NO_PADDING (OpenSSL). Each run is the mean of ${b.batch} operations; medians of the runs. ` +
        `Outputs equal: ${b.outputsEqual ? "yes" : "NO"}.`,
      "",
      "| RSA-2048 raw private op | ms per op | spread | x node |",
      "|---|---:|---:|---:|",
      `| Chromium, BigInt CRT + blinding | ${fmt(b.page.value)} | ${(spread(b.page) * 100).toFixed(0)}% | ${fmt(b.ratio)} |`,
      `| node:crypto (OpenSSL) | ${fmt(b.node.value)} | ${(spread(b.node) * 100).toFixed(0)}% | 1 |`,
    );
  }
  L.push("");
  if (res.notes.length) {
    L.push("## Notes", "");
    for (const n of res.notes) L.push(`- ${n}`);
    L.push("");
  }
  return L.join("\n");
}

function skippedOf(x: unknown): string {
  return String((x as { skipped?: string }).skipped ?? "");
}

function fmtUs(us: number): string {
  return us >= 1000 ? `${fmt(us / 1000)} ms` : `${fmt(us)} µs`;
}

/** Copies the result tables into docs/performance.md between its markers (headings one level down). */
function updateDocs(md: string): void {
  const path = join(ROOT, "docs", "performance.md");
  const doc = readFileSync(path, "utf8");
  const begin = "<!-- bench:begin -->";
  const end = "<!-- bench:end -->";
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) {
    note("BENCH_UPDATE_DOCS: markers not found in docs/performance.md; not updated");
    return;
  }
  const body = md
    .split("\n")
    .slice(1) // the page title
    .map((l) => (l.startsWith("#") ? `#${l}` : l))
    .join("\n")
    .trim();
  writeFileSync(path, `${doc.slice(0, a + begin.length)}\n\n${body}\n\n${doc.slice(b)}`);
  log("updated docs/performance.md");
}

// ---- main ---------------------------------------------------------------

function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  const lib = spawnSync("pkg-config", ["--modversion", "libcacard"], { encoding: "utf8" });
  let osName = `${os.type()} ${os.release()}`;
  try {
    osName = /PRETTY_NAME="([^"]+)"/.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? osName;
  } catch {
    /* keep uname */
  }
  return {
    cpu: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    os: osName,
    node: process.version,
    libcacard: lib.status === 0 ? lib.stdout.trim() : "not available",
    openssl: opensslVersion(),
    loadBefore: os.loadavg().map((x) => x.toFixed(2)).join(" "),
  };
}

async function section<T>(name: Section, fn: () => Promise<T>): Promise<T | { skipped: string }> {
  if (!on(name)) return { skipped: "not selected (BENCH_SECTIONS)" };
  try {
    return await fn();
  } catch (e) {
    note(`section ${name} failed: ${(e as Error).message}`);
    return { skipped: `failed: ${(e as Error).message}` };
  }
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const mach = machine();
  const built = buildC("bench-libcacard", "libcacard/bench-libcacard.c", ["libcacard"]);
  const libBinary = built.ok ? built.path : null;
  const libReason = built.ok ? "" : built.reason;
  if (!built.ok) note(`libcacard not available: ${built.reason}`);

  const inprocess = await section("inprocess", () => sectionInprocess(libBinary, libReason));
  const apdutool = await section("apdutool", sectionApduTool);
  const startup = await section("startup", sectionStartup);
  const rss = await section("rss", () => sectionRss(libBinary));
  const vscard = await section("vscard", sectionVscard);
  const vpcd = await section("vpcd", async () => {
    log("vpcd: pcscd + vpcd in a private namespace (about a minute)");
    const r = await runVpcd({ db: SAMPLE_DB, p15Runs: Math.min(RUNS, 3), rttSlow: 30, rttFast: 500 });
    if (!r.available) note(`vpcd section skipped: ${r.reason}`);
    return r;
  });
  const browser = await section("browser", async () => {
    log("browser: RSA-2048 raw in Chromium vs node:crypto");
    return measureBrowserRsa(RUNS);
  });

  mach.loadAfter = os.loadavg().map((x) => x.toFixed(2)).join(" ");
  const res: Results = {
    date: new Date().toISOString(),
    machine: mach,
    settings: { runs: RUNS, seconds: SECONDS, starts: STARTS, sections: [...SECTIONS] },
    targets: [],
    inprocess,
    apdutool,
    startup,
    rss,
    vscard,
    vpcd,
    browser,
    notes,
    durationS: (performance.now() - t0) / 1000,
  };
  res.targets = buildTargets(res);
  const md = markdown(res);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `${OUT}.md`), md);
  writeFileSync(join(RESULTS_DIR, `${OUT}.json`), JSON.stringify(res, null, 2) + "\n");
  process.stdout.write(md);
  log(`wrote bench/results/${OUT}.md and .json in ${fmt(res.durationS)} s`);
  if (process.env.BENCH_UPDATE_DOCS === "1") updateDocs(md);
}

main().catch((e) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
