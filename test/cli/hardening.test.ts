/**
 * Issue 16 items 3-5 through the real `cacard` process (dist/, built by npm
 * test): unbounded reads (/dev/zero, FIFOs, huge DBs) end with one line
 * naming the file and a nonzero exit; errors say the real reason
 * (permission denied as an unprivileged user, an empty password file) once;
 * `apdu --trace` blanks every PIN command. Every run has a hard timeout.
 */
import { afterAll, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, closeSync, constants, cpSync, mkdirSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { MAX_PASSWORD_FILE_BYTES } from "../../src/cli/card-options.js";
import { MAX_DB_FILE_BYTES } from "../../src/tokens/nss/db-files.js";
import { MAX_SECRET_FILE_BYTES } from "../../src/secrets/secret.js";

const ROOT = resolve(__dirname, "../..");
const CLI = join(ROOT, "dist/cli/main.js");
const PW_DB = join(ROOT, "certs-sample/nssdb-pw");
/** A hang is the bug: no run may take longer. */
const RUN_TIMEOUT_MS = 20_000;
/** The unprivileged user for permission tests (root reads mode-000 files). */
const NOBODY = "65534";

const tmp = mkdtempSync(join(tmpdir(), "cacard-hardening-"));
chmodSync(tmp, 0o755);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[], options: { input?: string; asNobody?: boolean } = {}) {
  const argv = options.asNobody
    ? ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", process.execPath, CLI, ...args]
    : [process.execPath, CLI, ...args];
  const t0 = Date.now();
  const r = spawnSync(argv[0], argv.slice(1), { input: options.input ?? "", encoding: "utf8", timeout: RUN_TIMEOUT_MS, killSignal: "SIGKILL" });
  return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr, ms: Date.now() - t0 };
}

function oneLineError(r: ReturnType<typeof run>, ...patterns: RegExp[]): void {
  expect(r.signal, "killed by the hard timeout: it hung").toBeNull();
  expect(r.code).not.toBe(0);
  const lines = r.err.trim().split("\n");
  expect(lines, r.err).toHaveLength(1);
  for (const p of patterns) expect(lines[0]).toMatch(p);
}

describe("bounded reads: nothing the CLI reads can hang it or fill memory", () => {
  it("--password-file /dev/zero: one line naming it, nonzero exit", () => {
    const r = run(["info", "--db", PW_DB, "--password-file", "/dev/zero"]);
    oneLineError(r, /--password-file \/dev\/zero/, new RegExp(`larger than ${MAX_PASSWORD_FILE_BYTES} bytes`));
  });

  it("--pin-file /dev/zero likewise", () => {
    const r = run(["info", "--db", PW_DB, "--pin-file", "/dev/zero"]);
    oneLineError(r, /--pin-file \/dev\/zero/, /larger than/);
  });

  it("--password-file on a FIFO that a writer holds open and never writes: times out, naming it", () => {
    const fifo = join(tmp, "pw.fifo");
    execFileSync("mkfifo", [fifo]);
    const writer = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    try {
      const r = run(["info", "--db", PW_DB, "--password-file", fifo]);
      oneLineError(r, new RegExp(`--password-file ${fifo}`), /did not end within \d+ ms/);
      expect(r.ms).toBeLessThan(RUN_TIMEOUT_MS / 2);
    } finally {
      closeSync(writer);
    }
  });

  it("--password-file on a FIFO nobody writes: an empty password, said so", () => {
    const fifo = join(tmp, "pw-nobody.fifo");
    execFileSync("mkfifo", [fifo]);
    const r = run(["info", "--db", PW_DB, "--password-file", fifo]);
    oneLineError(r, new RegExp(`--password-file ${fifo}`), /empty/);
  });

  it("--password-file /dev/stdin (a pipe, as with <(...)) still works", () => {
    // A shell pipe (spawn's own stdin is a socket, which /dev/stdin cannot open).
    const r = spawnSync("sh", ["-c", `printf '12345678\\n' | "${process.execPath}" "${CLI}" info --db "${PW_DB}" --password-file /dev/stdin`], {
      encoding: "utf8",
      timeout: RUN_TIMEOUT_MS,
      killSignal: "SIGKILL",
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("a secret file= of /dev/zero", () => {
    const r = run(["vscard", "--connect", "127.0.0.1:9", "--object", "secret,id=pw,file=/dev/zero", "--password-secret", "pw"]);
    oneLineError(r, /\/dev\/zero/, new RegExp(`larger than ${MAX_SECRET_FILE_BYTES} bytes`));
  });

  it("TLS material that is /dev/zero", () => {
    const dir = join(tmp, "tls-zero");
    mkdirSync(dir);
    execFileSync("ln", ["-s", "/dev/zero", join(dir, "ca-cert.pem")]);
    const r = run(["vscard", "--listen", "127.0.0.1:0", "--tls-dir", dir]);
    oneLineError(r, /ca-cert\.pem/, /larger than/);
  });

  it("a cert9.db over MAX_DB_FILE_BYTES is refused from its size, with the limit", () => {
    const dir = join(tmp, "huge-db");
    cpSync(PW_DB, dir, { recursive: true });
    truncateSync(join(dir, "cert9.db"), MAX_DB_FILE_BYTES + 1); // sparse: costs no disk
    const r = run(["info", "--db", dir]);
    oneLineError(r, /cert9\.db/, new RegExp(`at most ${MAX_DB_FILE_BYTES}`));
  });
});

describe("errors name the file and the real reason, once", () => {
  it("an empty password file is 'empty', not 'wrong password'", () => {
    const empty = join(tmp, "empty.txt");
    writeFileSync(empty, "");
    const r = run(["info", "--db", PW_DB, "--password-file", empty]);
    oneLineError(r, new RegExp(`--password-file ${empty}: the file is empty`));
    expect(r.err).not.toMatch(/wrong password/);
    const blank = join(tmp, "blank.txt");
    writeFileSync(blank, "\nsecond line\n");
    oneLineError(run(["info", "--db", PW_DB, "--password-file", blank]), /first line is empty/);
  });

  it("a password file the user may not read says permission denied", () => {
    const pw = join(tmp, "root-only.txt");
    writeFileSync(pw, "12345678\n", { mode: 0o600 });
    const r = run(["info", "--db", PW_DB, "--password-file", pw], { asNobody: true });
    oneLineError(r, new RegExp(`--password-file ${pw}: cannot read it: permission denied \\(EACCES\\)`));
  });

  it("a DB directory the user may not read says permission denied, not 'neither an NSS database nor a PEM directory'", () => {
    const dir = join(tmp, "locked-db");
    cpSync(PW_DB, dir, { recursive: true });
    chmodSync(dir, 0o000);
    try {
      const r = run(["info", "--db", dir], { asNobody: true });
      oneLineError(r, new RegExp(dir), /permission denied \(EACCES\)/);
      expect(r.err).not.toMatch(/neither/);
    } finally {
      chmodSync(dir, 0o755);
    }
  });

  it("a DB file the user may not read says so (not 'does not exist')", () => {
    const dir = join(tmp, "locked-file-db");
    cpSync(PW_DB, dir, { recursive: true });
    chmodSync(dir, 0o755);
    chmodSync(join(dir, "key4.db"), 0o600);
    chmodSync(join(dir, "cert9.db"), 0o644);
    const r = run(["info", "--db", dir], { asNobody: true });
    oneLineError(r, /key4\.db/, /permission denied \(EACCES\)/);
  });
});

describe("apdu --trace: no PIN command in clear", () => {
  it("VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER, even when the card refuses them", () => {
    const r = run(["apdu", "--trace", "--db", PW_DB], {
      input: [
        "00200000083132333435363738",
        "00240000103132333435363738" + "3837363534333231",
        "002C0000103837363534333231" + "3132333435363738",
        "0021000008" + "3132333435363738",
      ].join("\n") + "\n",
    });
    expect(r.code).toBe(0);
    // No applet selected: the card refuses them (6900), and still they are blanked.
    for (const sw of r.out.trim().split("\n").slice(1)) expect(sw).toMatch(/^6[9D]00$/);
    expect(r.err).toContain(">> 0024000010" + "2A".repeat(16));
    expect(r.err).toContain(">> 002C000010" + "2A".repeat(16));
    expect(r.err).not.toMatch(/3132333435363738|3837363534333231|31323334|38373635/);
  });
});
