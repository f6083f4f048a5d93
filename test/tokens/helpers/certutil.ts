/**
 * Making NSS databases with the real certutil at test time. Locally, a
 * machine without certutil skips those tests; in CI (process.env.CI set) a
 * missing certutil is a failure, so the NSS reader is never left untested.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SeededBytes } from "./seeded.js";

function onPath(tool: string): boolean {
  try {
    execFileSync(tool, ["-H"], { stdio: "ignore" });
    return true;
  } catch (err) {
    // certutil -H exits non-zero after printing help; only ENOENT means "absent".
    return (err as NodeJS.ErrnoException).code !== "ENOENT";
  }
}

/** certutil -z noise: seeded (the key generation itself still uses NSS's own RNG). */
const noiseBytes = new SeededBytes("certutil noise");
let files = 0;

export const HAVE_CERTUTIL = onPath("certutil");
export const IN_CI = Boolean(process.env.CI);

function certutil(args: string[]): string {
  return execFileSync("certutil", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export interface CertSpec {
  readonly nickname: string;
  /** RSA modulus bits (default 2048); ignored for an EC key. */
  readonly bits?: number;
  /** An EC key on this curve (certutil -k ec -q NAME) instead of RSA. */
  readonly ecCurve?: "nistp256" | "secp384r1";
}

/**
 * Creates an NSS DB in `dir` with `certutil -N` (empty password, or the
 * password through `-f pwfile`) and one self-signed RSA certificate per spec
 * with `certutil -S`. `format` "dbm" makes a legacy cert8/key3 DB.
 */
export function makeNssDb(
  dir: string,
  options: { password?: string; certs: readonly CertSpec[]; format?: "sql" | "dbm" },
): void {
  mkdirSync(dir, { recursive: true });
  const db = `${options.format ?? "sql"}:${dir}`;
  const pwFile = join(dir, "..", `pw-${files++}.txt`);
  // certutil -f reads the first line, without the newline.
  writeFileSync(pwFile, options.password === undefined ? "" : `${options.password}\n`);
  if (options.password === undefined) certutil(["-N", "-d", db, "--empty-password"]);
  else certutil(["-N", "-d", db, "-f", pwFile]);
  options.certs.forEach((spec, i) => {
    const noise = join(dir, "..", `noise-${files++}.bin`);
    writeFileSync(noise, noiseBytes.next(2048));
    certutil([
      "-S", "-d", db, "-f", pwFile, "-z", noise,
      "-n", spec.nickname, "-s", `CN=${spec.nickname},O=cacard test`,
      "-x", "-t", "CT,C,C",
      ...(spec.ecCurve ? ["-k", "ec", "-q", spec.ecCurve] : ["-k", "rsa", "-g", String(spec.bits ?? 2048)]),
      "-Z", spec.ecCurve === "secp384r1" ? "SHA384" : "SHA256",
      "-v", "12", "-m", String(2000 + i),
    ]);
  });
}

/** The DER of `nickname` as certutil exports it (`-L -n … -r`). */
export function exportCertificate(dir: string, nickname: string, format: "sql" | "dbm" = "sql"): Uint8Array {
  const out = execFileSync("certutil", ["-L", "-d", `${format}:${dir}`, "-n", nickname, "-r"]);
  return new Uint8Array(out);
}

/** `certutil --merge`: copies a legacy dbm: DB into a new sql: DB (the conversion our error message suggests). */
export function mergeIntoSqlDb(target: string, source: string, password: string): void {
  mkdirSync(target, { recursive: true });
  const pwFile = join(target, "..", "merge-pw.txt");
  writeFileSync(pwFile, `${password}\n`);
  certutil(["-N", "-d", `sql:${target}`, "-f", pwFile]);
  certutil(["--merge", "-d", `sql:${target}`, "--source-dir", `dbm:${source}`, "-f", pwFile, "-@", pwFile]);
}

/** A password file for certutil/pk12util next to `dir` (empty for no password). */
function passwordFile(dir: string, password: string | undefined): string {
  const path = join(dir, "..", `pw-${files++}.txt`);
  writeFileSync(path, password === undefined ? "" : `${password}\n`);
  return path;
}

/** `certutil -A`: adds a certificate alone (no private key) under `nickname`. */
export function importCertificate(dir: string, nickname: string, certPemPath: string, password?: string): void {
  certutil(["-A", "-d", `sql:${dir}`, "-f", passwordFile(dir, password), "-n", nickname, "-t", ",,", "-a", "-i", certPemPath]);
}

/** `pk12util -i`: imports a PKCS#12 file (certificate and key) into the DB. */
export function importPkcs12(dir: string, p12Path: string, p12Password: string, password?: string): void {
  execFileSync("pk12util", ["-i", p12Path, "-d", `sql:${dir}`, "-W", p12Password, "-k", passwordFile(dir, password)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
}
