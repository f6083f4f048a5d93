/**
 * Reading `pcscd -f -a -d` logs: each line starts with the microseconds since
 * the previous line, and -a adds `APDU:` / `SW:` lines around every exchange.
 */

export interface ApduStats {
  readonly count: number;
  /** Round-trip times APDU → SW in milliseconds. */
  readonly latenciesMs: readonly number[];
  readonly medianMs: number;
  readonly maxMs: number;
}

export function apduStats(log: string): ApduStats {
  const latencies: number[] = [];
  let clock = 0;
  let started: number | null = null;
  for (const line of log.split("\n")) {
    const m = /^(\d{8}) (.*)$/.exec(line);
    if (!m) continue;
    clock += Number(m[1]);
    if (m[2].startsWith("APDU:")) started = clock;
    else if (m[2].startsWith("SW:") && started !== null) {
      latencies.push((clock - started) / 1000);
      started = null;
    }
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    count: latencies.length,
    latenciesMs: latencies,
    medianMs: sorted.length ? sorted[Math.floor(sorted.length / 2)] : NaN,
    maxMs: sorted.length ? sorted[sorted.length - 1] : NaN,
  };
}

/** The command APDUs pcscd logged, as uppercase hex without spaces. */
export function loggedApdus(log: string): string[] {
  const out: string[] = [];
  for (const line of log.split("\n")) {
    const m = /^\d{8} APDU: ([0-9A-F ]+)$/.exec(line.trimEnd());
    if (m) out.push(m[1].replace(/ /g, ""));
  }
  return out;
}
