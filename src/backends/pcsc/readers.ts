/**
 * Which readers exist, whether they hold a card, and which one the user meant
 * by `--reader NAME`.
 *
 * Reader names are positional and made up by pcscd ("Virtual PCD 00 00",
 * "<USB product> [<interface>] (<serial>) 00 00"): the two numbers change
 * with plug order and pcscd restarts. So the relay accepts the exact name or
 * any substring that picks exactly one reader, and re-resolves it whenever
 * the reader comes back. It never picks "the first reader with a card": that
 * can be a virtual reader the relay itself (or cacard vpcd) is feeding.
 */
import { PcscError, RELAY_ERROR_CODE, RelayError } from "./errors.js";
import {
  SCARD_STATE_EXCLUSIVE,
  SCARD_STATE_INUSE,
  SCARD_STATE_MUTE,
  SCARD_STATE_PRESENT,
  SCARD_STATE_UNAWARE,
  SCARD_RV,
} from "./constants.js";
import { PcscContext } from "./context.js";
import { pcscLibrary, type PcscLibrary, type ReaderStateEntry } from "./library.js";

export interface ReaderInfo {
  readonly name: string;
  /** A card is in the reader and answered the reset (not mute). */
  readonly cardPresent: boolean;
  /** The card's ATR when present, else an empty array. */
  readonly atr: Uint8Array;
  /** Another application holds the card exclusively. */
  readonly exclusive: boolean;
  /** Some application is connected to the card. */
  readonly inUse: boolean;
  /** Raw SCARD_STATE_* flags (low 16 bits) as pcscd reported them. */
  readonly state: number;
}

/** Every reader pcscd knows, with card presence; a short-lived context of its own. */
export async function listReaders(library: PcscLibrary = pcscLibrary()): Promise<ReaderInfo[]> {
  const context = await PcscContext.establish(library);
  try {
    return await describeReaders(context);
  } finally {
    context.release();
  }
}

/** listReaders on an existing context (timeout 0: a snapshot, never waits). */
export async function describeReaders(context: PcscContext): Promise<ReaderInfo[]> {
  const names = await context.listReaders();
  if (names.length === 0) return [];
  const states: ReaderStateEntry[] = names.map((reader) => ({
    reader,
    currentState: SCARD_STATE_UNAWARE,
    eventState: 0,
    atr: new Uint8Array(0),
  }));
  const rv = await context.library.getStatusChange(context.handle, 0, states);
  // With UNAWARE every reader "changed", so 0 ms still fills in the states; a
  // timeout would mean a reader vanished between the two calls.
  if (rv !== SCARD_RV.S_SUCCESS && rv !== SCARD_RV.E_TIMEOUT) throw new PcscError("SCardGetStatusChange", rv);
  return states.map((s) => {
    const flags = s.eventState & 0xffff;
    const cardPresent = (flags & SCARD_STATE_PRESENT) !== 0 && (flags & SCARD_STATE_MUTE) === 0;
    return {
      name: s.reader,
      cardPresent,
      atr: cardPresent ? s.atr : new Uint8Array(0),
      exclusive: (flags & SCARD_STATE_EXCLUSIVE) !== 0,
      inUse: (flags & SCARD_STATE_INUSE) !== 0,
      state: flags,
    };
  });
}

/**
 * The one reader `query` designates: an exact name first, otherwise the only
 * name containing `query` (case-insensitive). RELAY_READER_NOT_FOUND or
 * RELAY_READER_AMBIGUOUS otherwise, both listing the candidates.
 */
export function matchReader(names: readonly string[], query: string): string {
  if (query.length === 0) {
    throw new RelayError(RELAY_ERROR_CODE.READER_NOT_FOUND, `no reader name given; readers: ${describeNames(names)}`);
  }
  if (names.includes(query)) return query;
  const needle = query.toLowerCase();
  const hits = names.filter((name) => name.toLowerCase().includes(needle));
  if (hits.length === 1) return hits[0];
  if (hits.length === 0) {
    throw new RelayError(RELAY_ERROR_CODE.READER_NOT_FOUND, `no reader matches "${query}"; readers: ${describeNames(names)}`);
  }
  throw new RelayError(
    RELAY_ERROR_CODE.READER_AMBIGUOUS,
    `"${query}" matches ${hits.length} readers: ${describeNames(hits)}; give more of the name`,
  );
}

function describeNames(names: readonly string[]): string {
  return names.length === 0 ? "(none)" : names.map((n) => `"${n}"`).join(", ");
}
