/**
 * PC/SC constants as pcsc-lite defines them (src/PCSC/pcsclite.h.in,
 * pcsc-lite 1.9.9). Only what the relay uses; WinSCard has the same values.
 */

/** SCardEstablishContext scope. pcsc-lite treats every scope alike. */
export const SCARD_SCOPE_SYSTEM = 0x0002;

/** Share modes for SCardConnect / SCardReconnect. */
export const SCARD_SHARE_EXCLUSIVE = 0x0001;
export const SCARD_SHARE_SHARED = 0x0002;

/** Protocols (preferred set in, active protocol out). */
export const SCARD_PROTOCOL_UNDEFINED = 0x0000;
export const SCARD_PROTOCOL_T0 = 0x0001;
export const SCARD_PROTOCOL_T1 = 0x0002;
export const SCARD_PROTOCOL_ANY = SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1;

/** Dispositions for SCardDisconnect, SCardReconnect and SCardEndTransaction. */
export const SCARD_LEAVE_CARD = 0x0000;
export const SCARD_RESET_CARD = 0x0001;
export const SCARD_UNPOWER_CARD = 0x0002;

/** Reader state bits of SCARD_READERSTATE (dwCurrentState / dwEventState). */
export const SCARD_STATE_UNAWARE = 0x0000;
export const SCARD_STATE_IGNORE = 0x0001;
export const SCARD_STATE_CHANGED = 0x0002;
export const SCARD_STATE_UNKNOWN = 0x0004;
export const SCARD_STATE_UNAVAILABLE = 0x0008;
export const SCARD_STATE_EMPTY = 0x0010;
export const SCARD_STATE_PRESENT = 0x0020;
export const SCARD_STATE_EXCLUSIVE = 0x0080;
export const SCARD_STATE_INUSE = 0x0100;
export const SCARD_STATE_MUTE = 0x0200;
/** pcsc-lite (like WinSCard) keeps a per-reader event counter in the high 16 bits. */
export const SCARD_STATE_EVENT_COUNT_SHIFT = 16;
export const SCARD_STATE_FLAGS_MASK = 0xffff;

/** Timeout value meaning "wait forever" for SCardGetStatusChange. */
export const SCARD_INFINITE = 0xffffffff;

/** Pseudo reader that SCardGetStatusChange reports reader arrivals/departures on. */
export const PNP_NOTIFICATION_READER = "\\\\?PnP?\\Notification";

/** Buffer sizes (pcsclite.h): ATR, reader name, short and extended APDU buffers. */
export const MAX_ATR_SIZE = 33;
export const MAX_READERNAME = 128;
export const MAX_BUFFER_SIZE = 264;
/** 4 header + 3 Lc + 65536 data + 3 Le + 2 SW. */
export const MAX_BUFFER_SIZE_EXTENDED = 4 + 3 + (1 << 16) + 3 + 2;

/**
 * Return codes (LONG) the relay branches on or reports. pcsc-lite returns
 * them as an unsigned 32-bit pattern in a 64-bit `long` on Linux; callers
 * normalise with `>>> 0` so the same numbers work where LONG is 32 bits.
 */
export const SCARD_RV = {
  S_SUCCESS: 0x00000000,
  F_INTERNAL_ERROR: 0x80100001,
  E_CANCELLED: 0x80100002,
  E_INVALID_HANDLE: 0x80100003,
  E_INVALID_PARAMETER: 0x80100004,
  E_NO_MEMORY: 0x80100006,
  E_INSUFFICIENT_BUFFER: 0x80100008,
  E_UNKNOWN_READER: 0x80100009,
  E_TIMEOUT: 0x8010000a,
  E_SHARING_VIOLATION: 0x8010000b,
  E_NO_SMARTCARD: 0x8010000c,
  E_PROTO_MISMATCH: 0x8010000f,
  E_NOT_READY: 0x80100010,
  E_INVALID_VALUE: 0x80100011,
  F_COMM_ERROR: 0x80100013,
  F_UNKNOWN_ERROR: 0x80100014,
  E_NOT_TRANSACTED: 0x80100016,
  E_READER_UNAVAILABLE: 0x80100017,
  E_NO_SERVICE: 0x8010001d,
  E_SERVICE_STOPPED: 0x8010001e,
  E_UNSUPPORTED_FEATURE: 0x8010001f,
  E_NO_READERS_AVAILABLE: 0x8010002e,
  W_UNSUPPORTED_CARD: 0x80100065,
  W_UNRESPONSIVE_CARD: 0x80100066,
  W_UNPOWERED_CARD: 0x80100067,
  W_RESET_CARD: 0x80100068,
  W_REMOVED_CARD: 0x80100069,
} as const;

const RV_NAMES = new Map<number, string>(Object.entries(SCARD_RV).map(([name, rv]) => [rv, `SCARD_${name}`]));

/** "SCARD_W_REMOVED_CARD" for 0x80100069; hex for codes the table lacks. */
export function scardName(rv: number): string {
  return RV_NAMES.get(rv >>> 0) ?? `0x${(rv >>> 0).toString(16).toUpperCase().padStart(8, "0")}`;
}
