/**
 * An NSS database made at bench time with certutil, holding RSA keys of the
 * sizes the SIGN benchmarks need: cert1 = RSA-2048, cert2 = RSA-3072,
 * cert3 = RSA-4096 (PKI applets 0, 1, 2 of the CAC card). Both sides read the
 * same directory: libcacard through NSS, cacard through openKeyStore.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const KEY_SIZES = [2048, 3072, 4096] as const;

export interface KeyDb {
  readonly dir: string;
  /** PKI applet index holding a key of `bits`. */
  readonly pkiIndex: (bits: number) => number;
  readonly cleanup: () => void;
}

export function haveCertutil(): boolean {
  return spawnSync("certutil", ["-H"], { stdio: "ignore" }).error === undefined;
}

export function makeKeyDb(): KeyDb {
  const base = mkdtempSync(join(tmpdir(), "cacard-bench-"));
  const dir = join(base, "nssdb");
  mkdirSync(dir, { recursive: true });
  const db = `sql:${dir}`;
  const pw = join(base, "pw.txt");
  writeFileSync(pw, "");
  execFileSync("certutil", ["-N", "-d", db, "--empty-password"], { stdio: "ignore" });
  KEY_SIZES.forEach((bits, i) => {
    const noise = join(base, `noise${i}`);
    writeFileSync(noise, randomBytes(2048));
    execFileSync(
      "certutil",
      ["-S", "-d", db, "-f", pw, "-z", noise, "-n", `cert${i + 1}`, "-s", `CN=bench rsa${bits},O=cacard bench`,
        "-x", "-t", "CT,C,C", "-k", "rsa", "-g", String(bits), "-Z", "SHA256", "-m", String(1000 + i), "-v", "120"],
      { stdio: "ignore" },
    );
  });
  return {
    dir,
    pkiIndex: (bits) => KEY_SIZES.indexOf(bits as (typeof KEY_SIZES)[number]),
    cleanup: () => rmSync(base, { recursive: true, force: true }),
  };
}
