/**
 * Issue 16, `cacard vscard` in-process against a fake QEMU:
 * - item 2: 300,000 hostile frames (ReaderAdd, unknown types, unsolicited
 *   Errors) give a bounded stderr, by default and with --debug, with a
 *   "N more ... suppressed" summary instead of a line each;
 * - item 3: --debug blanks the data of every PIN command (by INS, whatever
 *   the card answered);
 * - item 5: a port in use is one line naming the port and EADDRINUSE once.
 */
import { describe, expect, it } from "vitest";
import net from "node:net";
import { hostAndRun, startCli, until, useCleanups } from "./harness.js";
import { MsgType, encodeMessage } from "../../../src/backends/vscard/codec.js";
import { fromHex } from "../../../src/core/bytes.js";

/** The flood: 300k frames, three kinds. */
const FLOOD_FRAMES = 300_000;
/** stderr allowed for the whole flood: a handful of lines per kind and their summaries. */
const MAX_FLOOD_STDERR_BYTES = 8 * 1024;

const cleanups = useCleanups();

/** `cacard vscard` against a fake QEMU host, once it has inserted the card. */
async function hostWithCard(argv: string[]) {
  const run = await hostAndRun(cleanups, argv);
  await until(() => /card inserted reader=0/.test(run.r.err()), 15_000, "card inserted");
  return run;
}

describe("cacard vscard: a flood of hostile frames is a bounded stderr", () => {
  it.each([["default", []], ["--debug", ["--debug"]]] as const)(
    "%s: 300k ReaderAdd / unknown-type / unsolicited Error frames",
    async (_name, extra) => {
      const { host, r } = await hostWithCard([...extra]);
      const before = r.err().length;
      const kinds = [
        encodeMessage({ type: MsgType.ReaderAdd, readerId: 0, name: "x" }),
        // an unknown type with no payload
        Uint8Array.of(0, 0, 0, 0x63, 0, 0, 0, 0, 0, 0, 0, 0),
        encodeMessage({ type: MsgType.Error, readerId: 0, code: 7 }),
      ];
      const flush = encodeMessage({ type: MsgType.Flush, readerId: 0 });
      // In batches, so the fake host does not hold 5 MB at once.
      const perBatch = 10_000;
      for (let sent = 0; sent < FLOOD_FRAMES; sent += perBatch) {
        const batch = Buffer.concat(Array.from({ length: perBatch }, (_, i) => kinds[(sent + i) % kinds.length]));
        await new Promise<void>((res) => host.current.socket.write(batch, () => res()));
      }
      // Frames are handled in order: FlushComplete means the flood was read.
      host.sendRaw(flush);
      await host.next((m) => m.type === MsgType.FlushComplete, "FlushComplete after the flood");
      const flood = r.err().slice(before);
      expect(flood.length).toBeLessThan(MAX_FLOOD_STDERR_BYTES);
      expect(flood).toMatch(/ignoring unexpected message from host: ReaderAdd/);
      expect(flood).toMatch(/unsolicited Error from host/);
      r.abort();
      expect(await r.code).toBe(0);
      // On stop the counts are summarised, once per kind.
      const all = r.err().slice(before);
      expect(all).toMatch(/cacard vscard: warning: \d+ more unexpected messages from the host suppressed/);
      expect(all).toMatch(/cacard vscard: warning: \d+ more unsolicited Errors from the host suppressed/);
      expect(all.length).toBeLessThan(MAX_FLOOD_STDERR_BYTES);
    },
    60_000,
  );
});

describe("cacard vscard --debug: no PIN in the trace", () => {
  it("blanks VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER (also PIV's), whatever the answer", async () => {
    const { host, r } = await hostWithCard(["--debug", "--personality", "cac+piv"]);
    const commands = [
      "00200080083132333435363738", // VERIFY
      "0021008008" + "3132333435363738", // VERIFY, odd INS
      "00240080103132333435363738" + "3837363534333231", // CHANGE REFERENCE DATA: old + new
      "002C0080103837363534333231" + "3132333435363738", // RESET RETRY COUNTER: PUK + new
      "00A4040009A0000003080000100000", // SELECT PIV
      "00200080083132333435363738",
      "00240080103132333435363738" + "3837363534333231",
      "002C0080103837363534333231" + "3132333435363738",
    ];
    for (const hex of commands) {
      host.send({ type: MsgType.APDU, readerId: 0, apdu: fromHex(hex) });
      await host.next((m) => m.type === MsgType.APDU || m.type === MsgType.Error, "an answer");
      host.current.received.length = 0;
    }
    await until(() => (r.err().match(/apdu reader=0/g) ?? []).length >= commands.length, 5_000, "trace lines");
    expect(r.err()).toContain("apdu reader=0 > 002000800");
    expect(r.err()).toContain("apdu reader=0 > 002C008010" + "2A".repeat(16));
    expect(r.err()).not.toMatch(/3132333435363738|3837363534333231|31323334|38373635/);
  }, 30_000);
});

describe("cacard vscard --listen: a port in use", () => {
  it("is one line naming the port, with EADDRINUSE once", async () => {
    const blocker = net.createServer();
    await new Promise<void>((res) => blocker.listen({ host: "127.0.0.1", port: 0 }, () => res()));
    cleanups.push(() => new Promise<void>((res) => blocker.close(() => res())));
    const port = (blocker.address() as net.AddressInfo).port;
    const r = startCli(["vscard", "--listen", `127.0.0.1:${port}`]);
    expect(await r.code).toBe(1);
    const lines = r.err().trim().split("\n");
    const error = lines.filter((l) => /error/.test(l));
    expect(error).toHaveLength(1);
    expect(error[0]).toContain(`127.0.0.1:${port}`);
    expect(error[0].match(/EADDRINUSE/g)).toHaveLength(1);
    expect(error[0]).toMatch(/address already in use/);
  }, 30_000);
});
