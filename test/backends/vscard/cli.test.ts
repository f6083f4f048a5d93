import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { hostAndRun, startCli, until, useCleanups } from "./harness.js";
import { MsgType } from "../../../src/backends/vscard/codec.js";

const REPO = resolve(__dirname, "../../..");
const tmp = mkdtempSync(join(tmpdir(), "cacard-vscard-cli-"));

const cleanups = useCleanups();

async function runToEnd(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = startCli(argv);
  const code = await r.code;
  return { code, out: r.out(), err: r.err() };
}

describe("cacard vscard: argument checks", () => {
  it.each([
    [[], /exactly one of --connect/],
    [["--connect", "1", "--listen", "2"], /exactly one of/],
    [["--unix", "/tmp/x.sock", "--tls-dir", "/tmp"], /--tls-dir cannot be used with --unix: TLS is only available over TCP/],
    [["--listen", "0.0.0.0:35971"], /not a loopback address; add --allow-remote/],
    [["--listen", "192.168.1.2:35971"], /--allow-remote/],
    [["--connect", "127.0.0.1:99999"], /port must be 1-65535/],
    [["--connect", "host:"], /expected \[HOST:\]PORT/],
    [["--connect", "::1:5"], /\[ADDR\]:PORT/],
    [["--connect", "1", "--tls-key-secret", "k"], /--tls-key-secret needs --tls-dir/],
    [["--connect", "1", "--tls-dir", "/x", "--tls-verify-peer", "maybe"], /expected yes or no/],
    [["--connect", "1", "--password-secret", "a", "--password-file", "/f"], /mutually exclusive/],
    [["--connect", "1", "--object", "secret,id=a"], /one of file= or data=/],
    [["--connect", "1", "--password-secret", "nope"], /no secret with that id/],
    [["--connect", "1", "--retry-max-ms", "abc"], /milliseconds/],
  ])("%j → usage error", async (argv, message) => {
    const r = await runToEnd(["vscard", ...argv]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err.trim().split("\n")).toHaveLength(1);
  });

  it("accepts a non-loopback --listen with --allow-remote (and fails only on binding)", async () => {
    const r = await runToEnd(["vscard", "--listen", "203.0.113.7:35999", "--allow-remote"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot listen on 203\.0\.113\.7:35999/);
  });

  it("refuses to start when a TLS file is missing, naming it", async () => {
    const dir = mkdtempSync(join(tmp, "tls-"));
    const r = await runToEnd(["vscard", "--connect", "35971", "--tls-dir", dir]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(join(dir, "ca-cert.pem"));
    expect(r.err).not.toMatch(/connecting/);
  });

  it("prints its usage with --help", async () => {
    const r = await runToEnd(["vscard", "--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/--connect \[HOST:\]PORT/);
    expect(r.out).toMatch(/card inserted reader=0/);
  });
});

describe("cacard vscard: running against a fake host", () => {
  it("serves the sample card and prints the status lines", async () => {
    const { host, r } = await hostAndRun(cleanups, ["--debug"]);
    await until(() => /card inserted reader=0/.test(r.err()), 15000, "card inserted");
    // a real APDU through the real card: SELECT the CCC applet
    host.send({ type: MsgType.APDU, readerId: 0, apdu: Uint8Array.from(Buffer.from("00A4040007A0000001163000", "hex")) });
    const resp = await host.next((m) => m.type === MsgType.APDU);
    const bytes = (resp as { apdu: Uint8Array }).apdu;
    expect(bytes[bytes.length - 2]).toBeOneOf([0x90, 0x61]);
    r.abort();
    expect(await r.code).toBe(0);
    expect(r.err()).toMatch(/cacard vscard: stopped\n$/);
  });

  it("opens a password-protected DB with --password-secret (file=, trailing newline warned, kept)", async () => {
    const exact = join(tmp, "pw-exact");
    writeFileSync(exact, "12345678");
    const { r } = await hostAndRun(cleanups, [
      "--db",
      join(REPO, "certs-sample", "nssdb-pw"),
      "--object",
      `secret,id=dbpw,file=${exact}`,
      "--password-secret",
      "dbpw",
    ]);
    await until(() => /card inserted/.test(r.err()), 15000, "card inserted with password secret");
    expect(r.err()).not.toMatch(/warning/);
  });

  it("a secret file with a newline keeps it (as QEMU), so the DB password is wrong", async () => {
    const nl = join(tmp, "pw-nl");
    writeFileSync(nl, "12345678\n");
    const res = await runToEnd([
      "vscard",
      "--connect",
      "35971",
      "--db",
      join(REPO, "certs-sample", "nssdb-pw"),
      "--object",
      `secret,id=dbpw,file=${nl}`,
      "--password-secret",
      "dbpw",
    ]);
    expect(res.err).toMatch(/warning: secret 'dbpw': .* ends with a newline/);
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/password/i);
  });

  it("warns that data= is visible in the process list", async () => {
    const { r } = await hostAndRun(cleanups, ["--db", join(REPO, "certs-sample", "nssdb-pw"), "--object", "secret,id=p,data=12345678", "--password-secret", "p"]);
    await until(() => /card inserted/.test(r.err()), 15000, "card inserted");
    expect(r.err()).toMatch(/warning: secret 'p': data= is visible .* process list/);
  });

  it("--stdin-commands: remove, insert, quit", async () => {
    const { r } = await hostAndRun(cleanups, ["--stdin-commands"]);
    await until(() => /card inserted/.test(r.err()), 15000, "card inserted");
    r.stdin.write("remove\n");
    await until(() => /card removed reader=0/.test(r.err()), 5000, "card removed");
    r.stdin.write("insert\n");
    await until(() => (r.err().match(/card inserted/g) ?? []).length === 2, 5000, "card inserted again");
    r.stdin.write("quit\n");
    expect(await r.code).toBe(0);
  });
});

describe("cacard qemu-args / libvirt-xml", () => {
  it("pairs --connect with a QEMU server=on chardev and a UHCI controller", async () => {
    const r = await runToEnd(["qemu-args", "--connect", "127.0.0.1:35971", "--format", "args"]);
    expect(r.code).toBe(0);
    expect(r.out.trim().split("\n")).toEqual([
      "-chardev",
      "socket,id=ccid0,host=127.0.0.1,port=35971,server=on,wait=off,nodelay=on",
      "-device",
      "ich9-usb-uhci1,id=cacard-uhci",
      "-device",
      "usb-ccid,id=cacard-ccid,bus=cacard-uhci.0",
      "-device",
      "ccid-card-passthru,chardev=ccid0",
    ]);
  });

  it("pairs --listen with server=off + reconnect, --unix with path=, and escapes commas", async () => {
    const listen = await runToEnd(["qemu-args", "--listen", "35972", "--controller", "none", "--format", "json"]);
    expect(JSON.parse(listen.out)).toEqual([
      "-chardev",
      "socket,id=ccid0,host=127.0.0.1,port=35972,server=off,reconnect=2,nodelay=on",
      "-device",
      "usb-ccid,id=cacard-ccid",
      "-device",
      "ccid-card-passthru,chardev=ccid0",
    ]);
    const unix = await runToEnd(["qemu-args", "--unix", "/run/a,b.sock", "--format", "args"]);
    expect(unix.out).toContain("socket,id=ccid0,path=/run/a,,b.sock,server=on,wait=off\n");
  });

  it("adds tls-creds-x509 with QEMU's endpoint, and the secret chain for passwordid", async () => {
    const r = await runToEnd([
      "qemu-args",
      "--connect",
      "35971",
      "--tls-dir",
      "/etc/cacard/tls",
      "--qemu-tls-dir",
      "/etc/pki/qemu-ccid",
      "--object",
      "secret,id=master,file=/etc/qemu/master.key,format=base64",
      "--object",
      "secret,id=qpw,file=/etc/qemu/pw.enc,keyid=master,iv=AAAAAAAAAAAAAAAAAAAAAA==,format=base64",
      "--qemu-tls-passwordid",
      "qpw",
      "--format",
      "args",
    ]);
    expect(r.code).toBe(0);
    expect(r.out.trim().split("\n").slice(0, 8)).toEqual([
      "-object",
      "secret,id=master,file=/etc/qemu/master.key,format=base64",
      "-object",
      "secret,id=qpw,file=/etc/qemu/pw.enc,keyid=master,iv=AAAAAAAAAAAAAAAAAAAAAA==,format=base64",
      "-object",
      "tls-creds-x509,id=ccid0-tls,dir=/etc/pki/qemu-ccid,endpoint=server,verify-peer=on,passwordid=qpw",
      "-chardev",
      "socket,id=ccid0,host=127.0.0.1,port=35971,server=on,wait=off,nodelay=on,tls-creds=ccid0-tls",
    ]);
  });

  it("shell format is copyable", async () => {
    const r = await runToEnd(["qemu-args", "--connect", "35971", "--tls-dir", "/tmp/my dir"]);
    expect(r.out).toContain("-object 'tls-creds-x509,id=ccid0-tls,dir=/tmp/my dir,endpoint=server,verify-peer=on' \\\n");
  });

  it("libvirt-xml: bind for --connect, connect+reconnect for --listen, tls='yes'", async () => {
    const bind = await runToEnd(["libvirt-xml", "--connect", "127.0.0.1:35971"]);
    expect(bind.out).toContain(
      [
        "<smartcard mode='passthrough' type='tcp'>",
        "  <source mode='bind' host='127.0.0.1' service='35971'/>",
        "  <protocol type='raw'/>",
        "  <address type='ccid' controller='0' slot='0'/>",
        "</smartcard>",
      ].join("\n"),
    );
    const conn = await runToEnd(["libvirt-xml", "--listen", "35972", "--tls-dir", "/x"]);
    expect(conn.out).toContain("<source mode='connect' host='127.0.0.1' service='35972' tls='yes'>");
    expect(conn.out).toContain("<reconnect enabled='yes' timeout='2'/>");
    expect(conn.out).toMatch(/chardev_tls_x509_cert_dir/);
  });
});
