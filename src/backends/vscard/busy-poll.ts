/**
 * Adaptive busy polling of the connection after a reply.
 *
 * The host sends the next APDU only after it has our answer, so with one
 * reader the card side is idle between every two APDUs. When the host runs
 * on another CPU, the time to wake our sleeping process up (an idle vCPU in
 * a VM: tens of µs) dominates each round trip: the benchmark's fake QEMU
 * (bench/vscard) measured ~85 µs per round trip with us, ~70 µs with a
 * minimal C card side, of which the card's work is a few µs. So, after
 * writing the replies to a chunk, we keep the event loop turning
 * (setImmediate, i.e. epoll with a zero timeout) for a short window instead
 * of going to sleep at once; an APDU arriving within it is handled without
 * a wake-up (there: ~28 µs per round trip). The price is CPU time: up to
 * one window per reply, and a process that stays busy instead of sleeping
 * while the host keeps it fed.
 *
 * It only spins while it pays. A window that ends without data (a miss),
 * or one that was not needed because the next chunk was already there at
 * the first look (the host runs on our CPU and answered while we wrote; or
 * the host is busy enough to keep us fed), makes the next 1, 2, 4, ... 64
 * replies go without a window; a window that catches a chunk resets that.
 * So with a host slower than the window (QEMU with a real guest: its APDUs
 * are ms apart) or on our CPU it polls about once every 64 replies, and it
 * never polls while the connection is idle.
 */
import { performance } from "node:perf_hooks";

/** Default window after each reply, in µs (0 = off). */
export const DEFAULT_BUSY_POLL_US = 50;
/** After misses, at most this many replies go without a window before trying again. */
export const MAX_BUSY_POLL_SKIP = 64;

/** The window to use for `option` (µs): the option if it is a positive number, 0 if set otherwise, else the default. */
export function busyPollWindowUs(option: number | undefined): number {
  if (option === undefined) return DEFAULT_BUSY_POLL_US;
  return Number.isFinite(option) && option > 0 ? option : 0;
}

export class BusyPoll {
  readonly #windowMs: number;
  readonly #alive: () => boolean;
  readonly #now: () => number;
  #until = 0;
  /** A window is open. */
  #polling = false;
  /** A #poll is queued (never more than one). */
  #scheduled = false;
  /** Replies still to go without a window. */
  #skip = 0;
  #backoff = 0;
  /** Turns of the event loop in the open window. */
  #turns = 0;
  #hits = 0;
  #misses = 0;
  #early = 0;

  /**
   * @param windowUs how long to poll after a reply (µs); 0 disables.
   * @param alive false once the connection is gone (a window then closes at once).
   */
  constructor(windowUs: number, alive: () => boolean, now: () => number = () => performance.now()) {
    this.#windowMs = windowUs > 0 ? windowUs / 1000 : 0;
    this.#alive = alive;
    this.#now = now;
  }

  /**
   * Windows that ended with data after polling for it (hits), without data
   * (misses), or with data that was there at the first look (early: the
   * window was not needed; typically the host runs on our CPU and answered
   * while we were writing).
   */
  get stats(): { hits: number; misses: number; early: number } {
    return { hits: this.#hits, misses: this.#misses, early: this.#early };
  }

  /** Call when a chunk arrives, before handling it. */
  arrived(): void {
    if (!this.#polling) return;
    this.#polling = false;
    if (this.#turns <= 1) {
      this.#early++;
      this.#backOff();
    } else {
      this.#hits++;
      this.#backoff = 0;
      this.#skip = 0;
    }
  }

  /** Call once the replies to a chunk are written: opens a window (unless backing off). */
  replied(): void {
    if (this.#windowMs === 0) return;
    if (this.#skip > 0) {
      this.#skip--;
      return;
    }
    this.#polling = true;
    this.#turns = 0;
    this.#until = this.#now() + this.#windowMs;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#poll);
    }
  }

  /** Closes any open window (connection closed). */
  stop(): void {
    this.#polling = false;
  }

  readonly #poll = (): void => {
    this.#scheduled = false;
    if (!this.#polling) return;
    if (!this.#alive()) {
      this.#polling = false;
      return;
    }
    if (this.#now() >= this.#until) {
      this.#polling = false;
      this.#misses++;
      this.#backOff();
      return;
    }
    this.#turns++;
    this.#scheduled = true;
    setImmediate(this.#poll);
  };

  #backOff(): void {
    this.#backoff = Math.min(MAX_BUSY_POLL_SKIP, this.#backoff === 0 ? 1 : this.#backoff * 2);
    this.#skip = this.#backoff;
  }
}
