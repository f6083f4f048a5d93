/**
 * Every shell command in the README works when pasted into a fresh shell
 * after the README's install line. The install line (`npm ci && npm link`)
 * is stood in for by what npm link makes: a `cacard` on the PATH that is the
 * built dist/cli/main.js. Each command of every ```sh block is either run
 * here, from a scratch directory that sees the checkout's certs-sample/, in
 * a fresh `bash` with a clean environment, or matches one of the rules below
 * that say why it cannot run on a test machine (pcscd, QEMU, root). A new
 * README command that is neither fails this test.
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

const ROOT = resolve(__dirname, "../..");
const CLI = join(ROOT, "dist/cli/main.js");
const README = readFileSync(join(ROOT, "README.md"), "utf8");

/** Commands that cannot run here, and why. */
const NOT_HERE: readonly (readonly [RegExp, string])[] = [
  [/^npm ci && npm link\b/, "the install line itself; stood in for by a cacard link on PATH"],
  [/^sudo /, "changes the system (apt-get, systemctl)"],
  [/^cacard (vpcd|vscard)\b/, "long-running, needs pcscd + vsmartcard-vpcd or QEMU (test/interop, test/cli/newuser.test.ts)"],
  [/^cacard relay\b/, "needs pcscd and a PC/SC reader (test/interop/relay)"],
  [/^cacard web\b/, "long-running web server for a browser and QEMU's WebSocket chardev (test/web)"],
  [/^(pkcs11-tool|ssh-keygen|openssl dgst)\b/, "talks to the card in pcscd (test/interop/opensc)"],
  [/^(kill|mkfifo|exec 3>)\b/, "drives a running cacard vpcd (test/cli/newuser.test.ts, test/interop/opensc)"],
  [/^qemu-system-x86_64\b/, "needs QEMU and a guest (test/interop/qemu); its cacard qemu-args part runs below"],
];

/** The commands of every ```sh block: comment lines dropped, `\` continuations joined. */
export function readmeCommands(markdown: string): string[] {
  const commands: string[] = [];
  for (const block of markdown.matchAll(/^```sh\n([\s\S]*?)^```/gm)) {
    let pending = "";
    for (const line of block[1].split("\n")) {
      const text = pending + line;
      if (/\\$/.test(text)) {
        pending = text.slice(0, -1) + " ";
        continue;
      }
      pending = "";
      const trimmed = text.trim();
      if (trimmed !== "" && !trimmed.startsWith("#")) commands.push(trimmed);
    }
  }
  return commands;
}

/** `$(cacard ...)` inside a command that cannot run: the cacard part can. */
function embeddedCacard(command: string): string[] {
  return [...command.matchAll(/\$\((cacard [^)|]*)/g)].map((m) => m[1].trim());
}

const scratch = mkdtempSync(join(tmpdir(), "cacard-readme-"));
const bin = join(scratch, "bin");
const work = join(scratch, "work");
mkdirSync(bin);
mkdirSync(work);
symlinkSync(CLI, join(bin, "cacard")); // what `npm link` puts on the PATH
symlinkSync(join(ROOT, "certs-sample"), join(work, "certs-sample"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function paste(command: string) {
  const env = { PATH: `${bin}:${dirname(process.execPath)}:/usr/bin:/bin`, HOME: scratch, LANG: "C.UTF-8" };
  const r = spawnSync("bash", ["--noprofile", "--norc", "-o", "pipefail", "-c", command], {
    cwd: work,
    env,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const commands = readmeCommands(README);
const runnable = commands.filter((c) => !NOT_HERE.some(([re]) => re.test(c)));
const embedded = commands.filter((c) => NOT_HERE.some(([re]) => re.test(c))).flatMap(embeddedCacard);

describe("README commands, pasted into a fresh shell", () => {
  it("the README has commands, the install line first, and the essential ones run here", () => {
    expect(commands[0]).toMatch(/^npm ci && npm link\b/);
    for (const must of [/^cacard --version/, /^cacard list/, /^cacard info --json/, /\| cacard apdu /, /^cacard demo /, /^printf .* > db-password\.txt/]) {
      expect(runnable.some((c) => must.test(c)), String(must)).toBe(true);
    }
  });

  // In README order: later commands may use files earlier ones made (db-password.txt).
  for (const command of [...runnable, ...embedded]) {
    it(`runs: ${command.length > 90 ? command.slice(0, 87) + "..." : command}`, () => {
      const r = paste(command);
      expect(r.code, `exit status of ${command}\n${r.err}`).toBe(0);
      expect(r.err, "no warning or error").not.toMatch(/error|warning|not found/i);
      if (/\| cacard apdu /.test(command)) expect(r.out).toBe("610D\n6F0B8407A000000116DB00A5009000\n");
      if (/^cacard --version/.test(command)) expect(r.out).toMatch(/^cacard \d+\.\d+\.\d+/);
      if (/^cacard info --json/.test(command)) expect(JSON.parse(r.out).certificates).toHaveLength(3);
      if (/^cacard demo /.test(command)) expect(r.out).toContain("valid");
    }, 60_000);
  }
});
