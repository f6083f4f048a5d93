/**
 * Rate limiting for log lines a peer can cause (a VSCard host sending
 * ReaderAdd or unknown frames, connections refused by the listener, vpcd
 * oddities): without it, every hostile frame of a few bytes buys a line of
 * stderr, and a flood of frames fills the disk or the journal. Each kind of
 * line gets WARNING_BURST lines per WARNING_WINDOW_MS; the rest are counted
 * and summarised once the window is over ("N more ... suppressed").
 */

/** Lines of one kind let through per window. */
export const WARNING_BURST = 5;
/** The window over which WARNING_BURST applies. */
export const WARNING_WINDOW_MS = 10_000;

export interface WarningLimiterOptions {
  readonly burst?: number;
  readonly windowMs?: number;
  /** Clock (tests); default Date.now. */
  readonly now?: () => number;
}

interface Bucket {
  windowStart: number;
  shown: number;
  suppressed: number;
}

/**
 * Passes at most `burst` lines of each kind per window to `emit`, and one
 * summary line per kind and window for the rest. The summary goes out when
 * the next line of that kind arrives after the window, on a timer at the end
 * of the window (unref'd: it never keeps the process alive), or on flush().
 */
export class WarningLimiter {
  readonly #emit: (line: string) => void;
  readonly #burst: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(emit: (line: string) => void, options: WarningLimiterOptions = {}) {
    this.#emit = emit;
    this.#burst = options.burst ?? WARNING_BURST;
    this.#windowMs = options.windowMs ?? WARNING_WINDOW_MS;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Emits `line` unless lines of this `kind` are over their budget. `kind`
   * names them in the summary ("unexpected messages from the host").
   */
  warn(kind: string, line: string): void {
    if (this.admit(kind)) this.#emit(line);
  }

  /**
   * Counts one line of this `kind`: true when it may be shown (the caller
   * shows it its own way), false when it is suppressed and only counted.
   */
  admit(kind: string): boolean {
    const now = this.#now();
    let bucket = this.#buckets.get(kind);
    if (bucket !== undefined && now - bucket.windowStart >= this.#windowMs) {
      this.#summarise(kind, bucket);
      bucket = undefined;
    }
    if (bucket === undefined) {
      bucket = { windowStart: now, shown: 0, suppressed: 0 };
      this.#buckets.set(kind, bucket);
    }
    if (bucket.shown < this.#burst) {
      bucket.shown++;
      return true;
    }
    bucket.suppressed++;
    this.#arm();
    return false;
  }

  /** Emits the pending summaries now (on close or stop). */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    for (const [kind, bucket] of this.#buckets) this.#summarise(kind, bucket);
    this.#buckets.clear();
  }

  #summarise(kind: string, bucket: Bucket): void {
    if (bucket.suppressed === 0) return;
    const seconds = Math.max(1, Math.round((this.#now() - bucket.windowStart) / 1000));
    this.#emit(`${bucket.suppressed} more ${kind} suppressed (${bucket.shown + bucket.suppressed} in ${seconds} s)`);
    bucket.suppressed = 0;
  }

  #arm(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      const now = this.#now();
      let again = false;
      for (const [kind, bucket] of this.#buckets) {
        if (now - bucket.windowStart >= this.#windowMs) {
          this.#summarise(kind, bucket);
          this.#buckets.delete(kind);
        } else if (bucket.suppressed > 0) again = true;
      }
      if (again) this.#arm();
    }, this.#windowMs);
    // Node: never keep the process alive for a summary. Browsers (src/web) have no unref.
    (this.#timer as { unref?: () => void }).unref?.();
  }
}
