/**
 * CoolKey (Debian's `coolkey`, the CAC PKCS#11 module RHEL shipped for years)
 * against `cacard vpcd --compress-certificates` through the real Debian pcscd +
 * vsmartcard-vpcd, isolated in private namespaces (scenario.sh does the work;
 * this file checks what it recorded). CoolKey inflates every CAC certificate
 * (CertInfo 01, as on issued cards), so it needs the option; on the default
 * card (libcacard's CertInfo 00) it finds no object, as with libcacard itself.
 *
 * Skips when the tools are missing, unless CI=true, where that is a failure.
 * CACARD_KEEP_INTEROP=1 keeps the output directory (logs of every step).
 */
import { expect, it } from "vitest";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { REPO_ROOT } from "../lib/namespace.js";
import { scenarioSuite } from "../lib/scenario-suite.js";
import { apduStats } from "../lib/pcscd-log.js";

const VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
/** Where Debian's coolkey package puts its PKCS#11 module. */
const COOLKEY_MODULE = "/usr/lib/pkcs11/libcoolkeypk11.so";
const SCENARIO = resolve(__dirname, "scenario.sh");
/** The scenario takes a few seconds with TCP_QUICKACK, ~40 s without. */
const RUN_LIMIT_MS = 150_000;
const LABELS = ["CAC ID Certificate", "CAC Email Signature Certificate", "CAC Email Encryption Certificate"];

scenarioSuite(
  {
    title: "CoolKey via pcscd + vpcd (cacard vpcd --compress-certificates)",
    prerequisites: {
      tools: ["pcscd", "pkcs11-tool", "openssl", "ip", "timeout", "cmp"],
      files: [VPCD_DRIVER, COOLKEY_MODULE],
      namespaces: true,
    },
    needs: "pcscd, vsmartcard-vpcd, coolkey, opensc (pkcs11-tool) and root namespaces",
    scenario: SCENARIO,
    prefix: "cacard-coolkey",
    limitMs: RUN_LIMIT_MS,
    env: { COOLKEY_MODULE },
    summary: (s) => {
      const stats = apduStats(s.r.file("pcscd.log"));
      const timing = ["objects", "read_cert1", "sign", "decrypt"].map((step) => `${step} ${s.r.seconds(step)}s`).join(", ");
      return `[coolkey interop] ${(s.run.durationMs / 1000).toFixed(1)} s, ${stats.count} APDUs; ${timing}`;
    },
  },
  (s) => {
    it("pkcs11-tool -L shows a token in Virtual PCD 00 00, named after certificate 0's CN", () => {
      s.ok("slots");
      const slots = s.r.out("slots");
      expect(slots).toContain("Slot 0 (0x1): Virtual PCD 00 00");
      expect(slots).toMatch(/token label\s+: cert1/);
      expect(slots).toContain("login required");
    });

    it("lists the three certificates with their key pairs (CKA_ID 0001-0003)", () => {
      s.ok("objects");
      const objects = s.r.out("objects");
      expect(objects.match(/^Certificate Object; type = X.509 cert/gm)).toHaveLength(3);
      expect(objects.match(/^Private Key Object; RSA/gm)).toHaveLength(3);
      for (const [i, label] of LABELS.entries()) {
        expect(objects).toContain(`label:      ${label}`);
        expect(objects).toContain(`subject:    DN: CN=cert${i + 1}`);
        expect(objects).toContain(`ID:         000${i + 1}`);
      }
    });

    it("reads each certificate byte for byte (inflated from the card's zlib stream)", () => {
      for (const i of [1, 2, 3]) {
        s.ok(`read_cert${i}`);
        const fromCard = readFileSync(join(s.out, `c${i}.der`));
        const expected = new X509Certificate(readFileSync(join(REPO_ROOT, "certs-sample", "pem", `cert${i}.pem`)));
        expect(fromCard.equals(expected.raw), `cert${i}`).toBe(true);
      }
    });

    it("a wrong PIN is refused (VERIFY 6985, C_Login fails)", () => {
      expect(s.r.rc("login_wrong")).not.toBe(0);
      expect(s.r.err("login_wrong")).toMatch(/C_Login failed/);
      expect(s.r.file("pcscd.log")).toMatch(/APDU: 00 20 00 00 08 (30 ){8}\s*\n\d+ SW: 69 85/);
    });

    it("logs in and signs (RSA-PKCS over a SHA-256 DigestInfo) with keys 1 and 2; openssl verifies", () => {
      for (const [sign, verify] of [["sign", "verify"], ["sign2", "verify2"]]) {
        s.ok(sign);
        s.ok(verify);
        expect(s.r.out(verify)).toContain("Verified OK");
      }
    });

    it("decrypts RSA-PKCS with key 3: openssl encrypts to the card's certificate, CoolKey decrypts", () => {
      s.ok("encrypt");
      s.ok("decrypt");
      s.ok("decrypt_cmp");
    });

    it("OpenSC reads the same compressed card's certificate byte for byte", () => {
      s.ok("opensc_read_cert2");
      const expected = new X509Certificate(readFileSync(join(REPO_ROOT, "certs-sample", "pem", "cert2.pem")));
      expect(readFileSync(join(s.out, "opensc_c2.der")).equals(expected.raw)).toBe(true);
    });

    it("the default card (CertInfo 00, libcacard's bytes) shows CoolKey no object", () => {
      s.ok("plain_objects");
      expect(s.r.out("plain_objects")).not.toContain("Certificate Object");
      expect(s.r.file("coolkey-trace.log")).toContain("Failed to load objects");
    });

    it("cacard vpcd exits 0 on SIGTERM", () => {
      expect(s.r.note("cacard_exit")).toBe("0");
      expect(s.r.file("cacard-compressed.log")).toContain("cacard vpcd: stopped");
    });
  },
);
