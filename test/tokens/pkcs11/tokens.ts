/**
 * Real PKCS#11 tokens made at test time in temporary directories (never the
 * machine's own): SoftHSM2 (make-softhsm-token.sh) and a TPM 2.0 token on
 * swtpm + tpm2-abrmd + tpm2-pkcs11 (make-tpm-token.sh / stop-tpm-token.sh,
 * which stop exactly the daemons they started). Plus the checks the token
 * suites share.
 */
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { expect } from "vitest";
import { interopGate, type InteropGate } from "../../interop/lib/namespace.js";
import { pkcs1Sha256Block } from "../helpers/rsa.js";
import { KeyOperationError, type KeyOperationErrorCode } from "../../../src/core/token/types.js";

export const HERE = resolve(__dirname);
export const FIXTURES = join(HERE, "fixtures");
export const SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so";
export const TPM2_MODULE = "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so";
export const SOFTHSM_LABEL = "cacard-softhsm";
export const TPM_LABEL = "cacard-tpm";
export const PIN = new TextEncoder().encode("77777777");
export const WRONG_PIN = new TextEncoder().encode("12341234");
/** Building a token: SoftHSM takes ~1 s, the TPM ~5 s (more on a busy machine). */
const SCRIPT_LIMIT_MS = 120_000;

/** pkcs11js is an optional dependency with a native part: is it built here? */
export function pkcs11jsBuilt(): boolean {
  try {
    const main = createRequire(import.meta.url).resolve("pkcs11js");
    return existsSync(join(main, "..", "build", "Release", "pkcs11.node"));
  } catch {
    return false;
  }
}

/** Skip locally when something is missing; with CI=true that is a failure. */
export function tokenGate(kind: "softhsm" | "tpm"): InteropGate {
  const gate =
    kind === "softhsm"
      ? interopGate({ tools: ["softhsm2-util", "pkcs11-tool", "openssl"], files: [SOFTHSM_MODULE] })
      : interopGate({
          tools: ["swtpm", "dbus-daemon", "tpm2-abrmd", "tpm2_ptool", "tpm2_getcap", "timeout"],
          files: [TPM2_MODULE],
        });
  if (pkcs11jsBuilt()) return gate;
  const missing = [...gate.missing, "pkcs11js (npm install; it builds with node-gyp)"];
  const ci = process.env.CI === "true";
  return { missing, skip: !ci, fail: ci, reason: `missing: ${missing.join(", ")}` };
}

/** Parses the `export NAME=value` lines the scripts print. */
function envLines(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]] = m[2];
  }
  return env;
}

function runScript(name: string, dir: string): Record<string, string> {
  const out = execFileSync(join(HERE, name), [dir], { encoding: "utf8", timeout: SCRIPT_LIMIT_MS, env: process.env });
  return envLines(out);
}

/** A SoftHSM token in `dir` (SOFTHSM2_CONF and friends returned, not set). */
export function makeSoftHsmToken(dir: string): Record<string, string> {
  return runScript("make-softhsm-token.sh", dir);
}

/** A TPM token in `dir` (daemons under `timeout`); stop it with stopTpmToken(dir). */
export function makeTpmToken(dir: string): Record<string, string> {
  return runScript("make-tpm-token.sh", dir);
}

export function stopTpmToken(dir: string): void {
  execFileSync(join(HERE, "stop-tpm-token.sh"), [dir], { timeout: 30_000, stdio: "ignore" });
}

export const MESSAGE = Buffer.from("cacard host mode check");

/** A PKCS#1 v1.5 type-1 block over SHA-256(MESSAGE), as a host hands a CAC. */
export function signatureBlock(modulusBytes: number): Uint8Array {
  return pkcs1Sha256Block(MESSAGE, modulusBytes);
}

/** Splits 00 02 PS 00 M. */
export function parseType2(block: Uint8Array): { padding: Uint8Array; message: Uint8Array } {
  expect(block[0]).toBe(0x00);
  expect(block[1]).toBe(0x02);
  const sep = block.indexOf(0x00, 2);
  expect(sep).toBeGreaterThanOrEqual(3);
  return { padding: block.subarray(2, sep), message: block.subarray(sep + 1) };
}

/** Fixed ECDH ephemeral scalars (no randomness in tests). */
const EPHEMERAL = { "P-256": "11".repeat(32), "P-384": "22".repeat(48) } as const;
const NODE_CURVE = { "P-256": "prime256v1", "P-384": "secp384r1" } as const;

/** A fixed ephemeral key pair on `curve`: its public point and the expected shared X with `peer`. */
export function ecdhPeer(curve: "P-256" | "P-384", peer: crypto.KeyObject): { point: Uint8Array; expected: Uint8Array } {
  const ecdh = crypto.createECDH(NODE_CURVE[curve]);
  ecdh.setPrivateKey(Buffer.from(EPHEMERAL[curve], "hex"));
  const pub = ecdh.getPublicKey();
  const half = (pub.length - 1) / 2;
  const privateKey = crypto.createPrivateKey({
    key: {
      kty: "EC",
      crv: curve,
      d: ecdh.getPrivateKey().toString("base64url"),
      x: pub.subarray(1, 1 + half).toString("base64url"),
      y: pub.subarray(1 + half).toString("base64url"),
    },
    format: "jwk",
  });
  return { point: new Uint8Array(pub), expected: new Uint8Array(crypto.diffieHellman({ privateKey, publicKey: peer })) };
}

/** Expects `promise` to reject with a KeyOperationError of `code`. */
export async function expectKeyError(promise: Promise<unknown>, code: KeyOperationErrorCode): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeyOperationError);
  expect((error as KeyOperationError).code).toBe(code);
}
