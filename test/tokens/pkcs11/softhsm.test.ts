/**
 * The PKCS#11 token against SoftHSM2 tokens made at test time in a temporary
 * directory (SOFTHSM2_CONF points there; the machine's /var/lib/softhsm is
 * never read): RSA-2048, RSA-4096, EC P-256 and P-384, in three slot
 * configurations (all mechanisms; no CKM_RSA_X_509; CKM_RSA_PKCS only, which
 * is libcacard's own no-raw test setup), module errors, and removal.
 *
 * SoftHSM reads SOFTHSM2_CONF at C_Initialize, and the module thread copies
 * process.env when it starts: each configuration closes every token (which
 * finalizes the module) before the next one opens.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openPkcs11Token } from "../../../src/tokens/pkcs11/index.js";
import type { TokenEvent } from "../../../src/core/token/types.js";
import { tokenChecks } from "./token-suite.js";
import { PIN, SOFTHSM_LABEL, SOFTHSM_MODULE, makeSoftHsmToken, tokenGate } from "./tokens.js";

const gate = tokenGate("softhsm");
const LABELS = ["rsa2048", "rsa4096", "p256", "p384"];
const savedConf = process.env.SOFTHSM2_CONF;
let dir = "";

function useConf(name: string): void {
  process.env.SOFTHSM2_CONF = join(dir, "softhsm", name);
}

async function waitFor(events: TokenEvent[], event: TokenEvent, limitMs: number): Promise<void> {
  const until = Date.now() + limitMs;
  while (!events.includes(event) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
}

const suite = gate.skip ? describe.skip : describe;
suite(`PKCS#11 token on SoftHSM2${gate.skip ? ` — skipped, ${gate.reason}` : ""}`, () => {
  if (gate.fail) {
    it("has its prerequisites (CI=true: missing tools are a failure)", () => {
      throw new Error(`prerequisites ${gate.reason}`);
    });
    return;
  }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "cacard-p11-"));
    makeSoftHsmToken(join(dir, "softhsm"));
  }, 120_000);

  afterAll(() => {
    if (savedConf === undefined) delete process.env.SOFTHSM2_CONF;
    else process.env.SOFTHSM2_CONF = savedConf;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe("all mechanisms (raw RSA)", () => {
    beforeAll(() => useConf("softhsm2.conf"));
    tokenChecks({ module: SOFTHSM_MODULE, tokenLabel: SOFTHSM_LABEL, labels: LABELS, raw: true, ecdsa: true, ecdh: true });

    it("keeps a certificate without a key when asked (CKA_ID 00 sorts first)", async () => {
      const token = await openPkcs11Token({ module: SOFTHSM_MODULE, includeKeylessCertificates: true });
      expect(token.credentials.map((c) => [c.label, c.hasPrivateKey])).toEqual([
        ["lonely", false],
        ...LABELS.map((l) => [l, true]),
      ]);
      const login = await token.login(PIN);
      expect(login.ok && login.session.key(0)).toBe(null);
      await token.close();
      await expect(openPkcs11Token({ module: SOFTHSM_MODULE, labels: ["lonely"] })).rejects.toMatchObject({
        code: "PKCS11_NO_SUCH_LABEL",
        message: expect.stringContaining("no key pair"),
      });
    });

    it("checks the PIN at open when given (--password-file); a wrong one is KEYSTORE_BAD_PASSWORD", async () => {
      const token = await openPkcs11Token({ module: SOFTHSM_MODULE, pin: PIN });
      expect(token.credentials.length).toBe(LABELS.length);
      await token.close();
      await expect(
        openPkcs11Token({ module: SOFTHSM_MODULE, pin: new TextEncoder().encode("00000000") }),
      ).rejects.toMatchObject({ code: "KEYSTORE_BAD_PASSWORD", message: expect.stringContaining(SOFTHSM_LABEL) });
    });

    it("module and token errors are one line naming what failed", async () => {
      for (const path of ["/nonexistent/libfoo.so", "/usr/lib/x86_64-linux-gnu/libz.so.1"]) {
        const error = await openPkcs11Token({ module: path }).catch((e: unknown) => e as Error & { code: string });
        expect(error).toMatchObject({ code: "PKCS11_MODULE_LOAD" });
        expect(error.message).toContain(path);
        expect(error.message).not.toContain("\n");
      }
      const missing = await openPkcs11Token({ module: SOFTHSM_MODULE, tokenLabel: "no-such-token" }).catch((e: unknown) => e as Error);
      expect(missing).toMatchObject({ code: "PKCS11_NO_TOKEN" });
      expect(missing.message).toContain('token "no-such-token"');
      expect(missing.message).toContain(`"${SOFTHSM_LABEL}"`);
    });

    it("watch(): the token's files taken away -> removed", async () => {
      // SoftHSM notices a token directory gone at its next C_GetSlotList but
      // only finds new ones at C_Initialize, so "inserted" is checked with a
      // scripted module (test/tokens/pkcs11/unit.test.ts) and with the TPM.
      const token = await openPkcs11Token({ module: SOFTHSM_MODULE, watchIntervalMs: 100 });
      const events: TokenEvent[] = [];
      const stop = token.watch!((e) => events.push(e));
      const tokens = join(dir, "softhsm", "tokens");
      const aside = join(dir, "softhsm", "tokens-aside");
      try {
        renameSync(tokens, aside);
        mkdirSync(tokens);
        await waitFor(events, "removed", 5_000);
        expect(events).toEqual(["removed"]);
      } finally {
        stop();
        await token.close();
        rmSync(tokens, { recursive: true, force: true });
        renameSync(aside, tokens);
      }
    });
  });

  describe("no CKM_RSA_X_509: libcacard's CKM_RSA_PKCS fallback (issue #25)", () => {
    beforeAll(() => useConf("softhsm2-no-raw.conf"));
    tokenChecks({ module: SOFTHSM_MODULE, tokenLabel: SOFTHSM_LABEL, labels: LABELS, raw: false, ecdsa: true, ecdh: true });
  });

  describe("CKM_RSA_PKCS only (libcacard's no-raw SoftHSM configuration)", () => {
    beforeAll(() => useConf("softhsm2-pkcs-only.conf"));
    tokenChecks({ module: SOFTHSM_MODULE, tokenLabel: SOFTHSM_LABEL, labels: LABELS, raw: false, ecdsa: false, ecdh: false });
  });
});
