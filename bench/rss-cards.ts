/**
 * Child process of the memory benchmark: N cards in one process.
 *
 *   node dist/bench/rss-cards.js <db> <N>
 *
 * Opens N key store instances (openKeyStore, one per card, as `cacard vpcd
 * --cards N` does, keys decrypted at first use as the CLI opens them), creates N CAC cards, powers them on, runs a few
 * operations on each (SELECT, GET PROPERTIES, READ BUFFER of certificate 1,
 * VERIFY, SIGN with key 1), then prints one JSON line with the memory
 * figures and exits.
 */
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { openKeyStore } from "../src/tokens/open.js";
import { createCacCard } from "../src/core/cac/cac-card.js";
import type { VirtualCard } from "../src/core/card/card.js";
import { rsaBits } from "../src/core/token/types.js";
import { fromHex } from "../src/core/bytes.js";
import { apduOps, signOp } from "./lib/ops.js";
import "../src/platform/node.js";

function vmRssKb(): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) : NaN;
}

async function main(): Promise<void> {
  const [db, nText] = process.argv.slice(2);
  const n = Number(nText);
  if (!db || !(n >= 1)) throw new Error("usage: rss-cards <db> <N>");
  const start = performance.now();
  const cards: VirtualCard[] = [];
  for (let i = 0; i < n; i++) {
    const store = await openKeyStore({ db, nicknames: ["cert1", "cert2", "cert3"], deferKeyDecryption: true });
    cards.push(createCacCard(store));
  }
  const ops = [...(await apduOps(cards[0])), await signOp(cards[0], 0, rsaBits(cards[0].keyStore.credentials[0].algorithm))];
  const created = performance.now() - start;
  for (const card of cards) {
    await card.powerOn();
    for (const op of ops) for (const a of [...op.setup, ...op.apdus]) await card.transmit(fromHex(a));
  }
  const m = process.memoryUsage();
  process.stdout.write(
    JSON.stringify({ cards: n, vmRssKb: vmRssKb(), rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, setupMs: created }) + "\n",
  );
}

main().catch((e) => {
  process.stderr.write(`rss-cards: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
