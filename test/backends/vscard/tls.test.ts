import { describe, expect, it } from "vitest";
import { unlinkSync, mkdtempSync, cpSync } from "node:fs";
import { join } from "node:path";
import tls from "node:tls";
import { VirtualReader } from "../../../src/core/card/reader.js";
import { VscardClient } from "../../../src/backends/vscard/client.js";
import { loadTlsDir, TlsConfigError, type VerifyPeer } from "../../../src/backends/vscard/tls.js";
import type { VscardEvent } from "../../../src/backends/vscard/session.js";
import { formatEvent } from "../../../src/cli/vscard-events.js";
import { MsgType, UNDEFINED_READER_ID, encodeMessage, initMessage } from "../../../src/backends/vscard/codec.js";
import { EchoCard, FakeHost } from "./fake-host.js";
import { PASSPHRASE } from "./pki.js";
import { read, startListener, useCleanups, useTestPki } from "./harness.js";

const pki = useTestPki();
const cleanups = useCleanups();

/** A TLS "QEMU" (tls-creds-x509 endpoint=server, verify-peer=on) using the files of `dir`. */
async function tlsHost(dir: string, withCrl = false): Promise<FakeHost> {
  const host = new FakeHost({
    tls: {
      ca: read(dir, "ca-cert.pem"),
      cert: read(dir, "server-cert.pem"),
      key: read(dir, "server-key.pem"),
      requestCert: true,
      rejectUnauthorized: true,
      ...(withCrl ? { crl: read(dir, "ca-crl.pem") } : {}),
    },
  });
  await host.listen();
  cleanups.push(() => host.close());
  return host;
}

function waiter(events: VscardEvent[]) {
  return async (pred: (e: VscardEvent) => boolean, what: string, ms = 5000) => {
    const t0 = Date.now();
    for (;;) {
      const e = events.find(pred);
      if (e) return e;
      if (Date.now() - t0 > ms) throw new Error(`timed out: ${what}; got ${events.map((x) => formatEvent(x)).join(" | ")}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
}

function runClient(dir: string, port: number, host = "127.0.0.1", verifyPeer?: VerifyPeer, keyPassphrase?: string) {
  const events: VscardEvent[] = [];
  const ac = new AbortController();
  const client = new VscardClient({
    readers: [new VirtualReader("r", new EchoCard())],
    endpoint: { kind: "tcp", host, port },
    tls: loadTlsDir({ dir, role: "client", ...(keyPassphrase ? { keyPassphrase } : {}) }),
    signal: ac.signal,
    onEvent: (e) => events.push(e),
    backoff: { initialMs: 30, maxMs: 100, jitter: 0 },
    ...(verifyPeer ? { verifyPeer } : {}),
  });
  const done = client.run();
  cleanups.push(async () => {
    ac.abort();
    await done;
  });
  return { events, wait: waiter(events) };
}

describe("TLS directory loading", () => {
  it("loads a complete client and server directory", () => {
    const c = loadTlsDir({ dir: pki.good, role: "client" });
    expect(c).toMatchObject({ role: "client", verifyPeer: true, hasCrl: true });
    expect(c.subject).toMatch(/cacard client/);
    expect(loadTlsDir({ dir: pki.noCrl, role: "server" }).hasCrl).toBe(false);
  });

  it.each([
    ["ca-cert.pem", "client"],
    ["client-cert.pem", "client"],
    ["client-key.pem", "client"],
    ["server-cert.pem", "server"],
    ["server-key.pem", "server"],
  ] as const)("refuses to start without %s (%s), naming the file", (file, role) => {
    const dir = mkdtempSync(join(pki.root, "missing-"));
    cpSync(pki.good, dir, { recursive: true });
    unlinkSync(join(dir, file));
    let err: unknown;
    try {
      loadTlsDir({ dir, role });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TlsConfigError);
    expect((err as Error).message).toContain(join(dir, file));
    expect((err as TlsConfigError).file).toBe(join(dir, file));
  });

  it("needs the passphrase for an encrypted key, and the right one", () => {
    expect(() => loadTlsDir({ dir: pki.encrypted, role: "client" })).toThrow(/client-key.pem is encrypted.*--tls-key-secret/);
    expect(() => loadTlsDir({ dir: pki.encrypted, role: "server", keyPassphrase: "wrong" })).toThrow(
      /server-key.pem: cannot decrypt/,
    );
    expect(loadTlsDir({ dir: pki.encrypted, role: "client", keyPassphrase: PASSPHRASE }).role).toBe("client");
  });

  it("notices a key that does not match its certificate", () => {
    const dir = mkdtempSync(join(pki.root, "mismatch-"));
    cpSync(pki.good, dir, { recursive: true });
    cpSync(join(pki.good, "server-key.pem"), join(dir, "client-key.pem"));
    expect(() => loadTlsDir({ dir, role: "client" })).toThrow(/does not belong to/);
  });
});

describe("VSCard over TLS, we connect", () => {
  it("accepts a server from our CA with the IP SAN, and presents our client cert", async () => {
    const host = await tlsHost(pki.good);
    const c = runClient(pki.good, host.port);
    const ev = await c.wait((e) => e.type === "connected", "connected");
    expect(formatEvent(ev)).toMatch(/tls="TLSv1\.[23] /);
    await c.wait((e) => e.type === "card-inserted", "card inserted over TLS");
  });

  it("works with an encrypted client key and its passphrase", async () => {
    const host = await tlsHost(pki.good);
    const c = runClient(pki.encrypted, host.port, "127.0.0.1", undefined, PASSPHRASE);
    await c.wait((e) => e.type === "card-inserted", "card inserted");
  });

  it("rejects a server certificate from another CA, and keeps retrying with backoff", async () => {
    const host = await tlsHost(pki.foreign);
    const c = runClient(pki.good, host.port);
    const ev = await c.wait((e) => e.type === "connect-failed", "connect failed");
    expect(formatEvent(ev)).toMatch(/TLS handshake: .*(self.signed|unable to (get|verify)|certificate)/i);
    await c.wait((e) => e.type === "retry" && e.attempt >= 2, "retries");
    expect(c.events.some((e) => e.type === "card-inserted")).toBe(false);
  });

  it("rejects a server whose certificate does not name the host we dialled", async () => {
    const host = await tlsHost(pki.wrongName);
    const c = runClient(pki.good, host.port);
    const ev = await c.wait((e) => e.type === "connect-failed", "hostname mismatch");
    expect(formatEvent(ev)).toMatch(/127\.0\.0\.1.*(not in the cert|altnames)/i);
  });

  it("checks DNS names too (localhost is in the SAN)", async () => {
    const host = await tlsHost(pki.good);
    const c = runClient(pki.good, host.port, "localhost");
    await c.wait((e) => e.type === "card-inserted", "card inserted via localhost");
  });

  it("rejects a revoked server when the CRL is present", async () => {
    const host = await tlsHost(pki.revoked);
    const c = runClient(pki.good, host.port);
    const ev = await c.wait((e) => e.type === "connect-failed", "revoked server");
    expect(formatEvent(ev)).toMatch(/revoked/i);
  });

  it("is rejected by a server that checks the CRL (revoked client cert)", async () => {
    const host = await tlsHost(pki.good, true);
    const c = runClient(pki.revoked, host.port);
    await c.wait((e) => e.type === "disconnected" || e.type === "connect-failed", "server hangs up");
    await c.wait((e) => e.type === "retry", "retry");
    expect(c.events.some((e) => e.type === "card-inserted")).toBe(false);
  });

  it("lets the embedder refuse the peer after the handshake", async () => {
    const host = await tlsHost(pki.good);
    const seen: string[] = [];
    const c = runClient(pki.good, host.port, "127.0.0.1", (cert) => {
      seen.push(cert.subject.CN as string);
      return "not the QEMU we expected";
    });
    const ev = await c.wait((e) => e.type === "connect-failed", "refused by hook");
    expect(formatEvent(ev)).toMatch(/not the QEMU we expected/);
    expect(seen[0]).toBe("localhost");
  });
});

describe("VSCard over TLS, we listen", () => {
  async function listen(dir: string, verifyPeer?: VerifyPeer) {
    const { events, port } = await startListener(cleanups, {
      tls: loadTlsDir({ dir, role: "server" }),
      initTimeoutMs: 200,
      ...(verifyPeer ? { verifyPeer } : {}),
    });
    return { events, wait: waiter(events), port };
  }

  /** QEMU as a TLS client (endpoint=client). */
  function qemuClient(dir: string, port: number, withCert = true) {
    const sock = tls.connect({
      host: "127.0.0.1",
      port,
      ca: read(dir, "ca-cert.pem"),
      ...(withCert ? { cert: read(dir, "client-cert.pem"), key: read(dir, "client-key.pem") } : {}),
    });
    sock.on("error", () => undefined);
    sock.on("data", () => undefined);
    cleanups.push(() => void sock.destroy());
    sock.on("secureConnect", () => {
      sock.write(encodeMessage(initMessage(UNDEFINED_READER_ID)));
    });
    return sock;
  }

  it("serves a host with a valid client certificate", async () => {
    const l = await listen(pki.good);
    const sock = qemuClient(pki.good, l.port);
    const got: Buffer[] = [];
    sock.on("data", (d) => got.push(d));
    const ev = await l.wait((e) => e.type === "connected", "connected");
    expect(formatEvent(ev)).toMatch(/tls="TLSv1/);
    // our Init arrives over TLS
    await new Promise((r) => setTimeout(r, 100));
    expect(Buffer.concat(got).readUInt32BE(0)).toBe(MsgType.Init);
  });

  it.each([
    ["from another CA", "foreign", true],
    ["that is revoked (CRL)", "revoked", true],
    ["missing", "good", false],
  ] as const)("turns away a client certificate %s", async (_what, which, withCert) => {
    const l = await listen(pki.good);
    qemuClient(pki[which], l.port, withCert);
    const ev = await l.wait((e) => e.type === "rejected-connection", "rejected");
    expect(formatEvent(ev)).toMatch(/client certificate not accepted|handshake/);
    expect(l.events.some((e) => e.type === "connected")).toBe(false);
  });
});
