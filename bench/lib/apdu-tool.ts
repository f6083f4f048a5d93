/**
 * The `cacard apdu` tool against libcacard's replay of the same file
 * (test/harness/cacard-ref, which speaks the same line protocol), as whole
 * processes: stdin from a file, stdout consumed and hashed, wall time from
 * spawn to exit. Two streams:
 *   - non-crypto: SELECT PKI, GET PROPERTIES and the READ BUFFERs of a whole
 *     certificate, cycling over the three PKI applets;
 *   - SIGN: VERIFY, SELECT PKI 0, then RSA-2048 signatures (chained 80 42 +
 *     GET RESPONSE), against node:crypto's raw private operation
 *     (privateDecrypt, RSA_NO_PADDING, the same key and block) in a child
 *     node process.
 * Each figure is given two ways: the whole run (process start included) and
 * the steady rate, (run - the same process on an empty input), which leaves
 * out start-up (cacard ~0.2 s, libcacard ~10 ms). Runs are interleaved.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { SmartCard } from "../../src/core/card/reader.js";
import { toHex } from "../../src/core/bytes.js";
import { apduOps, pkcs1Block, selectPki, signOp } from "./ops.js";
import { measured, median, type Measured } from "./stats.js";

export interface ToolRun {
  readonly seconds: number;
  readonly outputHash: string;
  readonly outputLines: number;
}

export interface ToolFigures {
  /** Whole-process seconds. */
  readonly wholeS: Measured;
  /** Seconds for an empty input (start-up, card open, exit). */
  readonly emptyS: Measured;
  /** Operations per second over the whole run. */
  readonly wholeRate: Measured;
  /** Operations per second after start-up: ops / (run - empty run), per run pair. */
  readonly steadyRate: Measured;
}

export interface ApduToolResult {
  readonly streamApdus: number;
  readonly signatures: number;
  readonly signApdusEach: number;
  readonly stream: { cacard: ToolFigures; libcacard: ToolFigures | null; wholeRatio: number | null; steadyRatio: number | null; outputsMatch: boolean | null };
  readonly sign: {
    cacard: ToolFigures;
    /** node:crypto raw private operations per second: in-loop rate and whole child process. */
    nodeCrypto: { loopRate: Measured; wholeRate: Measured };
    libcacard: ToolFigures | null;
    /** cacard steady signatures/s over node:crypto's in-loop rate. */
    steadyRatio: number;
    /** cacard whole-run signatures/s over node:crypto's whole-process rate. */
    wholeRatio: number;
    outputsMatch: boolean | null;
  };
}

function runTool(cmd: string, args: string[], inputFile: string, timeoutMs = 600_000): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const fd = openSync(inputFile, "r");
    const start = performance.now();
    const child = spawn(cmd, args, { stdio: [fd, "pipe", "pipe"] });
    closeSync(fd);
    const hash = createHash("sha256");
    let lines = 0;
    let err = "";
    child.stdout!.on("data", (d: Buffer) => {
      hash.update(d);
      for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++;
    });
    child.stderr!.on("data", (d) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const seconds = (performance.now() - start) / 1000;
      if (code !== 0) reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${err.trim().split("\n").pop()}`));
      else resolve({ seconds, outputHash: hash.digest("hex"), outputLines: lines });
    });
  });
}

function figures(runs: readonly ToolRun[], empties: readonly ToolRun[], ops: number): ToolFigures {
  return {
    wholeS: measured(runs.map((r) => r.seconds)),
    emptyS: measured(empties.map((r) => r.seconds)),
    wholeRate: measured(runs.map((r) => ops / r.seconds)),
    steadyRate: measured(runs.map((r, i) => ops / Math.max(1e-6, r.seconds - empties[i].seconds))),
  };
}

/** The raw node:crypto loop, in its own node process like the CLI: prints the loop's ms. */
const NODE_CRYPTO_SCRIPT = `
const { createPrivateKey, privateDecrypt, constants } = require("node:crypto");
const { readFileSync } = require("node:fs");
const [keyPath, blockHex, n] = process.argv.slice(1);
const key = createPrivateKey(readFileSync(keyPath));
const block = Buffer.from(blockHex, "hex");
privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, block); // warm-up, as the card's first SIGN loads its key
const t0 = performance.now();
for (let i = 0; i < Number(n); i++) privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, block);
console.log(performance.now() - t0);
`;

function nodeCryptoRun(keyPath: string, blockHex: string, n: number): Promise<{ loopMs: number; wholeS: number }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(process.execPath, ["-e", NODE_CRYPTO_SCRIPT, keyPath, blockHex, String(n)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`node:crypto loop exited ${code}`));
      resolve({ loopMs: Number(out.trim()), wholeS: (performance.now() - start) / 1000 });
    });
  });
}

export interface ApduToolOptions {
  readonly cli: string;
  readonly db: string;
  /** certs-sample/pem/cert1.key: the private key of the card's PKI 0, for the node:crypto loop. */
  readonly keyPem: string;
  readonly ref: string | null;
  readonly runs: number;
  readonly streamApdus: number;
  readonly signatures: number;
  readonly log: (line: string) => void;
}

export async function measureApduTool(card: SmartCard, options: ApduToolOptions): Promise<ApduToolResult> {
  const dir = mkdtempSync(join(tmpdir(), "cacard-bench-apdu-"));
  try {
    // Non-crypto stream: cycle over the PKI applets.
    const ops = await apduOps(card);
    const cycle: string[] = [];
    for (let i = 0; i < 3; i++) {
      const readCert = ops.find((o) => o.id.startsWith("read-cert"))!;
      cycle.push(selectPki(i), "8056010000", ...readCert.apdus.map((a) => a));
    }
    const streamLines: string[] = [];
    while (streamLines.length < options.streamApdus) streamLines.push(...cycle);
    streamLines.length = options.streamApdus;
    const streamFile = join(dir, "stream.apdu");
    writeFileSync(streamFile, streamLines.join("\n") + "\n");

    const sign = await signOp(card, 0, 2048);
    const signLines = ["00200000083132333435363738", selectPki(0)];
    for (let i = 0; i < options.signatures; i++) signLines.push(...sign.apdus);
    const signFile = join(dir, "sign.apdu");
    writeFileSync(signFile, signLines.join("\n") + "\n");
    const emptyFile = join(dir, "empty.apdu");
    writeFileSync(emptyFile, "");

    const cacardArgs = [options.cli, "apdu", "--db", options.db];
    const refArgs = [options.db];
    const c = { stream: [] as ToolRun[], empty: [] as ToolRun[], sign: [] as ToolRun[], signEmpty: [] as ToolRun[] };
    const l = { stream: [] as ToolRun[], empty: [] as ToolRun[] };
    const raw: { loopMs: number; wholeS: number }[] = [];
    const blockHex = toHex(pkcs1Block(256));
    options.log(`apdu tool: ${options.streamApdus} non-crypto APDUs and ${options.signatures} RSA-2048 signatures, ${options.runs} runs each, interleaved`);
    for (let r = 0; r < options.runs; r++) {
      c.stream.push(await runTool(process.execPath, cacardArgs, streamFile));
      c.empty.push(await runTool(process.execPath, cacardArgs, emptyFile));
      if (options.ref) {
        l.stream.push(await runTool(options.ref, refArgs, streamFile));
        l.empty.push(await runTool(options.ref, refArgs, emptyFile));
      }
      c.sign.push(await runTool(process.execPath, cacardArgs, signFile));
      c.signEmpty.push(await runTool(process.execPath, cacardArgs, emptyFile));
      raw.push(await nodeCryptoRun(options.keyPem, blockHex, options.signatures));
    }
    // libcacard's SIGN (NSS) is several times slower: one run, for the record.
    const lSign = options.ref ? [await runTool(options.ref, refArgs, signFile)] : [];
    const lSignEmpty = options.ref ? [await runTool(options.ref, refArgs, emptyFile)] : [];

    const cStream = figures(c.stream, c.empty, options.streamApdus);
    const lStream = options.ref ? figures(l.stream, l.empty, options.streamApdus) : null;
    const ratio = (a: readonly number[], b: readonly number[]) => median(a.map((x, i) => x / b[i]));
    const cSign = figures(c.sign, c.signEmpty, options.signatures);
    const loopRate = measured(raw.map((x) => options.signatures / (x.loopMs / 1000)));
    const rawWhole = measured(raw.map((x) => options.signatures / x.wholeS));
    return {
      streamApdus: options.streamApdus,
      signatures: options.signatures,
      signApdusEach: sign.apdus.length,
      stream: {
        cacard: cStream,
        libcacard: lStream,
        wholeRatio: lStream ? ratio(cStream.wholeRate.runs, lStream.wholeRate.runs) : null,
        steadyRatio: lStream ? ratio(cStream.steadyRate.runs, lStream.steadyRate.runs) : null,
        outputsMatch: options.ref ? c.stream[0].outputHash === l.stream[0].outputHash && c.stream[0].outputLines === options.streamApdus : null,
      },
      sign: {
        cacard: cSign,
        nodeCrypto: { loopRate, wholeRate: rawWhole },
        libcacard: options.ref ? figures(lSign, lSignEmpty, options.signatures) : null,
        steadyRatio: ratio(cSign.steadyRate.runs, loopRate.runs),
        wholeRatio: ratio(cSign.wholeRate.runs, rawWhole.runs),
        outputsMatch: options.ref ? c.sign[0].outputHash === lSign[0].outputHash : null,
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
