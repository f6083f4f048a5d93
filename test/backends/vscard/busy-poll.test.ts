import { describe, expect, it } from "vitest";
import {
  BusyPoll,
  DEFAULT_BUSY_POLL_US,
  MAX_BUSY_POLL_SKIP,
  busyPollWindowUs,
} from "../../../src/backends/vscard/busy-poll.js";

/** One turn of the event loop: BusyPoll's queued setImmediate (if any) runs before this resolves. */
const turn = () => new Promise<void>((r) => setImmediate(r));

/** A BusyPoll on a hand-driven clock (ms). */
function make(windowUs = 50, alive = () => true) {
  const clock = { now: 0 };
  const poll = new BusyPoll(windowUs, alive, () => clock.now);
  return { poll, clock };
}

/** Opens a window and lets it run out without data. */
async function miss(poll: BusyPoll, clock: { now: number }): Promise<void> {
  poll.replied();
  await turn();
  clock.now += 1;
  await turn();
  await turn();
}

describe("BusyPoll", () => {
  it("window option: default, off, explicit", () => {
    expect(busyPollWindowUs(undefined)).toBe(DEFAULT_BUSY_POLL_US);
    expect(busyPollWindowUs(0)).toBe(0);
    expect(busyPollWindowUs(-5)).toBe(0);
    expect(busyPollWindowUs(Number.NaN)).toBe(0);
    expect(busyPollWindowUs(20)).toBe(20);
  });

  it("does nothing with a zero window", async () => {
    const { poll } = make(0);
    poll.replied();
    await turn();
    poll.arrived();
    expect(poll.stats).toEqual({ hits: 0, misses: 0, early: 0 });
  });

  it("a chunk caught by the window is a hit, and keeps the windows coming", async () => {
    const { poll } = make();
    for (let i = 0; i < 3; i++) {
      poll.replied();
      await turn();
      await turn();
      await turn();
      poll.arrived();
    }
    expect(poll.stats).toEqual({ hits: 3, misses: 0, early: 0 });
  });

  it("a window that runs out is a miss; consecutive misses skip 1, 2, 4, ... up to 64 replies", async () => {
    const { poll, clock } = make();
    /** Replies that open no window before one does (which is then run out). */
    const skippedThenMiss = async () => {
      for (let n = 0; ; n++) {
        const misses = poll.stats.misses;
        await miss(poll, clock);
        if (poll.stats.misses !== misses) return n;
      }
    };
    const counts: number[] = [];
    for (let i = 0; i < 9; i++) counts.push(await skippedThenMiss());
    expect(counts).toEqual([0, 1, 2, 4, 8, 16, 32, MAX_BUSY_POLL_SKIP, MAX_BUSY_POLL_SKIP]);
    expect(poll.stats).toEqual({ hits: 0, misses: 9, early: 0 });
  });

  it("a hit resets the backoff", async () => {
    const { poll, clock } = make();
    await miss(poll, clock);
    await miss(poll, clock); // skipped
    await miss(poll, clock); // 2nd miss: now 2 to skip
    expect(poll.stats.misses).toBe(2);
    poll.replied(); // skipped
    poll.replied(); // skipped
    poll.replied(); // a window
    await turn();
    await turn();
    poll.arrived();
    expect(poll.stats).toEqual({ hits: 1, misses: 2, early: 0 });
    poll.replied(); // at once a window again
    await turn();
    await turn();
    poll.arrived();
    expect(poll.stats).toEqual({ hits: 2, misses: 2, early: 0 });
  });

  it("a chunk already there at the first look is 'early' and backs off like a miss", async () => {
    const { poll } = make();
    poll.replied();
    poll.arrived(); // before any turn: the window was not needed
    expect(poll.stats).toEqual({ hits: 0, misses: 0, early: 1 });
    poll.replied(); // skipped
    poll.arrived();
    expect(poll.stats).toEqual({ hits: 0, misses: 0, early: 1 });
    poll.replied(); // a window again
    await turn();
    await turn();
    poll.arrived();
    expect(poll.stats).toEqual({ hits: 1, misses: 0, early: 1 });
  });

  it("closes the window when the connection is gone or on stop, without counting", async () => {
    let alive = true;
    const { poll, clock } = make(50, () => alive);
    poll.replied();
    await turn();
    alive = false;
    await turn();
    clock.now += 1;
    await turn();
    expect(poll.stats).toEqual({ hits: 0, misses: 0, early: 0 });
    alive = true;
    poll.replied();
    await turn();
    poll.stop();
    await turn();
    clock.now += 1;
    await turn();
    poll.arrived();
    expect(poll.stats).toEqual({ hits: 0, misses: 0, early: 0 });
  });

  it("never runs two polls per turn when a window reopens before the queued poll ran", async () => {
    let calls = 0;
    const poll = new BusyPoll(50, () => true, () => {
      calls++;
      return 0;
    });
    poll.replied();
    await turn();
    await turn();
    poll.arrived(); // hit; a poll is still queued
    poll.replied(); // reopens: must reuse that queued poll
    calls = 0;
    await turn();
    expect(calls).toBe(1);
    calls = 0;
    await turn();
    expect(calls).toBe(1);
    poll.stop();
    await turn();
  });
});
