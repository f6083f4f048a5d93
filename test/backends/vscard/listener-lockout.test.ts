/**
 * Issue 16 item 1: `cacard vscard --listen` lock-out. A connection owns the
 * single host slot only once authenticated (TLS with an accepted client
 * certificate, when TLS is on) and through the VSCard Init exchange; pending
 * connections are bounded and time out; a frame that trickles in has a
 * deadline; a host that reconnects at once after a close is served.
 *
 * The attackers are the issue's: idle TCP connections and connections that
 * send a byte a second, each reconnecting whenever dropped. The legitimate
 * host is a QEMU stand-in (server=off: it connects, answers like
 * hw/usb/ccid-card-passthru.c) that must get the ATR within 2 s.
 */
import { describe, expect, it } from "vitest";
import net from "node:net";
import tls from "node:tls";
import { loadTlsDir } from "../../../src/backends/vscard/tls.js";
import { ErrorCode, MsgType, UNDEFINED_READER_ID, VscFramer, encodeMessage, initMessage } from "../../../src/backends/vscard/codec.js";
import { formatEvent } from "../../../src/cli/vscard-events.js";
import { read, startListener, useCleanups, useTestPki } from "./harness.js";

/** The bound: a legitimate host gets its ATR within this while attackers hold connections. */
const ATR_DEADLINE_MS = 2_000;
const IDLE_ATTACKERS = 50;
const SLOW_ATTACKERS = 50;
/** The slow attackers' pace: one byte per second. */
const SLOW_BYTE_INTERVAL_MS = 1_000;

const pki = useTestPki();
const cleanups = useCleanups();

interface QemuStandIn {
  /** Resolves with the ms from connect to the ATR; rejects after `deadlineMs`. */
  readonly atr: Promise<number>;
  readonly socket: net.Socket;
  readonly closed: Promise<void>;
}

/**
 * QEMU's ccid-card-passthru with server=off: connects, sends its realize-time
 * Init, answers our Init with one, ReaderAdd/ReaderRemove/ATR/CardRemove with
 * Error(SUCCESS).
 */
function qemu(port: number, dir: string | null, deadlineMs = ATR_DEADLINE_MS): QemuStandIn {
  const t0 = Date.now();
  const socket: net.Socket = dir
    ? tls.connect({ host: "127.0.0.1", port, ca: read(dir, "ca-cert.pem"), cert: read(dir, "client-cert.pem"), key: read(dir, "client-key.pem") })
    : net.connect({ host: "127.0.0.1", port });
  socket.on("error", () => undefined);
  const closed = new Promise<void>((r) => socket.once("close", () => r()));
  const atr = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ATR within ${deadlineMs} ms`)), deadlineMs);
    socket.once("close", () => {
      clearTimeout(timer);
      reject(new Error(`closed before the ATR after ${Date.now() - t0} ms`));
    });
    const framer = new VscFramer();
    socket.on("data", (chunk: Buffer) => {
      for (const m of framer.push(chunk)) {
        if (m.type === MsgType.Init) socket.write(encodeMessage(initMessage(UNDEFINED_READER_ID)));
        if (m.type === MsgType.ReaderAdd || m.type === MsgType.ReaderRemove || m.type === MsgType.CardRemove || m.type === MsgType.ATR) {
          socket.write(encodeMessage({ type: MsgType.Error, readerId: 0, code: ErrorCode.Success }));
        }
        if (m.type === MsgType.ATR) {
          clearTimeout(timer);
          resolve(Date.now() - t0);
        }
      }
    });
    socket.once(dir ? "secureConnect" : "connect", () => socket.write(encodeMessage(initMessage(UNDEFINED_READER_ID))));
  });
  atr.catch(() => undefined);
  cleanups.push(() => void socket.destroy());
  return { atr, socket, closed };
}

/** Attackers that reconnect whenever dropped: `idle` send nothing, `slow` send a byte a second. */
function attackers(port: number, idle: number, slow: number) {
  let stopped = false;
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let connects = 0;
  // A valid-looking Init frame, never finished in time at this pace.
  const trickle = encodeMessage(initMessage(UNDEFINED_READER_ID));
  const open = (kind: "idle" | "slow") => {
    if (stopped) return;
    connects++;
    const s = net.connect({ host: "127.0.0.1", port });
    sockets.add(s);
    s.on("error", () => undefined);
    s.resume(); // read (and drop) what we are sent, as a real peer's kernel would
    let sent = 0;
    const timer =
      kind === "slow"
        ? setInterval(() => {
            if (!s.destroyed && s.writable) s.write(trickle.subarray(sent % trickle.length, (sent % trickle.length) + 1));
            sent++;
          }, SLOW_BYTE_INTERVAL_MS)
        : null;
    if (timer) timers.add(timer);
    s.once("close", () => {
      sockets.delete(s);
      if (timer) {
        clearInterval(timer);
        timers.delete(timer);
      }
      // Reconnect at once, as the attacker does.
      setImmediate(() => open(kind));
    });
  };
  for (let i = 0; i < idle; i++) open("idle");
  for (let i = 0; i < slow; i++) open("slow");
  const stop = () => {
    stopped = true;
    for (const t of timers) clearInterval(t);
    for (const s of sockets) s.destroy();
  };
  cleanups.push(stop);
  return {
    get open() {
      return sockets.size;
    },
    get connects() {
      return connects;
    },
    stop,
  };
}

async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("--listen: attackers cannot keep the legitimate host out", () => {
  it.each([
    ["plain", false],
    ["TLS", true],
  ] as const)(
    "%s: QEMU gets its ATR within 2 s while 50 idle and 50 slow (1 byte/s) connections are open",
    async (_name, useTls) => {
      const dir = useTls ? pki.good : null;
      const l = await startListener(cleanups, useTls ? { tls: loadTlsDir({ dir: pki.good, role: "server" }) } : {});
      const a = attackers(l.port, IDLE_ATTACKERS, SLOW_ATTACKERS);
      // All attackers connected and accepted (pending) before the host comes.
      await until(() => a.open === IDLE_ATTACKERS + SLOW_ATTACKERS && l.listener.pendingCount >= IDLE_ATTACKERS + SLOW_ATTACKERS, 5_000, "attackers connected");
      // Let the slow ones send a byte or two.
      await new Promise((r) => setTimeout(r, 1_200));
      const host = qemu(l.port, dir);
      const ms = await host.atr;
      expect(ms).toBeLessThan(ATR_DEADLINE_MS);
      expect(l.events.filter((e) => e.type === "connected")).toHaveLength(1);
      // The attackers never held the slot, and pending ones were dropped at their deadline.
      await until(() => a.connects > IDLE_ATTACKERS + SLOW_ATTACKERS, 5_000, "attackers dropped at the handshake deadline");
      a.stop();
      // The flood of rejections is rate-limited, not one line each.
      const rejected = l.events.filter((e) => e.type === "rejected-connection").length;
      expect(rejected).toBeLessThanOrEqual(10);
    },
    30_000,
  );

  it("a host that finished its handshake and then trickles a frame (1 byte/s) is dropped at the frame deadline; QEMU then gets the slot", async () => {
    const l = await startListener(cleanups, { frameTimeoutMs: 500 });
    // The attacker speaks VSCard properly (plain TCP cannot tell it from QEMU) ...
    const attacker = qemu(l.port, null, 5_000);
    await attacker.atr;
    // ... then starts a frame and sends one byte a second.
    const frame = encodeMessage({ type: MsgType.APDU, readerId: 0, apdu: Uint8Array.of(0, 0xa4, 4, 0, 0) });
    let sent = 0;
    const timer = setInterval(() => attacker.socket.write(frame.subarray(sent, ++sent)), SLOW_BYTE_INTERVAL_MS);
    attacker.socket.write(frame.subarray(0, ++sent));
    cleanups.push(() => clearInterval(timer));
    const host = qemu(l.port, null);
    expect(await host.atr).toBeLessThan(ATR_DEADLINE_MS);
    await attacker.closed;
    const dropped = l.events.find((e) => e.type === "disconnected");
    expect(dropped && formatEvent(dropped)).toMatch(/incomplete after 500 ms/);
  }, 20_000);

  it("a host that reconnects at once after a close is served, 50 times out of 50", async () => {
    const l = await startListener(cleanups, );
    for (let i = 0; i < 50; i++) {
      const host = qemu(l.port, null);
      await expect(host.atr, `round ${i}`).resolves.toBeLessThan(ATR_DEADLINE_MS);
      host.socket.destroy(); // and at once the next round connects
    }
    expect(l.events.filter((e) => e.type === "rejected-connection")).toEqual([]);
  }, 60_000);

  it("pending connections are bounded: past the limit the least advanced one is closed", async () => {
    const l = await startListener(cleanups, { maxPendingConnections: 4, handshakeTimeoutMs: 10_000 });
    const idle: net.Socket[] = [];
    for (let i = 0; i < 10; i++) {
      const s = net.connect({ host: "127.0.0.1", port: l.port }).resume();
      s.on("error", () => undefined);
      idle.push(s);
      cleanups.push(() => void s.destroy());
    }
    await until(() => idle.filter((s) => !s.destroyed && s.readyState === "open").length === 4 && l.listener.pendingCount === 4, 5_000, "six idle connections closed");
    // The newest idle ones are the ones kept; QEMU still gets in at once.
    expect(idle.slice(6).every((s) => !s.destroyed)).toBe(true);
    const host = qemu(l.port, null);
    expect(await host.atr).toBeLessThan(ATR_DEADLINE_MS);
    const reasons = l.events.filter((e) => e.type === "rejected-connection").map((e) => formatEvent(e));
    expect(reasons.join("\n")).toMatch(/more than 4 connections in their handshake/);
  }, 20_000);

  it("TLS: a client without an accepted certificate never gets the slot, and one that is silent after TLS is closed at the deadline", async () => {
    const l = await startListener(cleanups, { tls: loadTlsDir({ dir: pki.good, role: "server" }), handshakeTimeoutMs: 500 });
    // Right certificate, but never sends its Init.
    const mute = tls.connect({ host: "127.0.0.1", port: l.port, ca: read(pki.good, "ca-cert.pem"), cert: read(pki.good, "client-cert.pem"), key: read(pki.good, "client-key.pem") });
    mute.on("error", () => undefined).resume();
    cleanups.push(() => void mute.destroy());
    await new Promise<void>((r) => mute.once("close", () => r()));
    const ev = l.events.find((e) => e.type === "rejected-connection");
    expect(ev && formatEvent(ev)).toMatch(/no VSCard Init within 500 ms/);
    expect(l.events.some((e) => e.type === "connected")).toBe(false);
    const host = qemu(l.port, pki.good);
    expect(await host.atr).toBeLessThan(ATR_DEADLINE_MS);
  }, 20_000);
});
