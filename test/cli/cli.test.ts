/**
 * The `cacard` CLI contract, run as a real process from dist/ (npm test
 * builds first): apdu streaming, info, demo, --help, one-line errors and
 * exit codes (2 usage, 1 otherwise). Secrets never reach the output.
 */
import { describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(__dirname, "../..");
const CLI = join(ROOT, "dist/cli/main.js");
const PW_DB = join(ROOT, "certs-sample/nssdb-pw");
const tmp = mkdtempSync(join(tmpdir(), "cacard-cli-"));
const rightPw = join(tmp, "right.txt");
const wrongPw = join(tmp, "wrong.txt");
writeFileSync(rightPw, "12345678\n");
writeFileSync(wrongPw, "hunter2-not-it\n");

function run(args: string[], input = "") {
  const r = spawnSync(process.execPath, [CLI, ...args], { input, encoding: "utf8", timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("cacard apdu", () => {
  it("answers the issue's example on the certs-sample DB", () => {
    const r = run(["apdu"], "00A4040007A000000116DB00\n00C000000D\n");
    expect(r).toMatchObject({ code: 0, out: "610D\n6F0B8407A000000116DB00A5009000\n", err: "" });
  });
  it("accepts spaces, colons, comments, blank lines and directives; sql: prefix", () => {
    const r = run(["apdu", "--db", `sql:${join(ROOT, "certs-sample/nssdb")}`], "# comment\n\n00 a4 04 00 07 a0:00:00:01:16:db:00 00\n!atr\n!reset\n00C0000000\n");
    expect(r.out).toBe("6F0B8407A000000116DB00A5009000\n3B7A18000073667465206364313434\n6A88\n");
    expect(r.code).toBe(0);
  });
  it("streams: each response is written before the next line is read", async () => {
    const child = spawn(process.execPath, [CLI, "apdu"], { stdio: ["pipe", "pipe", "pipe"] });
    const lines: string[] = [];
    let buffered = "";
    const next = () =>
      new Promise<string>((res, rej) => {
        const timer = setTimeout(() => rej(new Error("no response while stdin is still open")), 10_000);
        const check = () => {
          const i = buffered.indexOf("\n");
          if (i >= 0) {
            const line = buffered.slice(0, i);
            buffered = buffered.slice(i + 1);
            clearTimeout(timer);
            child.stdout.off("data", onData);
            res(line);
          }
        };
        const onData = (d: Buffer) => {
          buffered += d.toString();
          check();
        };
        child.stdout.on("data", onData);
        check();
      });
    child.stdin.write("00A4040007A000000116DB00\n");
    lines.push(await next());
    child.stdin.write("00C000000D\n");
    lines.push(await next());
    child.stdin.end();
    const code = await new Promise((res) => child.on("close", res));
    expect(lines).toEqual(["610D", "6F0B8407A000000116DB00A5009000"]);
    expect(code).toBe(0);
  });
  it("a line that is not hex is a one-line error naming the line, exit 1", () => {
    const r = run(["apdu"], "00A40400\nzz\n");
    expect(r.code).toBe(1);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/line 2/);
  });
  it("short and malformed APDUs get status words, not errors", () => {
    const r = run(["apdu"], "00\n00A404\n00A4040005A00000\n");
    expect(r.out).toBe("6700\n6700\n6700\n");
  });
});

describe("cacard info", () => {
  it("lists three certificates with the right password", () => {
    const r = run(["info", "--db", PW_DB, "--password-file", rightPw]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/ATR: +3B7A18000073667465206364313434/);
    expect(r.out).toMatch(/Serial: +[0-9A-F]{64}/);
    for (const n of [1, 2, 3]) expect(r.out).toMatch(new RegExp(`PKI ${n - 1}: +cert${n} +CN=cert${n} +RSA 2048`));
  });
  it("fails with one line on a wrong password, and never prints it", () => {
    const r = run(["info", "--db", PW_DB, "--password-file", wrongPw]);
    expect(r.code).toBe(1);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/password/);
    expect(r.err + r.out).not.toMatch(/hunter2/);
  });
  it("one-line errors for unknown nicknames, missing DBs, missing password files, bad options", () => {
    const cases: [string[], number, RegExp][] = [
      [["info", "--cert", "nosuch"], 1, /nosuch/],
      [["info", "--db", join(tmp, "nothing-here")], 1, /nothing-here/],
      [["info", "--password-file", join(tmp, "absent.txt")], 2, /absent\.txt/],
      [["info", "--bogus"], 2, /--bogus/],
      [["info", "--pin-tries", "99"], 2, /pin-tries/],
      [["apdu", "extra"], 2, /extra/],
      [["no-such-command"], 2, /no-such-command/],
    ];
    for (const [args, code, pattern] of cases) {
      const r = run(args);
      expect(r.code, args.join(" ")).toBe(code);
      expect(r.err.trim().split("\n"), args.join(" ")).toHaveLength(1);
      expect(r.err, args.join(" ")).toMatch(pattern);
    }
  });
});

describe("secrets stay secret", () => {
  it("--trace logs APDUs but never VERIFY's PIN bytes", () => {
    const r = run(["apdu", "--trace", "--db", PW_DB], "00200000083132333435363738\n002000000C3132333435363738FFFFFFFF\n00A4040007A000000116DB00\n");
    expect(r.out).toBe("9000\n9000\n610D\n");
    expect(r.err).toContain(">> 00A4040007A000000116DB00");
    expect(r.err).toContain(">> 00200000082A2A2A2A2A2A2A2A");
    expect(r.err).not.toMatch(/31323334|12345678/);
  });
  it("no password appears in --help, errors or output", () => {
    for (const args of [["info", "--db", PW_DB, "--password-file", rightPw], ["demo", "--db", PW_DB, "--password-file", rightPw], ["info", "--help"], ["apdu", "--help"], ["demo", "--db", PW_DB, "--password-file", wrongPw]]) {
      const r = run(args);
      expect(r.out + r.err, args.join(" ")).not.toMatch(/12345678|hunter2|3132333435363738/);
    }
  });
});

describe("cacard demo and help", () => {
  it("demo runs the annotated session and exits 0", () => {
    const r = run(["demo"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Signature checked against CN=cert1: valid/);
  });
  it("demo with the password DB uses the password file as PIN", () => {
    const r = run(["demo", "--db", PW_DB, "--password-file", rightPw]);
    expect(r.code).toBe(0);
    expect(r.out).not.toMatch(/12345678/);
  });
  it("--help works for the program and every command", () => {
    const top = run(["--help"]);
    expect(top.code).toBe(0);
    const names = [...top.out.matchAll(/^ {2}([a-z-]+) /gm)].map((m) => m[1]);
    expect(names).toEqual(expect.arrayContaining(["apdu", "info", "demo", "vpcd", "vscard"]));
    for (const name of names) {
      const r = run([name, "--help"]);
      expect(r.code, name).toBe(0);
      expect(r.out, name).toMatch(/Usage: cacard/);
    }
  });
});
