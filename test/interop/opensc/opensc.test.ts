/**
 * OpenSC against `cacard vpcd` through the real Debian pcscd + vsmartcard-vpcd,
 * isolated in private namespaces (scenario.sh does the work; this file checks
 * what it recorded). Needs the built CLI (dist/, made by `npm test`'s tsc).
 *
 * Skips when the tools are missing, unless CI=true, where that is a failure.
 * CACARD_KEEP_INTEROP=1 keeps the output directory (logs of every step).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { X509Certificate, createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  BUILT_CLI,
  REPO_ROOT,
  StepResults,
  interopGate,
  runInNamespace,
  type NamespaceRunResult,
} from "../lib/namespace.js";
import { apduStats } from "../lib/pcscd-log.js";

const VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
const SCENARIO = resolve(__dirname, "scenario.sh");
/** The whole scenario normally takes ~80 s (about 1400 APDUs at ~45 ms). */
const RUN_LIMIT_MS = 210_000;
/** libcacard's static CCC card id, which OpenSC reports as the token serial. */
const LIBCACARD_CCC_SERIAL = "000058bd002c19b5";

const gate = interopGate({
  tools: ["pcscd", "opensc-tool", "pkcs11-tool", "pkcs15-tool", "openssl", "ip", "timeout", "mkfifo"],
  files: [VPCD_DRIVER],
  namespaces: true,
});

const title = "OpenSC via pcscd + vpcd (cacard vpcd)";

if (gate.skip) {
  describe.skip(`${title} — skipped, ${gate.reason}`, () => {
    it("needs pcscd, vsmartcard-vpcd, opensc and root namespaces", () => {});
  });
} else {
  describe(title, () => {
    if (gate.fail) {
      it("has its prerequisites (CI=true: missing tools are a failure)", () => {
        throw new Error(`OpenSC interop prerequisites ${gate.reason}`);
      });
      return;
    }

    let out = "";
    let work = "";
    let run: NamespaceRunResult;
    let r: StepResults;

    beforeAll(async () => {
      if (!existsSync(BUILT_CLI)) throw new Error(`${BUILT_CLI} is missing: build first (npm test runs tsc)`);
      out = mkdtempSync(join(tmpdir(), "cacard-opensc-out-"));
      work = mkdtempSync(join(tmpdir(), "cacard-opensc-work-"));
      run = await runInNamespace({
        script: SCENARIO,
        args: [out, work],
        env: { REPO: REPO_ROOT, NODE_BIN: process.execPath, CACARD_CLI: BUILT_CLI },
        timeoutMs: RUN_LIMIT_MS,
      });
      r = new StepResults(out);
      const stats = apduStats(r.file("pcscd.log"));
      const timing = ["name", "p15_dump", "p11_objects", "sign_pkcs", "decrypt", "selftest", "inserted_slots", "pw_p15_dump", "pw_decrypt"]
        .map((s) => `${s} ${r.seconds(s)}s`)
        .join(", ");
      console.log(
        `[opensc interop] ${(run.durationMs / 1000).toFixed(1)} s, ${stats.count} APDUs, ` +
          `median ${stats.medianMs.toFixed(1)} ms, max ${stats.maxMs.toFixed(1)} ms; ${timing}; output ${out}`,
      );
    }, RUN_LIMIT_MS + 30_000);

    afterAll(() => {
      if (work) rmSync(work, { recursive: true, force: true });
      if (out && process.env.CACARD_KEEP_INTEROP !== "1") rmSync(out, { recursive: true, force: true });
    });

    const ok = (step: string) => expect(r.rc(step), r.describe(step)).toBe(0);

    it("runs the whole scenario inside its namespace within the time limit", () => {
      expect(run.timedOut, run.stderr).toBe(false);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toContain("scenario done");
      expect(run.durationMs).toBeLessThan(RUN_LIMIT_MS);
    });

    it("pcscd sees both cards (ports 35963 and 35964) with the CAC ATR", () => {
      ok("readers_two");
      expect(r.out("readers_two")).toMatch(/0\s+Yes\s+Virtual PCD 00 00/);
      expect(r.out("readers_two")).toMatch(/1\s+Yes\s+Virtual PCD 00 01/);
      ok("atr");
      expect(r.out("atr").trim()).toBe("3b:7a:18:00:00:73:66:74:65:20:63:64:31:34:34");
      expect(r.file("pcscd.log")).toContain("Active Protocol: T=0");
    });

    it("opensc-tool -n names the Common Access Card (CAC)", () => {
      ok("name");
      expect(r.out("name").trim()).toBe("Common Access Card (CAC)");
    });

    it("pkcs15-tool -D lists the PIN and three RSA keys and certificates", () => {
      ok("p15_dump");
      const dump = r.out("p15_dump");
      expect(dump).toMatch(/PIN \[PIN\][\s\S]*min_len:4, max_len:8, stored_len:8[\s\S]*Pad char\s+: 0xFF/);
      for (const [id, label] of [
        ["0001", "CAC ID Certificate"],
        ["0002", "CAC Email Signature Certificate"],
        ["0003", "CAC Email Encryption Certificate"],
      ]) {
        expect(dump).toContain(`Private RSA Key [${label}]`);
        expect(dump).toContain(`X.509 Certificate [${label}]`);
        expect(dump).toMatch(new RegExp(`ID\\s+: ${id}`));
      }
      expect(dump.match(/ModLength\s+: 2048/g)?.length).toBeGreaterThanOrEqual(6);
    });

    it("pkcs11-tool -O (logged in) lists three private keys, public keys and certificates", () => {
      ok("p11_objects");
      const objects = r.out("p11_objects");
      expect(objects.match(/^Private Key Object; RSA/gm)).toHaveLength(3);
      expect(objects.match(/^Public Key Object; RSA 2048 bits/gm)).toHaveLength(3);
      expect(objects.match(/^Certificate Object; type = X.509 cert/gm)).toHaveLength(3);
      expect(objects).toContain("subject:    DN: CN=cert1");
    });

    it("a database without a password accepts any PIN (as NSS does)", () => {
      ok("p11_any_pin");
      expect(r.out("p11_any_pin").match(/^Private Key Object; RSA/gm)).toHaveLength(3);
    });

    it("pkcs11-tool -M lists the raw-RSA mechanisms OpenSC builds on", () => {
      ok("p11_mechs");
      const mechs = r.out("p11_mechs");
      expect(mechs).toContain("RSA-X-509, keySize={1024,3072}, hw, decrypt, sign, verify");
      expect(mechs).toContain("RSA-PKCS, keySize={1024,3072}, hw, decrypt, sign, verify");
      expect(mechs).toContain("RSA-PKCS-PSS, keySize={1024,3072}, hw, sign, verify");
      expect(mechs).toContain("RSA-PKCS-OAEP, keySize={1024,3072}, hw, decrypt");
    });

    it("pkcs11-tool -L shows the token after insertion", () => {
      ok("inserted_slots");
      const slots = r.out("inserted_slots");
      expect(slots).toContain("Slot 0 (0x0): Virtual PCD 00 00");
      expect(slots).toContain("token manufacturer : Common Access Card");
      expect(slots).toContain("token model        : PKCS#15 emulated");
      expect(slots).toContain("token flags        : login required, rng, token initialized, PIN initialized");
      expect(slots).toContain("pin min/max        : 4/8");
    });

    it("reads certificates off the card byte for byte", () => {
      ok("read_cert1");
      ok("read_cert3");
      for (const [file, nick] of [
        ["c1.der", "cert1"],
        ["c3.der", "cert3"],
      ]) {
        const fromCard = new X509Certificate(readFileSync(join(work, file)));
        const expected = new X509Certificate(readFileSync(join(REPO_ROOT, "certs-sample", "pem", `${nick}.pem`)));
        expect(fromCard.raw.equals(expected.raw)).toBe(true);
      }
    });

    it("signs with SHA256-RSA-PKCS; openssl verifies against the card's certificate", () => {
      ok("sign_pkcs");
      ok("verify_pkcs");
      expect(r.out("verify_pkcs")).toContain("Verified OK");
    });

    it("signs with RSA-PKCS-PSS (and SHA256-RSA-PKCS-PSS); openssl verifies both", () => {
      ok("sign_pss");
      ok("verify_pss");
      expect(r.out("verify_pss")).toContain("Signature Verified Successfully");
      ok("sign_sha256_pss");
      ok("verify_sha256_pss");
      expect(r.out("verify_sha256_pss")).toContain("Verified OK");
    });

    it("decrypts RSA-PKCS: openssl encrypts to the card's certificate, the card decrypts", () => {
      ok("encrypt");
      ok("decrypt");
      ok("decrypt_cmp");
    });

    it("pkcs11-tool --test --login ends with 'No errors'", (ctx) => {
      ok("selftest");
      const text = r.out("selftest").trim();
      const last = text.split("\n").pop() ?? "";
      const onlyRng = last === "1 errors" && /C_GenerateRandom failed/.test(r.err("selftest"));
      ctx.skip(onlyRng, "pending: GET CHALLENGE (INS 84) not in the card core yet");
      expect(last, r.describe("selftest")).toBe("No errors");
      expect(text).toContain("seems to be OK"); // C_GenerateRandom → GET CHALLENGE
    });

    it("removal via stdin control empties one slot; SIGUSR1 empties all; SIGUSR2 brings them back", () => {
      ok("readers_one");
      expect(r.out("readers_one")).toMatch(/0\s+Yes\s+Virtual PCD 00 00/);
      expect(r.out("readers_one")).toMatch(/1\s+No\s+Virtual PCD 00 01/);
      const log = r.file("cacard1.log");
      expect(log).toContain("card 1: removed");
      expect(log).toMatch(/card 1: port 35964 removed (closing|idle)/); // `status`

      ok("removed_readers");
      expect(r.out("removed_readers")).toMatch(/0\s+No\s+Virtual PCD 00 00/);
      ok("removed_slots");
      expect(r.out("removed_slots").match(/\(empty\)/g)).toHaveLength(2);
      expect(r.out("removed_slots")).not.toContain("token label");
      expect(r.file("pcscd.log")).toContain("Card Removed From Virtual PCD 00 00");

      ok("inserted_readers");
      expect(r.out("inserted_readers")).toMatch(/0\s+Yes\s+Virtual PCD 00 00/);
      expect(r.out("inserted_readers")).toMatch(/1\s+Yes\s+Virtual PCD 00 01/);
      expect(r.out("inserted_slots").match(/token manufacturer : Common Access Card/g)).toHaveLength(2);
    });

    it("two cards from one database have distinct serials", (ctx) => {
      // cacard's own serial (GP CPLC, ...) differs per card ...
      const serials = [...r.file("cacard1.log").matchAll(/card (\d): \d+ certificate\(s\), serial ([0-9A-F]+)/g)];
      expect(serials.map((m) => m[1])).toEqual(["0", "1"]);
      expect(serials[0][2]).not.toBe(serials[1][2]);
      // ... and OpenSC reports the CCC card id, which must differ too.
      ok("serial_r0");
      ok("serial_r1");
      const tokenSerials = [...r.out("inserted_slots").matchAll(/serial num\s+: (\S+)/g)].map((m) => m[1]);
      expect(tokenSerials).toHaveLength(2);
      const stillStatic = tokenSerials.every((s) => s === LIBCACARD_CCC_SERIAL);
      ctx.skip(stillStatic, "pending: the CCC card id is static (src/cac/ccc.ts); see docs/vpcd.md");
      expect(tokenSerials[0]).not.toBe(tokenSerials[1]);
      expect(r.out("serial_r0").trim()).not.toBe(r.out("serial_r1").trim());
    });

    it("a database with a password takes it as the PIN and rejects a wrong one", () => {
      expect(r.rc("pw_wrong")).not.toBe(0);
      expect(r.err("pw_wrong") + r.out("pw_wrong")).toMatch(/C_Login failed/);
      ok("pw_read_cert");
      ok("pw_sign");
      ok("pw_verify");
      expect(r.out("pw_verify")).toContain("Verified OK");
    });

    it("the password card runs from a read-only copy of nssdb-pw (chmod a-w + read-only bind mount)", () => {
      expect(r.note("ro_mount")).toMatch(/(^|,)ro(,|$)/);
      expect(r.rc("ro_write_probe"), "writing into the copy must fail").not.toBe(0);
      expect(r.err("ro_write_probe")).toMatch(/Read-only file system/);
      // The copy is the repository's database, byte for byte.
      const dir = join(REPO_ROOT, "certs-sample", "nssdb-pw");
      const repoHashes = readdirSync(dir)
        .sort()
        .map((f) => `${createHash("sha256").update(readFileSync(join(dir, f))).digest("hex")}  ./${f}`)
        .join("\n");
      expect(r.file("ro_before.sha256").trim()).toBe(repoHashes);
    });

    it("a full OpenSC session (pkcs15-tool -D, login, sign, decrypt) works from the read-only copy", () => {
      ok("pw_p15_dump");
      expect(r.out("pw_p15_dump").match(/Private RSA Key \[/g)).toHaveLength(3);
      expect(r.out("pw_p15_dump").match(/X\.509 Certificate \[/g)).toHaveLength(3);
      ok("pw_sign");
      ok("pw_verify");
      ok("pw_encrypt");
      ok("pw_decrypt");
      ok("pw_decrypt_cmp");
      expect(r.file("cacard2.log")).not.toMatch(/warning|error/i);
    });

    it("the session leaves the NSS databases unmodified: same bytes, modes and times, no new file", () => {
      for (const db of ["ro", "nssdb"]) {
        const hashesBefore = r.file(`${db}_before.sha256`);
        const listBefore = r.file(`${db}_before.list`);
        expect(hashesBefore.trim().split("\n"), `${db}: cert9.db, key4.db, pkcs11.txt`).toHaveLength(3);
        expect(r.file(`${db}_after.sha256`), `${db}: file contents`).toBe(hashesBefore);
        expect(r.file(`${db}_after.list`), `${db}: entries, sizes, modes, mtimes, ctimes`).toBe(listBefore);
      }
      // The listing covers every entry, the directory itself included: nothing was added.
      expect(r.file("ro_after.list").trim().split("\n")).toHaveLength(4);
    });

    it("cacard vpcd exits 0 on SIGTERM", () => {
      expect(r.note("cacard_exit")).toBe("0");
      expect(r.note("cacard_pw_exit")).toBe("0");
      expect(r.file("cacard1.log")).toContain("cacard vpcd: stopped");
    });

    it("APDU round trips stay in vpcd's usual ~45 ms range", () => {
      const stats = apduStats(r.file("pcscd.log"));
      expect(stats.count).toBeGreaterThan(500);
      expect(stats.medianMs).toBeLessThan(100);
    });
  });
}
