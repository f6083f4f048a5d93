/**
 * Issue 16, `cacard vpcd` in-process against a fake vpcd:
 * - item 2: a flood of control codes vpcd never sends is a bounded stderr,
 *   with --verbose and --trace too;
 * - item 3: --trace blanks the data of every PIN command by INS.
 */
import { describe, expect, it } from "vitest";
import { PassThrough, Writable } from "node:stream";
import { command } from "../../../src/cli/commands/vpcd.js";
import { encodeFrame } from "../../../src/backends/vpcd/protocol.js";
import { fromHex } from "../../../src/core/bytes.js";
import { FakeVpcd } from "./fake-vpcd.js";

const FLOOD_FRAMES = 300_000;
const MAX_FLOOD_STDERR_BYTES = 8 * 1024;

function run(argv: string[]) {
  let text = "";
  const stderr = new Writable({
    write(chunk, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  const stdout = new PassThrough().resume();
  const controller = new AbortController();
  const running = command.run(argv, { stdin: new PassThrough(), stdout, stderr, env: {}, signal: controller.signal });
  return { running, err: () => text, stop: () => controller.abort() };
}

describe("cacard vpcd: hostile vpcd input", () => {
  it("300k unknown control codes: bounded stderr with --verbose --trace", async () => {
    const vpcd = await FakeVpcd.listen();
    const r = run(["--port", String(vpcd.port), "--verbose", "--trace"]);
    try {
      const conn = await vpcd.connection(0, 10_000);
      await conn.request(Uint8Array.of(0x04)); // GET ATR: connected and answering
      const before = r.err().length;
      const unknown = encodeFrame(Uint8Array.of(0x03));
      const perBatch = 10_000;
      for (let sent = 0; sent < FLOOD_FRAMES; sent += perBatch) {
        const batch = Buffer.concat(Array.from({ length: perBatch }, () => unknown));
        await new Promise<void>((res) => conn.socket.write(batch, () => res()));
      }
      // In order: the ATR answer means the flood was read.
      await conn.request(Uint8Array.of(0x04));
      const flood = r.err().slice(before);
      expect(flood.length).toBeLessThan(MAX_FLOOD_STDERR_BYTES);
      expect(flood).toMatch(/ignoring vpcd control code/);
      r.stop();
      expect(await r.running).toBe(0);
      expect(r.err().slice(before)).toMatch(/\d+ more unknown vpcd control codes suppressed/);
    } finally {
      r.stop();
      await r.running.catch(() => 0);
      await vpcd.close();
    }
  }, 60_000);

  it("--trace blanks VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER, whatever the answer", async () => {
    const vpcd = await FakeVpcd.listen();
    const r = run(["--port", String(vpcd.port), "--trace", "--personality", "cac+piv"]);
    try {
      const conn = await vpcd.connection(0, 10_000);
      await conn.request(Uint8Array.of(0x04));
      for (const hex of [
        "00200080083132333435363738",
        "0021008008" + "3132333435363738",
        "00240080103132333435363738" + "3837363534333231",
        "002C0080103837363534333231" + "3132333435363738",
        "00A4040009A0000003080000100000",
        "00240080103132333435363738" + "3837363534333231",
        "002C0080103837363534333231" + "3132333435363738",
      ]) {
        await conn.request(fromHex(hex));
      }
      const t0 = Date.now();
      while ((r.err().match(/> 002C/g) ?? []).length < 2 && Date.now() - t0 < 5_000) await new Promise((res) => setTimeout(res, 10));
      expect(r.err()).toContain("> 002C008010" + "2A".repeat(16));
      expect(r.err()).toContain("> 0024008010" + "2A".repeat(16));
      expect(r.err()).not.toMatch(/3132333435363738|3837363534333231|31323334|38373635/);
    } finally {
      r.stop();
      await r.running.catch(() => 0);
      await vpcd.close();
    }
  }, 60_000);
});
