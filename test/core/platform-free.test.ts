/**
 * cacard/core must run where Node does not: a browser tab, a worker. This
 * bundles the entry for the browser platform (esbuild fails on any Node
 * built-in) and then drives a CAC card from that bundle inside a V8 context
 * that has no require, process or Buffer, only Web Crypto's getRandomValues.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { createContext, runInContext } from "node:vm";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { sampleCertificate } from "../helpers/memory-store.js";
import { CAC_ATR } from "../../src/core/card/atr.js";
import { toHex } from "../../src/core/bytes.js";

const CORE = resolve(__dirname, "../../src/core");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith(".ts") ? [path] : [];
  });
}

describe("cacard/core is platform-free", () => {
  it("imports nothing from node:, no Buffer or process, and nothing outside src/core but @noble and fflate", () => {
    for (const file of sourceFiles(CORE)) {
      const text = readFileSync(file, "utf8");
      const where = relative(CORE, file);
      for (const m of text.matchAll(/from\s+"([^"]+)"/g)) {
        const spec = m[1];
        if (spec.startsWith(".")) {
          expect(resolve(file, "..", spec).startsWith(CORE), `${where} imports ${spec}`).toBe(true);
        } else {
          // @noble: SHA-256 and the PIV curves; fflate: zlib for compressed CAC certificates.
          expect(spec.startsWith("@noble/") || spec === "fflate", `${where} imports ${spec}`).toBe(true);
        }
      }
      // Code only: comments may name Buffer (a CAC "buffer" is a card concept).
      const code = text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
      expect(/\bBuffer\./.test(code) || /\bprocess\./.test(code), `${where} uses a Node global`).toBe(false);
    }
  });

  it("bundles for the browser platform and answers SELECT + GET RESPONSE in a context without Node", async () => {
    const out = await build({
      entryPoints: [join(CORE, "index.ts")],
      bundle: true,
      platform: "browser",
      format: "iife",
      globalName: "cacardCore",
      write: false,
      logLevel: "silent",
    });
    const code = out.outputFiles[0].text;
    expect(code).not.toMatch(/require\(|from\s*"node:/);

    const context = createContext({
      crypto: { getRandomValues: (a: Uint8Array) => globalThis.crypto.getRandomValues(a) },
      TextEncoder,
      TextDecoder,
      result: undefined as unknown,
      certificate: sampleCertificate("cert1"),
    });
    runInContext(code, context);
    runInContext(
      `(async () => {
        const { createCacCard } = cacardCore;
        const token = {
          kind: "memory", location: "vm", loginRequired: false,
          credentials: [{ label: "cert1", certificate, subject: "CN=cert1", algorithm: { kind: "rsa", bits: 2048 }, hasPrivateKey: false }],
          login: () => ({ ok: true, session: { key: () => null } }),
        };
        const card = createCacCard(token);
        const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("").toUpperCase();
        const atr = await card.powerOn();
        const select = await card.transmit(Uint8Array.of(0x00, 0xa4, 0x04, 0x00, 0x07, 0xa0, 0x00, 0x00, 0x00, 0x79, 0x01, 0x00));
        const rest = await card.transmit(Uint8Array.of(0x00, 0xc0, 0x00, 0x00, select[1]));
        const challenge = await card.transmit(Uint8Array.of(0x00, 0x84, 0x00, 0x00, 0x08));
        const sign = await card.transmit(Uint8Array.of(0x80, 0x42, 0x00, 0x00, 0x01, 0x00));
        result = { atr: hex(atr), select: hex(select), rest: hex(rest), challenge: challenge.length, sign: hex(sign),
          hasRequire: typeof require, hasProcess: typeof process, hasBuffer: typeof Buffer, serial: card.serial.length };
      })()`,
      context,
    );
    await expect.poll(() => context.result).toBeDefined();
    const result = context.result as Record<string, unknown>;
    expect(result.hasRequire).toBe("undefined");
    expect(result.hasProcess).toBe("undefined");
    expect(result.hasBuffer).toBe("undefined");
    expect(result.atr).toBe(toHex(CAC_ATR));
    expect(result.select).toBe("610D");
    expect(result.rest).toBe("6F0B8407A0000000790100A5009000");
    // PKI 0 selected, no private key: SIGN is refused, computed by the bundle's card.
    expect(result.sign).toBe("6985");
    expect(result.challenge).toBe(10);
    expect(result.serial).toBe(32);
  });
});
