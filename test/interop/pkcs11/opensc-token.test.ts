/**
 * Host mode's third token backend: OpenSC's own PKCS#11 module over a card
 * in an isolated pcscd (opensc-token.sh). Card A (`cacard vpcd`, the sample
 * DB with a password) sits in pcscd A; `cacard vpcd --pkcs11
 * opensc-pkcs11.so` reads it through OpenSC and serves card B into pcscd B,
 * a second pcscd in a nested mount namespace; OpenSC's tools in pcscd B's
 * namespace sign and decrypt through card B, checked with openssl. Card B's
 * OpenSC never sees card B, which is what keeps clear of the OpenSC loop
 * (docs/host-mode.md).
 *
 * Skips when the tools are missing, unless CI=true, where that is a failure.
 * CACARD_KEEP_INTEROP=1 keeps the output directory (logs of every step).
 */
import { expect, it } from "vitest";
import { resolve } from "node:path";
import { scenarioSuite } from "../lib/scenario-suite.js";
import { pkcs11jsBuilt } from "../../tokens/pkcs11/tokens.js";

const VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
const OPENSC_MODULE = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";

scenarioSuite(
  {
    title: "OpenSC via cacard vpcd --pkcs11 opensc-pkcs11.so over a card in another pcscd",
    prerequisites: {
      tools: ["pcscd", "opensc-tool", "pkcs11-tool", "pkcs15-tool", "openssl", "ip", "timeout", "nsenter", "unshare"],
      files: [VPCD_DRIVER, OPENSC_MODULE, ...(pkcs11jsBuilt() ? [] : ["node_modules/pkcs11js (built)"])],
      namespaces: true,
    },
    needs: "pcscd, vsmartcard-vpcd, opensc, opensc-pkcs11, pkcs11js and root namespaces",
    scenario: resolve(__dirname, "opensc-token.sh"),
    prefix: "cacard-p11-opensc",
    limitMs: 240_000,
    summary: (s) =>
      `[pkcs11 opensc token] ${(s.run.durationMs / 1000).toFixed(1)} s; ` +
      ["b_p15_dump", "b_sign", "b_decrypt"].map((k) => `${k} ${s.r.seconds(k)}s`).join(", "),
  },
  (s) => {
    it("OpenSC's module sees card A in pcscd A", () => {
      s.ok("a_module_slots");
      expect(s.r.out("a_module_slots")).toMatch(/Virtual PCD 00 00/);
    });

    it("two pcscd, one card each (vpcd on 35963 and on 35965); OpenSC in pcscd B's namespace sees card B as a CAC", () => {
      s.ok("a_readers");
      s.ok("b_readers");
      for (const step of ["a_readers", "b_readers"]) {
        // vpcd gives every pcscd two readers; one holds a card.
        expect(s.r.out(step).match(/^\d+\s+Yes\s+Virtual PCD 00 00$/gm), s.r.out(step)).toHaveLength(1);
      }
      expect(s.r.file("pcscd.log")).toContain("Waiting for virtual ICC on port 35963");
      expect(s.r.file("pcscdB.log")).toContain("Waiting for virtual ICC on port 35965");
      expect(s.r.file("pcscdB.log")).toContain("Card inserted into Virtual PCD 00 00");
      s.ok("b_name");
      expect(s.r.out("b_name").trim()).toMatch(/Common Access Card/);
      s.ok("b_p15_dump");
      expect(s.r.out("b_p15_dump")).toMatch(/Private RSA Key \[/);
      expect(s.r.out("b_p15_dump")).toMatch(/ModLength\s+: 2048/);
    });

    it("card B's certificate is card A's (certs-sample cert1)", () => {
      s.ok("b_read_cert");
      s.ok("b_cert_cmp");
    });

    it("a signature made through card B by card A verifies with openssl", () => {
      s.ok("b_sign");
      s.ok("b_verify");
      expect(s.r.out("b_verify")).toContain("Verified OK");
    });

    it("decryption round trip through both cards", () => {
      s.ok("b_encrypt");
      s.ok("b_decrypt");
      s.ok("b_decrypt_cmp");
    });

    it("a wrong PIN is refused by card A and reported through card B", () => {
      expect(s.r.rc("b_wrong_pin")).not.toBe(0);
      expect(s.r.err("b_wrong_pin") + s.r.out("b_wrong_pin")).toMatch(/C_Login failed/);
    });

    it("card B's operations reached card A through pcscd A; card B stops cleanly", () => {
      expect(Number(s.r.note("cardA_apdus_after"))).toBeGreaterThan(Number(s.r.note("cardA_apdus_before")));
      expect(s.r.note("cardB_exit")).toBe("0");
    });
  },
);
