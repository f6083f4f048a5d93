/**
 * OpenSC's PIV driver and yubico-piv-tool against `cacard vpcd --personality
 * piv` and `cac+piv` through the real Debian pcscd + vsmartcard-vpcd, in
 * private namespaces (scenario.sh does the work; this file checks what it
 * recorded). Keys: RSA-2048, P-256 and P-384 certificates made by certutil
 * at test time, and a PEM directory made by openssl. Needs the built CLI.
 *
 * Skips when the tools are missing, unless CI=true, where that is a failure.
 * CACARD_KEEP_INTEROP=1 keeps the output directory (logs of every step).
 */
import { expect, it } from "vitest";
import { resolve } from "node:path";
import { scenarioSuite } from "../lib/scenario-suite.js";
import { apduStats } from "../lib/pcscd-log.js";

const VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
/** The whole scenario takes ~2-3 minutes (OpenSC binds a PIV card in ~40 APDUs per run). */
const RUN_LIMIT_MS = 420_000;

scenarioSuite(
  {
    title: "PIV personality: OpenSC PIV driver and yubico-piv-tool via pcscd + vpcd",
    prerequisites: {
      tools: ["pcscd", "opensc-tool", "pkcs11-tool", "pkcs15-tool", "pkcs15-crypt", "yubico-piv-tool", "certutil", "openssl", "ip", "timeout"],
      files: [VPCD_DRIVER],
      namespaces: true,
    },
    needs: "pcscd, vsmartcard-vpcd, opensc, yubico-piv-tool, libnss3-tools and root namespaces",
    scenario: resolve(__dirname, "scenario.sh"),
    prefix: "cacard-piv",
    limitMs: RUN_LIMIT_MS,
    summary: (s) => {
      const stats = apduStats(s.r.file("pcscd.log"));
      return `[piv interop] ${(s.run.durationMs / 1000).toFixed(1)} s, ${stats.count} APDUs, median ${stats.medianMs.toFixed(1)} ms`;
    },
  },
  (s) => {
    it("pcscd sees the PIV ATR and negotiates T=1; OpenSC names a PIV card", () => {
      s.ok("atr");
      expect(s.r.out("atr").trim()).toBe("3b:9b:18:80:01:80:f9:a0:00:00:03:08:00:00:10:00:c0");
      expect(s.r.file("pcscd.log")).toContain("T=1");
      s.ok("name");
      expect(s.r.out("name").trim()).toBe("Personal Identity Verification Card");
    });

    it("pkcs11-tool -L: a PIV token with the first certificate's CN as label", () => {
      s.ok("p11_list");
      expect(s.r.out("p11_list")).toMatch(/token label\s+: piv-auth/);
      expect(s.r.out("p11_list")).toMatch(/token manufacturer\s*: piv_II/);
      // OpenSC takes the CHUID GUID as the serial (FASC-N agency 9999) and shows 16 digits of it here.
      expect(s.r.out("p11_list")).toMatch(/serial num\s+: [0-9a-f]{16}\n/);
    });

    it("pkcs15-tool -D: the PIN and four keys, RSA 2048 and EC", () => {
      s.ok("p15_dump");
      const dump = s.r.out("p15_dump");
      expect(dump).toMatch(/Serial number\s+: [0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}\n/); // the v4 GUID
      expect(dump).toMatch(/PIN \[PIN\][\s\S]*Reference\s+: 128 \(0x80\)/);
      expect(dump).toMatch(/Private RSA Key \[PIV AUTH key\]/);
      expect(dump).toMatch(/Private EC Key \[SIGN key\]/);
      expect(dump).toMatch(/Private EC Key \[KEY MAN key\]/);
      expect(dump).toMatch(/Private EC Key \[CARD AUTH key\]/);
    });

    it("pkcs11-tool -O and -M list the objects and the RSA and EC mechanisms", () => {
      s.ok("p11_objects");
      expect(s.r.out("p11_objects").match(/Certificate Object/g)?.length).toBe(4);
      s.ok("p11_mechs");
      expect(s.r.out("p11_mechs")).toContain("RSA-X-509");
      expect(s.r.out("p11_mechs")).toMatch(/ECDSA/);
      expect(s.r.out("p11_mechs")).toMatch(/ECDH1-DERIVE/);
    });

    it("every certificate reads back", () => {
      for (const id of ["01", "02", "03", "04"]) s.ok(`read_cert${id}`);
    });

    it("RSA-2048 on 9A: PKCS#1 v1.5 and PSS signatures verify with openssl; decryption round-trips", () => {
      for (const step of ["sign_rsa", "verify_rsa", "sign_pss", "verify_pss", "encrypt", "decrypt", "decrypt_cmp"]) s.ok(step);
      expect(s.r.out("verify_rsa")).toContain("Verified OK");
    });

    it("ECDSA P-256 on 9C and P-384 on 9E verify with openssl; 9E signs without a PIN", () => {
      for (const step of ["sign_p256", "verify_p256", "sign_p384", "verify_p384", "sign_9e_nopin", "verify_9e_nopin"]) s.ok(step);
      expect(s.r.out("verify_p256")).toContain("Verified OK");
      expect(s.r.out("verify_p384")).toContain("Verified OK");
    });

    it("ECDH on 9D gives openssl's shared secret", () => {
      for (const step of ["derive", "derive_openssl", "derive_cmp"]) s.ok(step);
    });

    it("pkcs11-tool --test --login: no errors", () => {
      s.ok("selftest");
      expect(s.r.out("selftest")).toContain("No errors");
    });

    it("yubico-piv-tool: status, every slot's certificate, test signatures on 9A (RSA) and 9C (ECDSA)", () => {
      s.ok("yk_status");
      const status = s.r.out("yk_status");
      expect(status).toMatch(/CHUID:\s+3019d4e739da739c/);
      expect(status).toMatch(/Slot 9a:[\s\S]*Algorithm:\s+RSA2048/);
      expect(status).toMatch(/Slot 9c:[\s\S]*Algorithm:\s+ECCP256/);
      expect(status).toMatch(/Slot 9e:[\s\S]*Algorithm:\s+ECCP384/);
      expect(status).toMatch(/PIN tries left:\s+3/);
      for (const slot of ["9a", "9c", "9d", "9e"]) {
        s.ok(`yk_cert_${slot}`);
        expect(s.r.err(`yk_cert_${slot}`)).not.toContain("Failed");
      }
      s.ok("yk_sign_9a");
      expect(s.r.out("yk_sign_9a") + s.r.err("yk_sign_9a")).toMatch(/Successful RSA verification/);
      s.ok("yk_sign_9c");
      expect(s.r.out("yk_sign_9c") + s.r.err("yk_sign_9c")).toMatch(/Successful ECDSA verification/);
    });

    it("wrong PINs count down and block the PIN; the right PIN is then refused", () => {
      for (const step of ["wrong_pin1", "wrong_pin2", "wrong_pin3", "blocked"]) expect(s.r.rc(step)).not.toBe(0);
      expect(s.r.out("wrong_pin1") + s.r.err("wrong_pin1")).toContain("CKR_PIN_INCORRECT");
      expect(s.r.out("blocked") + s.r.err("blocked")).toContain("CKR_PIN_LOCKED");
      expect(s.r.out("blocked_yk") + s.r.err("blocked_yk")).toMatch(/PIN tries left:\s+0/);
    });

    it("a PEM directory works as well (RSA and P-256)", () => {
      for (const step of ["pem_sign_rsa", "pem_verify_rsa", "pem_sign_ec", "pem_verify_ec"]) s.ok(step);
    });

    it("cac+piv: the CAC ATR; OpenSC's PIV driver by default signs with the CAC ID certificate", () => {
      s.ok("dual_atr");
      expect(s.r.out("dual_atr").trim()).toBe("3b:7a:18:00:00:73:66:74:65:20:63:64:31:34:34");
      s.ok("dual_piv_name");
      expect(s.r.out("dual_piv_name").trim()).toBe("Personal Identity Verification Card");
      s.ok("dual_piv_dump");
      expect(s.r.out("dual_piv_dump")).toMatch(/Private RSA Key \[PIV AUTH key\]/);
      s.ok("dual_piv_sign");
      s.ok("dual_piv_verify");
    });

    it("cac+piv with OPENSC_DRIVER=cac: the CAC applets, libcacard's way", () => {
      s.ok("dual_cac_name");
      expect(s.r.out("dual_cac_name").trim()).toBe("Common Access Card (CAC)");
      s.ok("dual_cac_dump");
      expect(s.r.out("dual_cac_dump")).toContain("Private RSA Key [CAC ID Certificate]");
      s.ok("dual_cac_sign");
      s.ok("dual_cac_verify");
    });
  },
);
