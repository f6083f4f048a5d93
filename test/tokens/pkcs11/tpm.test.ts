/**
 * The PKCS#11 token against a TPM 2.0: tpm2-pkcs11 over a software TPM
 * (swtpm) behind tpm2-abrmd on a private D-Bus, all on UNIX sockets in a
 * temporary directory (make-tpm-token.sh; no TCP port, never the machine's
 * TPM or its tpm2-pkcs11 store). RSA-2048, P-256 and P-384 (libtpms has no
 * RSA-4096; tpm2-pkcs11 1.9 offers no ECDH).
 *
 * Only the daemons this suite started are stopped (stop-tpm-token.sh kills
 * the PIDs it recorded).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openPkcs11Token } from "../../../src/tokens/pkcs11/index.js";
import { tokenChecks } from "./token-suite.js";
import { TPM2_MODULE, TPM_LABEL, makeTpmToken, stopTpmToken, tokenGate } from "./tokens.js";

const gate = tokenGate("tpm");
const ENV_NAMES = ["DBUS_SESSION_BUS_ADDRESS", "TPM2TOOLS_TCTI", "TPM2_PKCS11_TCTI", "TPM2_PKCS11_STORE", "TSS2_LOG"];
const saved = Object.fromEntries(ENV_NAMES.map((n) => [n, process.env[n]]));
let dir = "";

const suite = gate.skip ? describe.skip : describe;
suite(`PKCS#11 token on a TPM (swtpm + tpm2-pkcs11)${gate.skip ? ` — skipped, ${gate.reason}` : ""}`, () => {
  if (gate.fail) {
    it("has its prerequisites (CI=true: missing tools are a failure)", () => {
      throw new Error(`prerequisites ${gate.reason}`);
    });
    return;
  }

  beforeAll(() => {
    // Short: AF_UNIX socket paths are limited to 108 bytes.
    dir = mkdtempSync(join(tmpdir(), "cacard-tpm-"));
    const env = makeTpmToken(join(dir, "t"));
    for (const name of ["DBUS_SESSION_BUS_ADDRESS", "TPM2TOOLS_TCTI", "TPM2_PKCS11_TCTI", "TPM2_PKCS11_STORE"]) process.env[name] = env[name];
    // The TSS logs every failed unseal (a wrong PIN) on stderr; the test expects them.
    process.env.TSS2_LOG = "all+none";
  }, 180_000);

  afterAll(() => {
    if (dir) {
      stopTpmToken(join(dir, "t"));
      rmSync(dir, { recursive: true, force: true });
    }
    for (const name of ENV_NAMES) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  tokenChecks({ module: TPM2_MODULE, tokenLabel: TPM_LABEL, labels: ["rsa2048", "p256", "p384"], raw: true, ecdsa: true, ecdh: false });

  it("reports the slot as hardware, not removable (flags 0x5): libcacard's use_hw never mirrors it", async () => {
    // tpm2-pkcs11 lists its tokens from its store, not from the TPM: stopping
    // the TPM's daemons does not take the token out of the slot list, so
    // watch() has nothing to report for a TPM (removal is tested on SoftHSM).
    const token = await openPkcs11Token({ module: TPM2_MODULE, tokenLabel: TPM_LABEL });
    expect(token.slotFlags & 0x6).toBe(0x4);
    await token.close();
  });
});
