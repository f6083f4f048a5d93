/**
 * `cacard relay` as a real process, without pcscd: help, usage errors and
 * the one-line failure when pcscd is not there. PCSCLITE_CSOCK_NAME points
 * pcsc-lite's client at a socket that does not exist, so the machine's own
 * pcscd (if any) is never asked. The relay itself: test/interop/relay/.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";

const ROOT = resolve(__dirname, "../..");
const CLI = join(ROOT, "dist/cli/main.js");
const NO_PCSCD = { ...process.env, PCSCLITE_CSOCK_NAME: "/nonexistent/cacard-test/pcscd.comm" };

function run(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, "relay", ...args], { encoding: "utf8", timeout: 30_000, env: NO_PCSCD });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("cacard relay (no pcscd)", () => {
  it("--help names the relay options and the shared VSCard transport", () => {
    const r = run(["--help"]);
    expect(r.code).toBe(0);
    for (const option of ["--list", "--reader NAME", "--exclusive", "--protocol t0|t1|any", "--connect [HOST:]PORT", "--tls-dir DIR", "--object secret"]) {
      expect(r.out).toContain(option);
    }
    expect(r.out).toContain('"cacard relay: " + one of');
  });

  it("refuses to pick a reader by itself", () => {
    const r = run(["--connect", "127.0.0.1:9"]);
    expect(r).toMatchObject({ code: 2, out: "" });
    expect(r.err).toBe("cacard relay: give the reader with --reader NAME (cacard relay --list prints them); the relay never picks one by itself\n");
  });

  it("checks its own options before touching PC/SC", () => {
    expect(run(["--reader", "x", "--protocol", "t2", "--connect", "127.0.0.1:9"]).err).toMatch(/--protocol t2: expected t0, t1 or any/);
    expect(run(["--reader", "x", "--exchange-timeout-ms", "0", "--connect", "127.0.0.1:9"]).err).toMatch(/--exchange-timeout-ms 0: expected milliseconds/);
    expect(run(["--list", "--reader", "x"]).code).toBe(2);
    expect(run(["--reader", "x", "--connect", "127.0.0.1:9", "--db", "y"]).err).toMatch(/unknown option '--db'/);
  });

  it("--list without pcscd: one line, exit 1", () => {
    const r = run(["--list"]);
    expect(r).toMatchObject({ code: 1, out: "" });
    expect(r.err).toBe("cacard relay: pcscd is not running (SCardEstablishContext: SCARD_E_NO_SERVICE)\n");
  });
});
