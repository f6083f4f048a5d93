/**
 * `cacard vscard` against real QEMU 7.2 ccid-card-passthru, guest-less: QEMU
 * runs with -S (no CPU, no firmware); the chardev and the VSCard code run in
 * its main loop, so handshake, card insert/remove, reconnects and TLS can be
 * checked. APDUs need a guest (test/interop/qemu/guest/).
 *
 * With CI=true the suite must run (a missing qemu-system-x86_64 fails it);
 * otherwise it is skipped when QEMU is not installed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BUILT_CLI,
  QEMU,
  cli,
  findOnPath,
  freePort,
  isListening,
  killAll,
  startCacard,
  startQemu,
  until,
  type Proc,
} from "./harness.js";
import { makeTestPki, type TestPki } from "../../backends/vscard/pki.js";

const CI = process.env.CI === "true";

/** QEMU's own start-up (-S, no firmware) before it connects, allowed on top of the 2 s. */
const QEMU_START_ALLOWANCE_MS = 1_500;

/** Attackers that reconnect whenever dropped: `idle` send nothing, `slow` send a byte a second. Returns stop. */
function attackers(port: number, idle: number, slow: number): () => void {
  let stopped = false;
  const sockets = new Set<net.Socket>();
  const open = (kind: "idle" | "slow") => {
    if (stopped) return;
    const s = net.connect({ host: "127.0.0.1", port });
    sockets.add(s);
    s.on("error", () => undefined).resume();
    const timer = kind === "slow" ? setInterval(() => s.writable && s.write(Uint8Array.of(0)), 1_000) : null;
    s.once("close", () => {
      sockets.delete(s);
      if (timer) clearInterval(timer);
      setImmediate(() => open(kind));
    });
  };
  for (let i = 0; i < idle; i++) open("idle");
  for (let i = 0; i < slow; i++) open("slow");
  return () => {
    stopped = true;
    for (const s of sockets) s.destroy();
  };
}
const haveQemu = findOnPath(QEMU) !== null;
const run = haveQemu || CI;

/** QEMU args for a passthru card, as `cacard qemu-args` prints them for the same options. */
async function qemuArgsFor(cacardArgs: string[], extra: string[] = []): Promise<string[]> {
  const out = await cli(["qemu-args", ...cacardArgs, "--format", "args", ...extra]);
  return out.split("\n").filter(Boolean);
}

/** QEMU listening (server=on) on a fresh port; returns it once the port is open. */
async function qemuServer(port: number, cacardArgs: string[], extra: string[] = []): Promise<Proc> {
  const qemu = startQemu(await qemuArgsFor(cacardArgs, extra));
  await until(() => isListening(port) || qemu.exited !== null, 20_000, `QEMU listening on ${port}`);
  if (qemu.exited !== null) throw new Error(`QEMU exited: ${qemu.output}`);
  return qemu;
}

describe.runIf(run)("cacard vscard against real QEMU ccid-card-passthru", () => {
  let pki: TestPki;

  beforeAll(() => {
    expect(findOnPath(QEMU), `${QEMU} is required when CI=true`).not.toBeNull();
    expect(existsSync(BUILT_CLI), `build first: npx tsc -p tsconfig.json (${BUILT_CLI})`).toBe(true);
    pki = makeTestPki();
  });
  afterEach(async () => {
    await killAll();
  });
  afterAll(async () => {
    await killAll();
    if (pki) rmSync(pki.root, { recursive: true, force: true });
  });

  it("handshake: Init answered, ReaderAdd gives reader 0, ATR accepted", async () => {
    const port = await freePort();
    const args = ["--connect", `127.0.0.1:${port}`];
    const qargs = await qemuArgsFor(args);
    expect(qargs).toContain(`socket,id=ccid0,host=127.0.0.1,port=${port},server=on,wait=off,nodelay=on`);
    await qemuServer(port, args);
    const cacard = startCacard([...args, "--debug"]);
    await cacard.waitLine(/^cacard vscard: card inserted reader=0 atr=3B7A18000073667465206364313434$/);
    const l = cacard.lines;
    // QEMU's Init reply (reader_id 0xffffffff, version 2, one capability 0)
    expect(l).toContain("cacard vscard: rx Init reader=undefined version=2 caps=[0]");
    expect(l).toContain("cacard vscard: host init version=2 caps=0");
    expect(l).toContain('cacard vscard: reader 0 attached name="cacard"');
    const order = [/connected 127\.0\.0\.1:\d+ tls=off/, /tx Init/, /rx Init/, /tx ReaderRemove reader=0/, /tx ReaderAdd/, /reader 0 attached/, /tx ATR reader=0 15 bytes/, /card inserted/];
    let at = -1;
    for (const re of order) {
      const i = l.findIndex((x, k) => k > at && re.test(x));
      expect(i, `${re} after line ${at}`).toBeGreaterThan(at);
      at = i;
    }
    expect(cacard.count(/warning|protocol error/)).toBe(0);
  });

  it("card remove and insert at run time (CardRemove → SUCCESS, ATR again)", async () => {
    const port = await freePort();
    const args = ["--connect", `127.0.0.1:${port}`];
    await qemuServer(port, args);
    const cacard = startCacard([...args, "--stdin-commands", "--debug"]);
    await cacard.waitLine(/card inserted reader=0/);
    cacard.write("remove\n");
    const removed = await cacard.waitLine(/^cacard vscard: card removed reader=0$/);
    expect(cacard.lines.slice(0, removed).some((x) => /rx Error reader=0 code=0/.test(x))).toBe(true);
    cacard.write("insert\n");
    await cacard.waitLine(/card inserted reader=0/, 15_000, removed);
    expect(cacard.count(/tx ATR reader=0/)).toBe(2);
    cacard.write("quit\n");
    await cacard.waitLine(/^cacard vscard: stopped$/);
    await cacard.waitExit();
    expect(cacard.exited).toBe(0);
  });

  it("reconnects after QEMU is killed and restarted on the same port", async () => {
    const port = await freePort();
    const args = ["--connect", `127.0.0.1:${port}`, "--retry-initial-ms", "100", "--retry-max-ms", "800"];
    const qemu1 = await qemuServer(port, args);
    const cacard = startCacard(args);
    await cacard.waitLine(/card inserted reader=0/);
    await qemu1.killHard();
    const gone = await cacard.waitLine(/^cacard vscard: disconnected 127\.0\.0\.1:\d+ reason=/);
    await cacard.waitLine(/connect failed .*ECONNREFUSED/, 15_000, gone);
    await cacard.waitLine(/retrying in \d+ ms attempt=2/, 15_000, gone);
    await qemuServer(port, args);
    await cacard.waitLine(/card inserted reader=0/, 20_000, gone);
    expect(cacard.count(/card inserted reader=0/)).toBe(2);
    expect(cacard.count(/reader 0 attached/)).toBe(2);
  });

  it("TLS: QEMU tls-creds-x509 endpoint=server verify-peer=on accepts our client certificate", async () => {
    const port = await freePort();
    const args = ["--connect", `127.0.0.1:${port}`, "--tls-dir", pki.good];
    const qargs = await qemuArgsFor(args);
    expect(qargs).toContain(`tls-creds-x509,id=ccid0-tls,dir=${pki.good},endpoint=server,verify-peer=on`);
    await qemuServer(port, args);
    const cacard = startCacard(args);
    await cacard.waitLine(/^cacard vscard: connected 127\.0\.0\.1:\d+ tls="TLSv1\.3 /, 20_000);
    await cacard.waitLine(/card inserted reader=0/);
  });

  it("TLS: QEMU closes on a client certificate from another CA; cacard reports it and backs off", async () => {
    const port = await freePort();
    // QEMU trusts only the good CA; our client cert comes from another CA (we still trust QEMU's).
    await qemuServer(port, ["--connect", `127.0.0.1:${port}`, "--tls-dir", pki.good]);
    const cacard = startCacard(["--connect", `127.0.0.1:${port}`, "--tls-dir", pki.foreign, "--retry-initial-ms", "200"]);
    await cacard.waitLine(/disconnected 127\.0\.0\.1:\d+ reason=/, 20_000);
    await cacard.waitLine(/retrying in \d+ ms attempt=1/);
    await cacard.waitLine(/retrying in \d+ ms attempt=3/, 20_000);
    const delays = cacard.lines
      .map((l) => /retrying in (\d+) ms attempt=(\d+)/.exec(l))
      .filter((m) => m !== null)
      .map((m) => Number(m![1]));
    expect(delays[2]).toBeGreaterThan(delays[0]); // backoff grows (jitter keeps it within [50%, 100%])
    expect(cacard.count(/card inserted/)).toBe(0);
  });

  it("TLS: QEMU with ca-crl.pem closes on a revoked client certificate", async () => {
    const port = await freePort();
    await qemuServer(port, ["--connect", `127.0.0.1:${port}`, "--tls-dir", pki.good]); // good/ has ca-crl.pem
    const cacard = startCacard(["--connect", `127.0.0.1:${port}`, "--tls-dir", pki.revoked, "--retry-initial-ms", "200"]);
    await cacard.waitLine(/disconnected .*refused our client certificate/, 20_000);
    await cacard.waitLine(/retrying in \d+ ms attempt=2/, 20_000);
    expect(cacard.count(/card inserted/)).toBe(0);
  });

  it("unix socket: cacard vscard --unix PATH to QEMU's path=PATH,server=on", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cacard-unix-"));
    const path = join(dir, "ccid.sock");
    try {
      const args = ["--unix", path];
      const qargs = await qemuArgsFor(args);
      expect(qargs).toContain(`socket,id=ccid0,path=${path},server=on,wait=off`);
      const qemu = startQemu(qargs);
      await until(() => existsSync(path) || qemu.exited !== null, 20_000, "QEMU's unix socket");
      const cacard = startCacard(args);
      await cacard.waitLine(new RegExp(`connected unix:${path} tls=off`));
      await cacard.waitLine(/card inserted reader=0/);
    } finally {
      await killAll();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("QEMU as the client: chardev server=off connects to cacard vscard --listen", async () => {
    const port = await freePort();
    const args = ["--listen", `127.0.0.1:${port}`];
    const qargs = await qemuArgsFor(args);
    expect(qargs).toContain(`socket,id=ccid0,host=127.0.0.1,port=${port},server=off,reconnect=2,nodelay=on`);
    const cacard = startCacard(args);
    await cacard.waitLine(new RegExp(`listening on 127\\.0\\.0\\.1:${port}`));
    startQemu(qargs);
    await cacard.waitLine(/^cacard vscard: connected 127\.0\.0\.1:\d+ tls=off$/, 20_000);
    await cacard.waitLine(/card inserted reader=0/);
  });

  // Issue 16 item 1: idle and slow connections that reconnect whenever dropped do not keep QEMU out.
  it.each([
    ["plain", false],
    ["TLS", true],
  ] as const)("%s: QEMU gets its ATR within 2 s of connecting while 50 idle and 50 slow (1 byte/s) connections are open", async (_name, useTls) => {
    const port = await freePort();
    const args = ["--listen", `127.0.0.1:${port}`, ...(useTls ? ["--tls-dir", pki.good] : [])];
    const qargs = await qemuArgsFor(args);
    const cacard = startCacard(args);
    await cacard.waitLine(/listening on/);
    const stopAttack = attackers(port, 50, 50);
    try {
      await new Promise((r) => setTimeout(r, 1_200)); // all open, the slow ones trickling
      const tQemu = Date.now();
      startQemu(qargs);
      const connected = await cacard.waitLine(/^cacard vscard: connected 127\.0\.0\.1:\d+ tls=/, 20_000);
      const tConnected = Date.now();
      await cacard.waitLine(/card inserted reader=0/, 2_000, connected);
      const tAtr = Date.now();
      console.log(`[lock-out ${_name}] QEMU start -> served ${tConnected - tQemu} ms, -> ATR ${tAtr - tQemu} ms`);
      expect(tAtr - tConnected).toBeLessThan(2_000);
      // QEMU connects as it starts (reconnect=2): had its first connection been refused,
      // the next try would come 2 s later. Its start itself takes well under a second here.
      expect(tAtr - tQemu).toBeLessThan(QEMU_START_ALLOWANCE_MS + 2_000);
    } finally {
      stopAttack();
    }
  }, 60_000);

  it("QEMU as a TLS client (endpoint=client) to cacard vscard --listen --tls-dir", async () => {
    const port = await freePort();
    const args = ["--listen", `127.0.0.1:${port}`, "--tls-dir", pki.good];
    const qargs = await qemuArgsFor(args);
    expect(qargs).toContain(`tls-creds-x509,id=ccid0-tls,dir=${pki.good},endpoint=client,verify-peer=on`);
    const cacard = startCacard(args);
    await cacard.waitLine(/listening on/);
    startQemu(qargs);
    await cacard.waitLine(/^cacard vscard: connected 127\.0\.0\.1:\d+ tls="TLSv1\.3 /, 20_000);
    await cacard.waitLine(/card inserted reader=0/);
  });
});

// Registered only when the suite above cannot run, so that the report says why
// (with describe.skipIf the placeholder counted as a skipped test in every CI run).
if (!run) {
  describe("cacard vscard against real QEMU (skipped)", () => {
    it.skip(`${QEMU} not installed; set CI=true to make this a failure`, () => undefined);
  });
}
