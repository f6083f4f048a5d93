/**
 * `cacard vpcd` in-process against fake vpcd servers: option errors, real
 * cards from certs-sample, stdin control, signals and a clean stop.
 */
import { describe, expect, it } from "vitest";
import { PassThrough, Writable } from "node:stream";
import { main } from "../../../src/cli/main.js";
import { command, vpcdSettings } from "../../../src/cli/commands/vpcd.js";
import { CAC_ATR } from "../../../src/core/card/atr.js";
import { UsageError } from "../../../src/cli/errors.js";
import { FakeVpcd, withTimeout } from "./fake-vpcd.js";

const b = (...x: number[]) => Uint8Array.from(x);
const hex = (u: Uint8Array) => Buffer.from(u).toString("hex").toUpperCase();

function sink(): { stream: Writable; text: () => string } {
  let text = "";
  const stream = new Writable({
    write(chunk, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { stream, text: () => text };
}

function io(signal: AbortSignal, stdin = new PassThrough()) {
  const stdout = sink();
  const stderr = sink();
  return { io: { stdin, stdout: stdout.stream, stderr: stderr.stream, env: {}, signal }, stdout, stderr, stdin };
}

async function until(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("vpcdSettings", () => {
  it("has the documented defaults", () => {
    expect(vpcdSettings({})).toEqual({
      host: "127.0.0.1",
      port: 35963,
      cards: 1,
      salt: undefined,
      controlStdin: false,
      quickAck: true,
      verbose: false,
      trace: false,
    });
  });

  it("rejects bad values with usage errors", () => {
    for (const bad of [
      { port: "0" },
      { port: "65536" },
      { port: "35963x" },
      { cards: "0" },
      { cards: "17" },
      { cards: "2", port: "65535" },
      { control: "tcp" },
      { host: " " },
    ]) {
      expect(() => vpcdSettings(bad), JSON.stringify(bad)).toThrow(UsageError);
    }
  });
});

describe("cacard vpcd", () => {
  it("prints help and exits 0", async () => {
    const { io: cli, stdout } = io(new AbortController().signal);
    expect(await main(["vpcd", "--help"], cli)).toBe(0);
    expect(stdout.text()).toContain("Usage: cacard vpcd");
    expect(stdout.text()).toContain("--cards N");
    expect(stdout.text()).toContain("--db DIR");
  });

  it("exits 2 with one line on a bad option or value", async () => {
    for (const argv of [["--bogus"], ["--port", "http"], ["--cards", "99"], ["--control", "fifo"], ["extra"]]) {
      const { io: cli, stderr } = io(new AbortController().signal);
      expect(await main(["vpcd", ...argv], cli), argv.join(" ")).toBe(2);
      expect(stderr.text().trim().split("\n"), argv.join(" ")).toHaveLength(1);
      expect(stderr.text()).toMatch(/^cacard vpcd: /);
    }
  });

  it("serves two distinct cards, obeys stdin control and signals, stops on abort", async () => {
    const a = await FakeVpcd.listen();
    let bServer: FakeVpcd;
    try {
      bServer = await FakeVpcd.listen(a.port + 1);
    } catch {
      await a.close();
      return; // neighbouring port busy on this machine
    }
    const controller = new AbortController();
    const { io: cli, stderr, stdin } = io(controller.signal);
    const running = command.run(["--cards", "2", "--port", String(a.port), "--control", "stdin"], cli);
    try {
      const c0 = await a.connection(0, 10_000);
      const c1 = await bServer.connection(0, 10_000);
      expect(hex(await c0.request(b(0x04)))).toBe(hex(CAC_ATR));
      c0.send(b(0x01)); // power on: no reply
      expect(hex(await c0.request(b(0x04)))).toBe(hex(CAC_ATR));

      // GP CPLC carries the card serial: the two cards must differ.
      const cplc = async (conn: typeof c0) => {
        await conn.request(b(0x00, 0xa4, 0x04, 0x00, 0x07, 0xa0, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00));
        const r = await conn.request(b(0x80, 0xca, 0x9f, 0x7f, 0x00));
        expect(hex(r.subarray(-2))).toBe("9000");
        return hex(r.subarray(0, -2));
      };
      expect(await cplc(c0)).not.toBe(await cplc(c1));

      stdin.write("remove 1\nstatus\nnonsense\n");
      await withTimeout(c1.closed, 3000, "card 1 removal");
      await until(() => stderr.text().includes("card 1: port"), "status output");
      expect(stderr.text()).toContain("card 1: removed");
      expect(stderr.text()).toContain(`card 0: port ${a.port} inserted connected`);
      expect(stderr.text()).toMatch(new RegExp(`card 1: port ${a.port + 1} removed (closing|idle)`));
      expect(stderr.text()).toContain("control: unknown command 'nonsense'");
      expect(c0.isClosed).toBe(false);

      stdin.write("insert 1\n");
      await bServer.connection(1);

      process.kill(process.pid, "SIGUSR1"); // remove all
      await withTimeout(c0.closed, 3000, "card 0 removal by SIGUSR1");
      await withTimeout(bServer.connections[1].closed, 3000, "card 1 removal by SIGUSR1");
      process.kill(process.pid, "SIGUSR2"); // insert all
      await a.connection(1);
      await bServer.connection(2);

      controller.abort();
      expect(await withTimeout(running, 5000, "clean exit")).toBe(0);
      await withTimeout(a.connections[1].closed, 2000, "close on stop");
      expect(stderr.text()).toContain("cacard vpcd: stopped");
      expect(process.listenerCount("SIGUSR1")).toBe(0);
    } finally {
      controller.abort();
      await running.catch(() => 0);
      await a.close();
      await bServer.close();
    }
  }, 30_000);

  it("--trace logs exchanges with VERIFY PIN bytes blanked", async () => {
    const vpcd = await FakeVpcd.listen();
    const controller = new AbortController();
    const { io: cli, stderr } = io(controller.signal);
    const running = command.run(["--port", String(vpcd.port), "--trace"], cli);
    try {
      const conn = await vpcd.connection(0, 10_000);
      await conn.request(b(0x04));
      const verify = b(0x00, 0x20, 0x00, 0x00, 0x08, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38);
      expect(hex((await conn.request(verify)).subarray(-2))).toBe("9000");
      await until(() => stderr.text().includes("> 0020"), "trace line");
      expect(stderr.text()).toContain("card 0: get-atr");
      expect(stderr.text()).toContain("> 00200000082A2A2A2A2A2A2A2A  < 9000");
      expect(stderr.text()).not.toContain("3132333435363738");
      controller.abort();
      expect(await running).toBe(0);
    } finally {
      controller.abort();
      await running.catch(() => 0);
      await vpcd.close();
    }
  }, 30_000);
});
