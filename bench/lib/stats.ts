/** Small numeric helpers shared by the benchmark sections. */

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** A figure with the runs it came from: `value` is the median of `runs`. */
export interface Measured {
  readonly value: number;
  readonly runs: number[];
}

export function measured(runs: number[]): Measured {
  return { value: median(runs), runs };
}

/** Relative spread of the runs: (max - min) / median. */
export function spread(m: Measured): number {
  if (m.runs.length < 2 || !(m.value > 0)) return 0;
  return (Math.max(...m.runs) - Math.min(...m.runs)) / m.value;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Human-friendly number: 3 significant digits, thousands separated. */
export function fmt(n: number | undefined | null, digits = 3): string {
  if (n === undefined || n === null || !Number.isFinite(n)) return "n/a";
  if (n === 0) return "0";
  const abs = Math.abs(n);
  if (abs >= 10 ** digits) return Math.round(n).toLocaleString("en-US");
  return Number(n.toPrecision(digits)).toLocaleString("en-US", { maximumSignificantDigits: digits });
}

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
