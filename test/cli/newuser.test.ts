/**
 * What a new user trips on (issue 17), run as real processes from dist/:
 * --version, list, info --json, option errors in cacard's own words, the
 * old spellings kept as aliases, apdu's exit codes and comments, demo's exit
 * status when VERIFY is refused, the "queued" line of a second vpcd card,
 * --pid-file, and the public-sample-keys line. Servers are loopback only;
 * every child is stopped by its own pid with a hard deadline.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { spawn, spawnSync, execFileSync, type ChildProcess } from "node:child_process";
import { createServer, type Server, type Socket } from "node:net";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(__dirname, "../..");
const CLI = join(ROOT, "dist/cli/main.js");
const SAMPLE = join(ROOT, "certs-sample");
const tmp = mkdtempSync(join(tmpdir(), "cacard-newuser-"));
const password = join(tmp, "password.txt");
writeFileSync(password, "12345678\n");
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[], input = "") {
  const r = spawnSync(process.execPath, [CLI, ...args], { input, encoding: "utf8", timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A long-running cacard with its output collected; stopped after each test. */
interface Child {
  readonly proc: ChildProcess;
  err(): string;
  waitFor(pattern: RegExp, ms?: number): Promise<void>;
  exit(): Promise<number | null>;
}
const children: ChildProcess[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function startCli(args: string[]): Child {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  children.push(proc);
  let err = "";
  proc.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
  return {
    proc,
    err: () => err,
    async waitFor(pattern, ms = 15_000) {
      const t0 = Date.now();
      while (!pattern.test(err)) {
        if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${pattern}; stderr:\n${err}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    exit: () => exited,
  };
}

/** A loopback TCP server standing in for vpcd: `poll` sends GET ATR (00 01 04) to each connection, as an accepting vpcd does. */
async function fakeVpcd(poll: boolean): Promise<number> {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    s.on("error", () => {});
    if (poll) s.write(Uint8Array.of(0x00, 0x01, 0x04));
  });
  server.on("close", () => sockets.forEach((s) => s.destroy()));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  const close = server.close.bind(server);
  server.close = ((cb?: (err?: Error) => void) => {
    sockets.forEach((s) => s.destroy());
    return close(cb);
  }) as typeof server.close;
  return address.port;
}

describe("cacard --version, list, info --json", () => {
  it("--version prints the package version", () => {
    const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
    for (const flag of ["--version", "-V"]) expect(run([flag])).toMatchObject({ code: 0, out: `cacard ${version}\n` });
  });

  it("list: every certificate of the sample DB with nickname, key, private key and subject", () => {
    const r = run(["list"]);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trim().split("\n");
    expect(lines[0]).toMatch(/^nss .*certs-sample\/nssdb: 3 certificate\(s\)$/);
    expect(lines[1]).toMatch(/^NICKNAME\s+KEY\s+PRIVATE KEY\s+SUBJECT$/);
    for (const n of [1, 2, 3]) expect(r.out).toMatch(new RegExp(`^cert${n}\\s+RSA 2048\\s+yes\\s+CN=cert${n}$`, "m"));
  });

  it("list on a PEM directory shows a certificate without its key, and --json", () => {
    const dir = mkdtempSync(join(tmp, "pem-"));
    for (const f of ["cert1.pem", "cert1.key", "cert2.pem"]) copyFileSync(join(SAMPLE, "pem", f), join(dir, f));
    const r = run(["list", "--db", dir, "--json"]);
    expect(r.code, r.err).toBe(0);
    const listing = JSON.parse(r.out);
    expect(listing.kind).toBe("pem");
    expect(listing.certificates).toEqual([
      { nickname: "cert1", subject: "CN=cert1", algorithm: { kind: "rsa", bits: 2048 }, key: "RSA 2048", privateKey: true },
      { nickname: "cert2", subject: "CN=cert2", algorithm: { kind: "rsa", bits: 2048 }, key: "RSA 2048", privateKey: false },
    ]);
  });

  it("list needs no password, even on the password DB", () => {
    const r = run(["list", "--db", join(SAMPLE, "nssdb-pw")]);
    expect(r.code, r.err).toBe(0);
    expect(r.out.match(/\s+yes\s+CN=cert/g)).toHaveLength(3);
  });

  it("an unknown nickname names the ones the store holds", () => {
    const r = run(["info", "--cert", "cert9"]);
    expect(r.code).toBe(1);
    expect(r.err.trim()).toMatch(/^cacard info: no certificate named "cert9" in NSS database .*\(it holds "cert1", "cert2", "cert3"\)$/);
    const pem = run(["info", "--db", join(SAMPLE, "pem"), "--cert", "nope"]);
    expect(pem.err).toMatch(/\(it holds "cert1", "cert2", "cert3"\)/);
  });

  it("info --json: one object with the card and its certificates", () => {
    const r = run(["info", "--json", "--db", join(SAMPLE, "nssdb-pw"), "--password-file", password]);
    expect(r.code, r.err).toBe(0);
    const info = JSON.parse(r.out);
    expect(info).toMatchObject({
      atr: "3B7A18000073667465206364313434",
      personality: "cac",
      compressedCertificates: false,
      keyStore: { kind: "nss" },
      login: { pinRequired: true, pin: "the DB password", passwordFileVerified: true },
    });
    expect(info.serial).toMatch(/^[0-9A-F]{64}$/);
    expect(info.certificates.map((c: { nickname: string }) => c.nickname)).toEqual(["cert1", "cert2", "cert3"]);
    expect(info.certificates[0]).toMatchObject({ slot: 0, subject: "CN=cert1", key: "RSA 2048", privateKey: true, issuer: "CN=cert1" });
    expect(JSON.stringify(info)).not.toContain("12345678");
  });

  it("info on a PEM store with encrypted keys says the key password, not the DB password", () => {
    const r = run(["info", "--db", join(SAMPLE, "pem-enc")]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("Login:     PIN required (the key password)");
    expect(r.out).not.toContain("DB password");
  });
});

describe("options: one spelling per idea, errors in cacard's words", () => {
  it.each([
    [["info", "--dbb", "x"], /^cacard info: unknown option '--dbb' \(see cacard info --help\); did you mean --db\?$/],
    [["apdu", "--frobnicate"], /^cacard apdu: unknown option '--frobnicate' \(see cacard apdu --help\)$/],
    [["info", "--db"], /^cacard info: --db needs a value \(--db VALUE or --db=VALUE\)$/],
    [["info", "--db", "--trace"], /^cacard info: --db needs a value/],
    [["info", "--trace=yes"], /^cacard info: --trace takes no value$/],
    [["info", "extra"], /^cacard info: unexpected argument 'extra'$/],
    [["vpcd", "--control", "tcp"], /^cacard vpcd: --control tcp: the only control channel is 'stdin'$/],
    [["vscard", "--connect", "1", "--control", "tcp"], /^cacard vscard: --control tcp: the only control channel is 'stdin'$/],
    [["info", "--personality", "piv", "--compress-certificates"], /--compress-certificates: only with --personality cac or cac\+piv/],
  ])("%j → exit 2, one line", (args, message) => {
    const r = run(args);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err.trim()).toMatch(message);
    expect(r.err).not.toMatch(/ERR_PARSE_ARGS|To specify a positional argument/);
  });

  it("vpcd --help lists --trace once, --verbose and --control stdin, and the token label cert1", () => {
    const help = run(["vpcd", "--help"]).out;
    expect(help.match(/^\s+--trace\b/gm)).toHaveLength(1);
    expect(help).toMatch(/^\s+--verbose\b/m);
    expect(help).toMatch(/^\s+--control stdin\b/m);
    expect(help).toMatch(/^\s+--pid-file FILE\b/m);
    expect(help).toContain('token label "cert1"');
    expect(help).not.toContain("CAC II");
  });

  it("vscard --help says --verbose and --control stdin (the old spellings are aliases)", () => {
    const help = run(["vscard", "--help"]).out;
    expect(help).toMatch(/^\s+--verbose\b/m);
    expect(help).toMatch(/^\s+--control stdin\b/m);
    expect(help).not.toMatch(/^\s+--debug\b/m);
    expect(help).not.toMatch(/^\s+--stdin-commands\b/m);
  });

  it("the card options offer --compress-certificates on every command", () => {
    for (const cmd of ["info", "apdu", "vpcd", "vscard", "demo"]) expect(run([cmd, "--help"]).out).toContain("--compress-certificates");
  });
});

describe("cacard apdu: exit codes and comments", () => {
  it("a trailing # comment after an APDU is ignored", () => {
    const r = run(["apdu"], "00A4040007A000000116DB00   # select the CCC\n00C000000D#get response\n!atr # the ATR\n");
    expect(r).toMatchObject({ code: 0, out: "610D\n6F0B8407A000000116DB00A5009000\n3B7A18000073667465206364313434\n", err: "" });
  });

  it("an unknown directive is an input error: exit 1, after the answers to the lines before it", () => {
    const r = run(["apdu"], "00A4040007A000000116DB00\n!frob\n00C000000D\n");
    expect(r.code).toBe(1);
    expect(r.out).toBe("610D\n");
    expect(r.err.trim()).toBe("cacard apdu: line 2: unknown directive '!frob' (!reset, !atr)");
  });

  it("bad hex is exit 1 too; bad options are exit 2", () => {
    expect(run(["apdu"], "00A4 zz\n").code).toBe(1);
    expect(run(["apdu"], "00A40\n").err).toMatch(/line 1: odd number of hex digits/);
    expect(run(["apdu", "--nope"], "").code).toBe(2);
  });

  it("a last line without a newline is answered; CRLF input too", () => {
    expect(run(["apdu"], "00A4040007A000000116DB00\r\n00C000000D").out).toBe("610D\n6F0B8407A000000116DB00A5009000\n");
  });

  it("the same answers as before on a long file (many lines per read)", () => {
    const lines = Array.from({ length: 3000 }, (_, i) => (i % 2 === 0 ? "00A4040007A000000116DB00" : "00C000000D"));
    const r = run(["apdu"], lines.join("\n") + "\n");
    expect(r.code).toBe(0);
    expect(r.out).toBe(lines.map((_, i) => (i % 2 === 0 ? "610D" : "6F0B8407A000000116DB00A5009000")).join("\n") + "\n");
  });
});

describe("cacard demo", () => {
  it("exits 1 when the card refuses the PIN", () => {
    // A PEM store whose key password is not the demo's default PIN.
    const dir = mkdtempSync(join(tmp, "demo-"));
    copyFileSync(join(SAMPLE, "pem", "cert1.pem"), join(dir, "cert1.pem"));
    execFileSync("openssl", ["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", join(SAMPLE, "pem", "cert1.key"), "-out", join(dir, "cert1.key"), "-passout", "pass:another-password"]);
    const r = run(["demo", "--db", dir, "--cert", "cert1"]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/VERIFY .* → 6985/);
    expect(r.out).toContain("The card refused the PIN");
    expect(r.err.trim()).toBe("cacard demo: VERIFY refused (SW 6985)");
  });

  it("presents the --pin-file PIN when there is one", () => {
    const pin = join(tmp, "card-pin.txt");
    writeFileSync(pin, "4321\n");
    const r = run(["demo", "--db", join(SAMPLE, "nssdb-pw"), "--password-file", password, "--pin-file", pin]);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toContain("valid");
  });
});

describe("long-running commands: vpcd and vscard", () => {
  it("vpcd names its key store and says the sample keys are public (one line), not with --db", async () => {
    const port = await fakeVpcd(true);
    const c = startCli(["vpcd", "--port", String(port)]);
    await c.waitFor(/connected to vpcd/);
    expect(c.err().match(/public sample keys/g)).toHaveLength(1);
    expect(c.err()).toMatch(/^cacard vpcd: note: no --db: serving the public sample keys/m);
    expect(c.err()).toMatch(/cacard vpcd: key store: nss .*certs-sample\/nssdb, 3 certificate\(s\): cert1, cert2, cert3/);
    c.proc.kill("SIGTERM");
    expect(await c.exit()).toBe(0);

    const port2 = await fakeVpcd(true);
    const d = startCli(["vpcd", "--port", String(port2), "--db", join(SAMPLE, "nssdb")]);
    await d.waitFor(/connected to vpcd/);
    expect(d.err()).not.toContain("public sample keys");
    d.proc.kill("SIGTERM");
    expect(await d.exit()).toBe(0);
  });

  it("vpcd: a connection vpcd never polls is reported queued, not connected", async () => {
    const port = await fakeVpcd(false);
    const c = startCli(["vpcd", "--port", String(port), "--db", join(SAMPLE, "nssdb")]);
    await c.waitFor(/queued at vpcd 127\.0\.0\.1:\d+/, 10_000);
    expect(c.err()).not.toMatch(/connected to vpcd/);
    c.proc.kill("SIGTERM");
    expect(await c.exit()).toBe(0);
  });

  it("vpcd --pid-file: cacard's own pid, signals through it, removed at exit; a second instance refuses it", async () => {
    const pidFile = join(tmp, "vpcd.pid");
    const port = await fakeVpcd(true);
    const c = startCli(["vpcd", "--port", String(port), "--db", join(SAMPLE, "nssdb"), "--pid-file", pidFile]);
    await c.waitFor(/connected to vpcd/);
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    expect(pid).toBe(c.proc.pid);
    process.kill(pid, "SIGUSR1");
    await c.waitFor(/card 0: removed/);
    process.kill(pid, "SIGUSR2");
    await c.waitFor(/card 0: inserted/);

    const second = run(["vpcd", "--port", String(port), "--db", join(SAMPLE, "nssdb"), "--pid-file", pidFile]);
    expect(second.code).toBe(1);
    expect(second.err.trim()).toMatch(new RegExp(`--pid-file .*: process ${pid} is running with it`));

    process.kill(pid, "SIGTERM");
    expect(await c.exit()).toBe(0);
    expect(existsSync(pidFile)).toBe(false);
  });

  it("vscard: key store line, sample-keys line, --pid-file, --control stdin with status and quit", async () => {
    const pidFile = join(tmp, "vscard.pid");
    // No QEMU here: vscard keeps retrying the connection, which is enough for these lines.
    const port = await fakeVpcd(false); // a silent TCP peer: vscard connects and waits for QEMU's Init
    const c = startCli(["vscard", "--connect", `127.0.0.1:${port}`, "--pid-file", pidFile, "--control", "stdin"]);
    await c.waitFor(/connected 127\.0\.0\.1/);
    expect(c.err()).toMatch(/^cacard vscard: note: no --db: serving the public sample keys/m);
    expect(c.err()).toMatch(/^cacard vscard: key store: nss .*certs-sample\/nssdb, 3 certificate\(s\): cert1, cert2, cert3$/m);
    expect(Number(readFileSync(pidFile, "utf8"))).toBe(c.proc.pid);
    c.proc.stdin!.write("status\n");
    await c.waitFor(/card 0: inserted/);
    c.proc.stdin!.write("quit\n");
    expect(await c.exit()).toBe(0);
    expect(existsSync(pidFile)).toBe(false);
  });
});
