/**
 * Host mode end to end: OpenSC against `cacard vpcd --pkcs11 ...` through the
 * real Debian pcscd + vsmartcard-vpcd, isolated in private namespaces, with
 * the card's keys on a SoftHSM2 token and on a TPM 2.0 token (swtpm +
 * tpm2-pkcs11), both made inside the run (scenario.sh; the token scripts are
 * in test/tokens/pkcs11). Needs the built CLI and pkcs11js.
 *
 * Skips when the tools are missing, unless CI=true, where that is a failure.
 * CACARD_KEEP_INTEROP=1 keeps the output directory (logs of every step).
 */
import { expect, it } from "vitest";
import { resolve } from "node:path";
import { scenarioSuite } from "../lib/scenario-suite.js";
import { SOFTHSM_MODULE, TPM2_MODULE, pkcs11jsBuilt } from "../../tokens/pkcs11/tokens.js";

const VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
const SCENARIO = resolve(__dirname, "scenario.sh");
/** Two tokens, two OpenSC rounds (about 15 pkcs11-tool runs) and a TPM build. */
const RUN_LIMIT_MS = 240_000;

const prerequisites = {
  tools: [
    "pcscd", "opensc-tool", "pkcs11-tool", "pkcs15-tool", "openssl", "ip", "timeout",
    "softhsm2-util", "swtpm", "dbus-daemon", "tpm2-abrmd", "tpm2_ptool", "tpm2_getcap",
  ],
  // pkcs11js is checked through its built addon; a missing one is reported like a missing file.
  files: [VPCD_DRIVER, SOFTHSM_MODULE, TPM2_MODULE, ...(pkcs11jsBuilt() ? [] : ["node_modules/pkcs11js (built)"])],
  namespaces: true,
};

scenarioSuite(
  {
    title: "OpenSC via pcscd + vpcd on PKCS#11 tokens (cacard vpcd --pkcs11)",
    prerequisites,
    needs: "pcscd, vsmartcard-vpcd, opensc, softhsm2, swtpm, tpm2-abrmd, tpm2-pkcs11, pkcs11js and root namespaces",
    scenario: SCENARIO,
    prefix: "cacard-p11",
    limitMs: RUN_LIMIT_MS,
    summary: (s) =>
      `[pkcs11 interop] ${(s.run.durationMs / 1000).toFixed(1)} s; ` +
      ["hsm_p15_dump", "hsm_sign", "hsm_decrypt", "tpm_sign", "tpm_decrypt"].map((k) => `${k} ${s.r.seconds(k)}s`).join(", "),
  },
  (s) => {
    it("a missing token or module is one line naming it, exit 1", () => {
      expect(s.r.rc("bad_token")).toBe(1);
      expect(s.r.err("bad_token").trim()).toBe(
        'cacard vpcd: no token "no-such-token" in PKCS#11 module /usr/lib/softhsm/libsofthsm2.so (tokens present: "cacard-softhsm")',
      );
      expect(s.r.rc("bad_module")).toBe(1);
      expect(s.r.err("bad_module").trim()).toMatch(/^cacard vpcd: cannot load PKCS#11 module \S+no-such-module\.so: no such file$/);
    });

    for (const [n, what] of [["hsm", "SoftHSM2"], ["tpm", "TPM (swtpm + tpm2-pkcs11)"]] as const) {
      it(`${what}: OpenSC sees a CAC with the token's certificate (pkcs15-tool -D)`, () => {
        s.ok(`${n}_name`);
        expect(s.r.out(`${n}_name`).trim()).toBe("Common Access Card (CAC)");
        s.ok(`${n}_p15_dump`);
        expect(s.r.out(`${n}_p15_dump`)).toContain("Private RSA Key [CAC ID Certificate]");
        expect(s.r.out(`${n}_p15_dump`)).toMatch(/ModLength\s+: 2048/);
        s.ok(`${n}_read_cert`);
      });

      it(`${what}: a signature made by the token through OpenSC verifies with openssl`, () => {
        s.ok(`${n}_sign`);
        s.ok(`${n}_verify`);
        expect(s.r.out(`${n}_verify`)).toContain("Verified OK");
      });

      it(`${what}: decryption round trip`, () => {
        s.ok(`${n}_encrypt`);
        s.ok(`${n}_decrypt`);
        s.ok(`${n}_decrypt_cmp`);
      });

      it(`${what}: a wrong PIN is refused (the token's CKR_PIN_INCORRECT is VERIFY 6985, as libcacard answers)`, () => {
        expect(s.r.rc(`${n}_wrong_pin`)).not.toBe(0);
        // OpenSC's CAC driver reports 6985 at VERIFY as CKR_GENERAL_ERROR.
        expect(s.r.err(`${n}_wrong_pin`) + s.r.out(`${n}_wrong_pin`)).toMatch(/C_Login failed/);
      });
    }

    it("SoftHSM: the token taken away removes the card from the reader", () => {
      expect(s.r.file("pcscd.log")).toContain("Card Removed From Virtual PCD 00 00");
      s.ok("hsm_removed_readers");
      expect(s.r.out("hsm_removed_readers")).toMatch(/0\s+No\s+Virtual PCD 00 00/);
      expect(s.r.file("cacard_hsm.log")).toContain("token removed from pkcs11:token=cacard-softhsm");
    });

    it("both cacard processes stop cleanly", () => {
      expect(s.r.note("hsm_exit")).toBe("0");
      expect(s.r.note("tpm_exit")).toBe("0");
    });
  },
);
