/**
 * Certificates and key files made with the real openssl at test time, over
 * keys the tests supply (seeded), so the files are what users have.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { KeyObject } from "node:crypto";

function onPath(tool: string): boolean {
  try {
    execFileSync(tool, ["version"], { stdio: "ignore" });
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== "ENOENT";
  }
}

export const HAVE_OPENSSL = onPath("openssl");

export function openssl(args: string[]): Buffer {
  return execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
}

/**
 * A self-signed certificate over `key`, written as `<dir>/<name>.pem`, with
 * the unencrypted PKCS#8 key in `<dir>/<name>.key-plain` for further use.
 * Returns the certificate's path.
 */
export function selfSigned(dir: string, name: string, key: KeyObject, digest?: "sha256" | "sha384"): string {
  const keyPath = join(dir, `${name}.key-plain`);
  writeFileSync(keyPath, key.export({ type: "pkcs8", format: "pem" }));
  const certPath = join(dir, `${name}.pem`);
  // Ed25519 takes no digest option.
  const md = digest ? [`-${digest}`] : [];
  openssl(["req", "-x509", "-new", "-key", keyPath, "-subj", `/CN=${name}/O=cacard test`, "-days", "30", ...md, "-out", certPath]);
  return certPath;
}

/** openssl pkcs8 -topk8: the key encrypted with PBES2 / AES-256-CBC under `password`. */
export function encryptedPkcs8(plainKeyPath: string, password: string): string {
  return openssl(["pkcs8", "-topk8", "-in", plainKeyPath, "-v2", "aes-256-cbc", "-passout", `pass:${password}`]).toString("latin1");
}

/** openssl pkcs12 -export: certificate and key as a PKCS#12 file for pk12util. */
export function pkcs12(dir: string, name: string, certPath: string, plainKeyPath: string, password: string): string {
  const out = join(dir, `${name}.p12`);
  openssl(["pkcs12", "-export", "-in", certPath, "-inkey", plainKeyPath, "-name", name, "-passout", `pass:${password}`, "-out", out]);
  return out;
}
