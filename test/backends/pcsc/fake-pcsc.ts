/**
 * A scripted PcscLibrary for tests without pcscd: readers with or without a
 * card, SCardGetStatusChange that wakes on changes and on cancel, and a
 * transmit answered by a function. Records the calls that matter.
 */
import {
  PNP_NOTIFICATION_READER,
  SCARD_PROTOCOL_T0,
  SCARD_RV,
  SCARD_STATE_CHANGED,
  SCARD_STATE_EMPTY,
  SCARD_STATE_EVENT_COUNT_SHIFT,
  SCARD_STATE_PRESENT,
  SCARD_STATE_UNKNOWN,
} from "../../../src/backends/pcsc/constants.js";
import { PcscError } from "../../../src/backends/pcsc/errors.js";
import type { PcscLibrary, ReaderStateEntry } from "../../../src/backends/pcsc/library.js";

export const CAC_LIKE_ATR = Uint8Array.of(0x3b, 0x7a, 0x18, 0x00, 0x00, 0x73, 0x66, 0x74, 0x65, 0x20, 0x63, 0x64, 0x31, 0x34, 0x34);

interface FakeReader {
  atr: Uint8Array | null;
  events: number;
}

export class FakePcsc {
  readonly calls: string[] = [];
  readonly readers = new Map<string, FakeReader>();
  serviceUp = true;
  answer: (command: Uint8Array) => Uint8Array | PcscError = () => Uint8Array.of(0x90, 0x00);
  #waiters: (() => void)[] = [];
  #nextHandle = 100;

  addReader(name: string, atr: Uint8Array | null = null): void {
    this.readers.set(name, { atr, events: 0 });
    this.#wake();
  }

  removeReader(name: string): void {
    this.readers.delete(name);
    this.#wake();
  }

  insert(name: string, atr: Uint8Array = CAC_LIKE_ATR): void {
    const r = this.readers.get(name)!;
    r.atr = atr;
    r.events++;
    this.#wake();
  }

  remove(name: string): void {
    const r = this.readers.get(name)!;
    r.atr = null;
    r.events++;
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #eventState(reader: string): number {
    if (reader === PNP_NOTIFICATION_READER) return SCARD_STATE_UNKNOWN;
    const r = this.readers.get(reader);
    if (!r) return SCARD_STATE_UNKNOWN;
    return ((r.atr ? SCARD_STATE_PRESENT : SCARD_STATE_EMPTY) | (r.events << SCARD_STATE_EVENT_COUNT_SHIFT)) >>> 0;
  }

  #down(operation: string): void {
    if (!this.serviceUp) throw new PcscError(operation, SCARD_RV.E_NO_SERVICE);
  }

  readonly library: PcscLibrary = {
    establishContext: async () => {
      this.#down("SCardEstablishContext");
      this.calls.push("establish");
      return 1;
    },
    releaseContext: () => void this.calls.push("release"),
    isValidContext: () => this.serviceUp,
    listReaders: async () => {
      this.#down("SCardListReaders");
      return [...this.readers.keys()];
    },
    getStatusChange: async (_context, timeoutMs, states: ReaderStateEntry[]) => {
      const deadline = Date.now() + Math.min(timeoutMs, 60_000);
      for (;;) {
        if (!this.serviceUp) return SCARD_RV.F_COMM_ERROR;
        let changed = false;
        for (const s of states) {
          const now = this.#eventState(s.reader);
          if (now !== (s.currentState & ~SCARD_STATE_CHANGED) >>> 0 || now === SCARD_STATE_UNKNOWN) {
            s.eventState = (now | SCARD_STATE_CHANGED) >>> 0;
            s.atr = this.readers.get(s.reader)?.atr ?? new Uint8Array(0);
            changed = true;
          } else {
            s.eventState = now;
          }
        }
        if (changed) return SCARD_RV.S_SUCCESS;
        if (timeoutMs === 0 || Date.now() >= deadline) return SCARD_RV.E_TIMEOUT;
        const cancelled = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), Math.max(1, deadline - Date.now()));
          this.#waiters.push(() => {
            clearTimeout(timer);
            resolve(false);
          });
          this.#cancel.push(() => {
            clearTimeout(timer);
            resolve(true);
          });
        });
        if (cancelled) return SCARD_RV.E_CANCELLED;
      }
    },
    cancel: () => {
      const c = this.#cancel;
      this.#cancel = [];
      for (const f of c) f();
      return SCARD_RV.S_SUCCESS;
    },
    connect: async (_context, reader) => {
      this.#down("SCardConnect");
      const r = this.readers.get(reader);
      if (!r) throw new PcscError("SCardConnect", SCARD_RV.E_UNKNOWN_READER);
      if (!r.atr) throw new PcscError("SCardConnect", SCARD_RV.E_NO_SMARTCARD);
      this.calls.push(`connect:${reader}`);
      return { handle: this.#nextHandle++, protocol: SCARD_PROTOCOL_T0 };
    },
    reconnect: async (_h, _s, _p, init) => {
      this.calls.push(`reconnect:${init}`);
      return SCARD_PROTOCOL_T0;
    },
    disconnect: async (_h, d) => void this.calls.push(`disconnect:${d}`),
    beginTransaction: async () => void this.calls.push("begin"),
    endTransaction: async () => void this.calls.push("end"),
    status: async () => {
      const [name, r] = [...this.readers.entries()].find(([, x]) => x.atr !== null) ?? ["", { atr: null }];
      return { reader: name, state: 0x34, protocol: SCARD_PROTOCOL_T0, atr: r.atr ?? new Uint8Array(0) };
    },
    transmit: async (_h, _p, command) => {
      this.calls.push(`transmit:${command[1].toString(16)}`);
      const result = this.answer(command);
      if (result instanceof PcscError) throw result;
      return result;
    },
  };
  #cancel: (() => void)[] = [];
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `predicate` holds (at most `ms`). */
export async function eventually(predicate: () => boolean, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await sleep(5);
  }
}
