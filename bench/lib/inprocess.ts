/**
 * cacard's side of the in-process comparison: the same loop as
 * bench/libcacard/bench-libcacard.c `run`, through the card's hot path
 * (VirtualCard.answer: synchronous when the card knows the answer at once) or,
 * for comparison, through transmit() (a promise per APDU).
 */
import { performance } from "node:perf_hooks";
import type { SmartCard } from "../../src/core/card/reader.js";
import { fromHex, toHex } from "../../src/core/bytes.js";
import type { Op } from "./ops.js";

export interface RunResult {
  readonly rate: number;
  readonly iterations: number;
  readonly seconds: number;
}

/**
 * Power-on, setup, then iterations for ~`seconds`. The clock is read every
 * `batch` iterations; batch doubles from 1 while a batch takes under 10 ms
 * (so the clock costs nothing measurable and slow operations do not overrun).
 *
 * A batch is pipelined: every transmit() is issued, then only the last answer
 * is awaited. The card answers in order, so that one settles after all the
 * others, and the loop pays one await per batch, not per APDU.
 */
export type Via = "answer" | "transmit";

export async function runCacard(card: SmartCard, op: Op, seconds: number, via: Via = "answer"): Promise<RunResult> {
  const send = via === "answer" && card.answer ? card.answer.bind(card) : card.transmit.bind(card);
  const setup = op.setup.map(fromHex);
  const apdus = op.apdus.map(fromHex);
  await card.powerOn();
  for (const a of setup) await card.transmit(a);
  let iterations = 0;
  let batch = 1;
  let elapsed = 0;
  const limit = seconds * 1000;
  const start = performance.now();
  while (elapsed < limit) {
    const before = elapsed;
    let last: Uint8Array | Promise<Uint8Array> | undefined;
    for (let b = 0; b < batch; b++) {
      for (let i = 0; i < apdus.length; i++) last = send(apdus[i]);
    }
    await last;
    iterations += batch;
    elapsed = performance.now() - start;
    if (elapsed - before < 10 && batch < 1024) batch *= 2;
  }
  return { rate: (iterations * 1000) / elapsed, iterations, seconds: elapsed / 1000 };
}

/** Power cycle, setup, one iteration: every reply as hex (setup replies first). */
export async function checkCacard(card: SmartCard, op: Op): Promise<string[]> {
  await card.powerOn();
  const replies = await Promise.all([...op.setup, ...op.apdus].map((a) => card.transmit(fromHex(a))));
  return replies.map(toHex);
}
