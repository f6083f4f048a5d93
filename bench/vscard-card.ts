/**
 * Child process of the VSCard benchmark: the card side, connecting to the
 * bench's fake QEMU host.
 *
 *   node dist/bench/vscard-card.js <mode> <db> <port> <readers>
 *
 * mode:
 *   cac   VscardClient (src/backends/vscard) with <readers> readers, each
 *         holding a CAC card on its own openKeyStore instance: what
 *         `cacard vscard` runs, without the CLI's event formatting;
 *   null  VscardClient with cards that answer every APDU with 90 00 at once
 *         (the VSCard backend's own cost, without the card);
 *   raw   no cacard code at all: a minimal hand-written VSCard card on a
 *         plain socket that answers 90 00 (the ceiling of this harness).
 *
 * Runs until SIGTERM/SIGINT or until stdin closes.
 */
import "reflect-metadata";
import net from "node:net";
import { openKeyStore } from "../src/tokens/open.js";
import { createCacCard } from "../src/core/cac/cac-card.js";
import { VirtualReader, type SmartCard } from "../src/core/card/reader.js";
import { VscardClient } from "../src/backends/vscard/client.js";
import { MsgType, encodeFrame, encodeMessage, initMessage, HEADER_LENGTH, UNDEFINED_READER_ID } from "../src/backends/vscard/codec.js";
import "../src/platform/node.js";

const ATR = Uint8Array.of(0x3b, 0x7a, 0x18, 0x00, 0x00, 0x73, 0x66, 0x74, 0x65, 0x20, 0x63, 0x64, 0x31, 0x34, 0x34);
const OK = Uint8Array.of(0x90, 0x00);

class NullCard implements SmartCard {
  readonly atr = ATR;
  powerOn(): Promise<Uint8Array> {
    return Promise.resolve(ATR);
  }
  powerOff(): Promise<void> {
    return Promise.resolve();
  }
  reset(): Promise<Uint8Array> {
    return Promise.resolve(ATR);
  }
  transmit(): Promise<Uint8Array> {
    return Promise.resolve(OK);
  }
}

function onStop(stop: () => void): void {
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  process.stdin.on("end", stop);
  process.stdin.on("error", stop);
  process.stdin.resume();
}

/** The harness ceiling: Init, ReaderAdd x N (one at a time), ATR each, then 90 00 for every APDU. */
function rawCard(port: number, readers: number): void {
  const socket = net.connect({ host: "127.0.0.1", port, noDelay: true });
  let buf: Buffer = Buffer.alloc(0);
  let added = 0;
  // What each Error from the host answers, in order (the host answers every request once, in order).
  const pending: ("add" | "atr")[] = [];
  const replies = new Map<number, Uint8Array>();
  const addNext = () => {
    if (added >= readers || pending.includes("add")) return;
    pending.push("add");
    socket.write(encodeFrame(MsgType.ReaderAdd, UNDEFINED_READER_ID));
  };
  socket.on("connect", () => socket.write(encodeMessage(initMessage())));
  socket.on("data", (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    let off = 0;
    while (buf.length - off >= HEADER_LENGTH) {
      const type = buf.readUInt32BE(off);
      const id = buf.readUInt32BE(off + 4);
      const len = buf.readUInt32BE(off + 8);
      if (buf.length - off < HEADER_LENGTH + len) break;
      off += HEADER_LENGTH + len;
      if (type === MsgType.APDU) {
        let reply = replies.get(id);
        if (!reply) replies.set(id, (reply = encodeFrame(MsgType.APDU, id, OK)));
        socket.write(reply);
      } else if (type === MsgType.Init) {
        addNext();
      } else if (type === MsgType.Error && pending.shift() === "add") {
        added++;
        pending.push("atr");
        socket.write(encodeFrame(MsgType.ATR, id, ATR));
        addNext();
      }
    }
    buf = off === buf.length ? Buffer.alloc(0) : buf.subarray(off);
  });
  socket.on("error", () => process.exit(0));
  socket.on("close", () => process.exit(0));
  onStop(() => {
    socket.destroy();
    process.exit(0);
  });
}

async function main(): Promise<void> {
  const [mode, db, portText, readersText] = process.argv.slice(2);
  const port = Number(portText);
  const count = Number(readersText);
  if (!["cac", "null", "raw"].includes(mode) || !db || !(port > 0) || !(count >= 1)) {
    throw new Error("usage: vscard-card <cac|null|raw> <db> <port> <readers>");
  }
  if (mode === "raw") return rawCard(port, count);
  const readers: VirtualReader[] = [];
  for (let i = 0; i < count; i++) {
    const card: SmartCard =
      mode === "cac" ? createCacCard(await openKeyStore({ db, nicknames: ["cert1", "cert2", "cert3"] })) : new NullCard();
    readers.push(new VirtualReader(`bench ${i}`, card));
  }
  const controller = new AbortController();
  onStop(() => controller.abort());
  const client = new VscardClient({
    readers,
    endpoint: { kind: "tcp", host: "127.0.0.1", port },
    signal: controller.signal,
    maxAttempts: 3,
    backoff: { initialMs: 50, maxMs: 200 },
  });
  await client.run();
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`vscard-card: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
