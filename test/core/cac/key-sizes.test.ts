/**
 * RSA 1024 to 4096 through the APDU interface, with keys and certificates
 * made by openssl at test time in a PEM directory: the PKI properties key
 * byte (bits/64) and SIGN/DECRYPT chaining for 128- to 512-byte operands.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { constants, publicEncrypt, createPublicKey } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openKeyStore } from "../../../src/tokens/open.js";
import { createCacCard } from "../../../src/core/cac/cac-card.js";
import { AID } from "../../../src/core/cac/aids.js";
import { CacClient, apdu } from "../../../src/client/cac-client.js";
import { toHex } from "../../../src/core/bytes.js";

const SIZES = [1024, 2048, 3072, 4096];
const dir = mkdtempSync(join(tmpdir(), "cacard-sizes-"));

beforeAll(() => {
  for (const bits of SIZES) {
    execFileSync("openssl", [
      "req", "-x509", "-newkey", `rsa:${bits}`, "-nodes", "-subj", `/CN=rsa${bits}`, "-days", "30",
      "-keyout", join(dir, `rsa${bits}.key`), "-out", join(dir, `rsa${bits}.pem`),
    ], { stdio: "ignore" });
  }
}, 120_000);

describe("RSA key sizes", () => {
  for (const [i, bits] of SIZES.entries()) {
    it(`RSA-${bits}: key byte ${(bits / 64).toString(16)}, raw RSA via chained SIGN/DECRYPT`, async () => {
      const store = await openKeyStore({ db: dir, nicknames: SIZES.map((b) => `rsa${b}`) });
      const card = createCacCard(store);
      const client = new CacClient(card);
      await client.select(AID.pki(i));
      const props = await client.getProperties();
      // ... 43 04 06 <bits/64> 01 01 ...
      expect(toHex(props)).toContain(`430406${(bits / 64).toString(16).toUpperCase().padStart(2, "0")}0101`);
      const bytes = bits / 8;
      const block = new Uint8Array(bytes).fill(0x11);
      block[0] = 0x00; // below the modulus
      const out = await client.rsaPrivate(block);
      expect(out.length).toBe(bytes);
      const key = createPublicKey(readFileSync(join(dir, `rsa${bits}.pem`)));
      expect(toHex(publicEncrypt({ key, padding: constants.RSA_NO_PADDING }, out))).toBe(toHex(block));
      // one byte short of the modulus length
      expect((await client.transceive(apdu(0x80, 0x42, 0x00, 0x00, block.subarray(1, Math.min(bytes, 256))))).sw).toBe(0x6984);
    });
  }
});
