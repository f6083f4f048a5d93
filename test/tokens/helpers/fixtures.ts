/** Paths of the committed sample stores, temp directories and file fingerprints for the key store tests. */
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { KeyStoreError } from "../../../src/core/token/types.js";
import { fileURLToPath } from "node:url";

export const REPO = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
export const SAMPLES = join(REPO, "certs-sample");
export const SAMPLE_NSS = join(SAMPLES, "nssdb");
export const SAMPLE_NSS_PW = join(SAMPLES, "nssdb-pw");
export const SAMPLE_PEM = join(SAMPLES, "pem");
export const SAMPLE_PEM_ENC = join(SAMPLES, "pem-enc");
/** The password of nssdb-pw and pem-enc (certs-sample/regenerate.sh). */
export const SAMPLE_PASSWORD = "12345678";
export const NICKNAMES = ["cert1", "cert2", "cert3"];

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A fresh temp directory, removed by the returned cleanup function. */
export function makeTempDir(prefix = "cacard-ks-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Copies a sample store into `parent/name` and returns the copy's path. */
export function copyStore(from: string, parent: string, name: string): string {
  const to = join(parent, name);
  cpSync(from, to, { recursive: true });
  return to;
}

/** name → sha256, size and mtime of every file in `dir`, to prove nothing was written. */
export function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const st = statSync(path);
    if (!st.isFile()) continue;
    const hash = createHash("sha256").update(readFileSync(path)).digest("hex");
    out[name] = `${hash} ${st.size} ${st.mtimeMs}`;
  }
  return out;
}

/** The DER inside a PEM certificate file. */
export function pemCertificateDer(path: string): Uint8Array {
  const text = readFileSync(path, "utf8");
  const body = text.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
  return new Uint8Array(Buffer.from(body, "base64"));
}

/** Awaits a promise that must reject with a KeyStoreError, and returns that error. */
export async function rejection(p: Promise<unknown>): Promise<KeyStoreError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof KeyStoreError) return err;
    throw err;
  }
  throw new Error("expected a KeyStoreError");
}
