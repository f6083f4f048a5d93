/** `openssl speed` in the same run: the physical limit for RSA signing on this machine. */
import { spawnSync } from "node:child_process";

/**
 * RSA sign/s for each key size, from one `openssl speed -elapsed -seconds S
 * -mr rsa2048 rsa3072 ...` (wall-clock divisor, as our own figures; one
 * thread). Returns null when openssl is missing or the output is unexpected.
 */
export function opensslRsaSign(bits: readonly number[], seconds: number): Map<number, number> | null {
  const r = spawnSync("openssl", ["speed", "-elapsed", "-seconds", String(seconds), "-mr", ...bits.map((b) => `rsa${b}`)], {
    encoding: "utf8",
    timeout: (seconds * 2 * bits.length + 30) * 1000,
  });
  if (r.status !== 0 || !r.stdout) return null;
  const out = new Map<number, number>();
  // +F2:<index>:<bits>:<sign/s>:<verify/s>
  for (const m of r.stdout.matchAll(/^\+F2:\d+:(\d+):([\d.]+):([\d.]+)/gm)) out.set(Number(m[1]), Number(m[2]));
  return bits.every((b) => out.has(b)) ? out : null;
}

export function opensslVersion(): string {
  const r = spawnSync("openssl", ["version"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : "unknown";
}
