/**
 * The PC/SC API of libpcsclite.so.1, bound with koffi (FFI; no native build).
 *
 * Why FFI and not an npm PC/SC package: none of the maintained ones wraps
 * SCardBeginTransaction/SCardEndTransaction, which a relay in shared mode
 * needs to keep a guest's 61xx → GET RESPONSE pair (and any multi-APDU
 * operation) from being interleaved with another host application's APDUs.
 * koffi ships prebuilt binaries, so nothing is compiled at install time; it
 * is an optional dependency, loaded only when a relay is opened.
 *
 * Every call that talks to pcscd runs through koffi's `.async` on a worker
 * thread: pcscd can take seconds (card power-up, a slow card, a transaction
 * held by someone else) and must never block Node's event loop.
 * SCardCancel is the exception: pcsc-lite runs it without taking the context
 * lock, precisely so it can interrupt a waiting SCardGetStatusChange.
 *
 * Types follow pcsc-lite on Linux: LONG, DWORD, SCARDCONTEXT and SCARDHANDLE
 * are C `long`s (8 bytes on x86-64); SCARD_IO_REQUEST is two `unsigned long`s.
 * (macOS' PCSC framework uses 32-bit types and packed structs; not supported.)
 */
import { createRequire } from "node:module";
import {
  MAX_ATR_SIZE,
  MAX_BUFFER_SIZE_EXTENDED,
  SCARD_PROTOCOL_T0,
  SCARD_PROTOCOL_T1,
  SCARD_RV,
  SCARD_SCOPE_SYSTEM,
} from "./constants.js";
import { PCSC_ERROR_CODE, PcscError } from "./errors.js";

/** The shared object every Linux distribution ships in libpcsclite1. */
export const PCSCLITE_SONAME = "libpcsclite.so.1";

/** One entry of SCardGetStatusChange's in/out array. */
export interface ReaderStateEntry {
  readonly reader: string;
  /** What the caller believes (SCARD_STATE_* plus the event counter in the high 16 bits). */
  currentState: number;
  /** What pcscd reports back. */
  eventState: number;
  /** The card's ATR when SCARD_STATE_PRESENT is set in eventState. */
  atr: Uint8Array;
}

export interface ConnectResult {
  readonly handle: number;
  readonly protocol: number;
}

export interface CardStatus {
  readonly reader: string;
  readonly state: number;
  readonly protocol: number;
  readonly atr: Uint8Array;
}

/** The subset of winscard.h the relay uses, each call returning after pcscd answered. */
export interface PcscLibrary {
  establishContext(): Promise<number>;
  releaseContext(context: number): void;
  isValidContext(context: number): boolean;
  listReaders(context: number): Promise<string[]>;
  getStatusChange(context: number, timeoutMs: number, states: ReaderStateEntry[]): Promise<number>;
  /** Interrupts a pending getStatusChange on this context (returns the rv, never throws). */
  cancel(context: number): number;
  connect(context: number, reader: string, shareMode: number, protocols: number): Promise<ConnectResult>;
  reconnect(handle: number, shareMode: number, protocols: number, initialization: number): Promise<number>;
  disconnect(handle: number, disposition: number): Promise<void>;
  beginTransaction(handle: number): Promise<void>;
  endTransaction(handle: number, disposition: number): Promise<void>;
  status(handle: number): Promise<CardStatus>;
  /** Sends `command` under the given protocol; returns the response (data + SW). */
  transmit(handle: number, protocol: number, command: Uint8Array, maxResponse?: number): Promise<Uint8Array>;
}

/** Large enough for any short or extended response (65536 data + SW). */
const RECEIVE_CAPACITY = MAX_BUFFER_SIZE_EXTENDED;
/** Reader names are at most MAX_READERNAME; SCardStatus gets room for a few more. */
const STATUS_NAME_CAPACITY = 256;
/** SCardListReaders may race with a reader arriving between the size and the data call. */
const LIST_READERS_ATTEMPTS = 3;

type AsyncFn = { async: (...args: unknown[]) => void } & ((...args: unknown[]) => unknown);

/**
 * The part of koffi's API used here, declared locally: koffi is optional, so
 * neither the build nor the published types may depend on its declarations.
 */
interface KoffiModule {
  load(path: string): { func(prototype: string): unknown };
  struct(name: string, members: Record<string, unknown>): unknown;
  array(type: string, length: number, hint: "Typed"): unknown;
  sizeof(type: unknown): number;
}

/** Declared functions of the loaded library. */
interface Bound {
  SCardEstablishContext: AsyncFn;
  SCardReleaseContext: AsyncFn;
  SCardIsValidContext: AsyncFn;
  SCardListReaders: AsyncFn;
  SCardGetStatusChange: AsyncFn;
  SCardCancel: AsyncFn;
  SCardConnect: AsyncFn;
  SCardReconnect: AsyncFn;
  SCardDisconnect: AsyncFn;
  SCardBeginTransaction: AsyncFn;
  SCardEndTransaction: AsyncFn;
  SCardStatus: AsyncFn;
  SCardTransmit: AsyncFn;
}

let shared: PcscLibrary | null = null;

/**
 * The process-wide binding (loaded on first use, so importing this module
 * never fails on a machine without pcsc-lite). Throws PCSC_UNAVAILABLE when
 * libpcsclite.so.1 cannot be loaded.
 */
export function pcscLibrary(): PcscLibrary {
  shared ??= loadPcscLibrary();
  return shared;
}

/**
 * koffi is loaded on demand (CommonJS entry, synchronous), so that cacard
 * without the relay never needs its native binary; a missing package is
 * PCSC_UNAVAILABLE like a missing libpcsclite.
 */
function loadKoffi(): KoffiModule {
  try {
    return createRequire(import.meta.url)("koffi") as KoffiModule;
  } catch {
    throw new PcscError(
      "PC/SC relay",
      SCARD_RV.E_NO_SERVICE,
      PCSC_ERROR_CODE.UNAVAILABLE,
      "the optional npm package koffi is not installed; install it with `npm install koffi`",
    );
  }
}

export function loadPcscLibrary(path: string = PCSCLITE_SONAME): PcscLibrary {
  const koffi = loadKoffi();
  let lib: ReturnType<KoffiModule["load"]>;
  try {
    lib = koffi.load(path);
  } catch {
    throw new PcscError(
      "PC/SC relay",
      SCARD_RV.E_NO_SERVICE,
      PCSC_ERROR_CODE.UNAVAILABLE,
      `cannot load ${path}; install pcsc-lite's client library (Debian: libpcsclite1)`,
    );
  }
  // koffi registers struct types per process under these names (loaded once: see pcscLibrary).
  const IO_REQUEST = koffi.struct("SCARD_IO_REQUEST", {
    dwProtocol: "unsigned long",
    cbPciLength: "unsigned long",
  });
  koffi.struct("SCARD_READERSTATE", {
    szReader: "const char *",
    pvUserData: "void *",
    dwCurrentState: "unsigned long",
    dwEventState: "unsigned long",
    cbAtr: "unsigned long",
    rgbAtr: koffi.array("uint8_t", MAX_ATR_SIZE, "Typed"),
  });
  const ioRequestSize = koffi.sizeof(IO_REQUEST);

  const fn = (proto: string) => lib.func(proto) as unknown as AsyncFn;
  const b: Bound = {
    SCardEstablishContext: fn("long SCardEstablishContext(unsigned long dwScope, void *r1, void *r2, _Out_ long *phContext)"),
    SCardReleaseContext: fn("long SCardReleaseContext(long hContext)"),
    SCardIsValidContext: fn("long SCardIsValidContext(long hContext)"),
    SCardListReaders: fn("long SCardListReaders(long hContext, const char *mszGroups, uint8_t *mszReaders, _Inout_ unsigned long *pcchReaders)"),
    SCardGetStatusChange: fn("long SCardGetStatusChange(long hContext, unsigned long dwTimeout, _Inout_ SCARD_READERSTATE *rgReaderStates, unsigned long cReaders)"),
    SCardCancel: fn("long SCardCancel(long hContext)"),
    SCardConnect: fn("long SCardConnect(long hContext, const char *szReader, unsigned long dwShareMode, unsigned long dwPreferredProtocols, _Out_ long *phCard, _Out_ unsigned long *pdwActiveProtocol)"),
    SCardReconnect: fn("long SCardReconnect(long hCard, unsigned long dwShareMode, unsigned long dwPreferredProtocols, unsigned long dwInitialization, _Out_ unsigned long *pdwActiveProtocol)"),
    SCardDisconnect: fn("long SCardDisconnect(long hCard, unsigned long dwDisposition)"),
    SCardBeginTransaction: fn("long SCardBeginTransaction(long hCard)"),
    SCardEndTransaction: fn("long SCardEndTransaction(long hCard, unsigned long dwDisposition)"),
    SCardStatus: fn("long SCardStatus(long hCard, uint8_t *szReaderName, _Inout_ unsigned long *pcchReaderLen, _Out_ unsigned long *pdwState, _Out_ unsigned long *pdwProtocol, uint8_t *pbAtr, _Inout_ unsigned long *pcbAtrLen)"),
    SCardTransmit: fn("long SCardTransmit(long hCard, const SCARD_IO_REQUEST *pioSendPci, const uint8_t *pbSendBuffer, unsigned long cbSendLength, SCARD_IO_REQUEST *pioRecvPci, uint8_t *pbRecvBuffer, _Inout_ unsigned long *pcbRecvLength)"),
  };

  /** Runs one call on a worker thread; resolves with the normalised return value. */
  const run = (f: AsyncFn, ...args: unknown[]): Promise<number> =>
    new Promise((resolve, reject) => {
      f.async(...args, (err: unknown, rv: unknown) => (err ? reject(err) : resolve(Number(rv) >>> 0)));
    });
  /** Same, but a non-success rv becomes a PcscError. */
  const check = async (operation: string, f: AsyncFn, ...args: unknown[]): Promise<void> => {
    const rv = await run(f, ...args);
    if (rv !== SCARD_RV.S_SUCCESS) throw new PcscError(operation, rv);
  };

  return {
    async establishContext() {
      const out = [0];
      await check("SCardEstablishContext", b.SCardEstablishContext, SCARD_SCOPE_SYSTEM, null, null, out);
      return Number(out[0]);
    },

    releaseContext(context) {
      // Synchronous on purpose: pcsc-lite answers locally after closing the socket.
      b.SCardReleaseContext(context);
    },

    isValidContext(context) {
      return (Number(b.SCardIsValidContext(context)) >>> 0) === SCARD_RV.S_SUCCESS;
    },

    async listReaders(context) {
      for (let attempt = 0; attempt < LIST_READERS_ATTEMPTS; attempt++) {
        const size = [0];
        let rv = await run(b.SCardListReaders, context, null, null, size);
        if (rv === SCARD_RV.E_NO_READERS_AVAILABLE) return [];
        if (rv !== SCARD_RV.S_SUCCESS) throw new PcscError("SCardListReaders", rv);
        const buffer = new Uint8Array(Number(size[0]));
        rv = await run(b.SCardListReaders, context, null, buffer, size);
        if (rv === SCARD_RV.E_INSUFFICIENT_BUFFER) continue;
        if (rv === SCARD_RV.E_NO_READERS_AVAILABLE) return [];
        if (rv !== SCARD_RV.S_SUCCESS) throw new PcscError("SCardListReaders", rv);
        return splitMultiString(buffer.subarray(0, Number(size[0])));
      }
      throw new PcscError("SCardListReaders", SCARD_RV.E_INSUFFICIENT_BUFFER);
    },

    async getStatusChange(context, timeoutMs, states) {
      const io = states.map((s) => ({
        szReader: s.reader,
        pvUserData: null,
        dwCurrentState: s.currentState >>> 0,
        dwEventState: 0,
        cbAtr: 0,
        rgbAtr: new Uint8Array(MAX_ATR_SIZE),
      }));
      const rv = await run(b.SCardGetStatusChange, context, timeoutMs >>> 0, io, io.length);
      if (rv === SCARD_RV.S_SUCCESS) {
        io.forEach((entry, i) => {
          states[i].eventState = Number(entry.dwEventState) >>> 0;
          const n = Math.min(Number(entry.cbAtr), MAX_ATR_SIZE);
          states[i].atr = Uint8Array.from((entry.rgbAtr as Uint8Array).subarray(0, n));
        });
      }
      return rv;
    },

    cancel(context) {
      return Number(b.SCardCancel(context)) >>> 0;
    },

    async connect(context, reader, shareMode, protocols) {
      const handle = [0];
      const protocol = [0];
      await check(`SCardConnect(${reader})`, b.SCardConnect, context, reader, shareMode, protocols, handle, protocol);
      return { handle: Number(handle[0]), protocol: Number(protocol[0]) };
    },

    async reconnect(handle, shareMode, protocols, initialization) {
      const protocol = [0];
      await check("SCardReconnect", b.SCardReconnect, handle, shareMode, protocols, initialization, protocol);
      return Number(protocol[0]);
    },

    async disconnect(handle, disposition) {
      await check("SCardDisconnect", b.SCardDisconnect, handle, disposition);
    },

    async beginTransaction(handle) {
      await check("SCardBeginTransaction", b.SCardBeginTransaction, handle);
    },

    async endTransaction(handle, disposition) {
      await check("SCardEndTransaction", b.SCardEndTransaction, handle, disposition);
    },

    async status(handle) {
      const name = new Uint8Array(STATUS_NAME_CAPACITY);
      const nameLength = [name.length];
      const state = [0];
      const protocol = [0];
      const atr = new Uint8Array(MAX_ATR_SIZE);
      const atrLength = [atr.length];
      await check("SCardStatus", b.SCardStatus, handle, name, nameLength, state, protocol, atr, atrLength);
      return {
        reader: splitMultiString(name.subarray(0, Number(nameLength[0])))[0] ?? "",
        state: Number(state[0]),
        protocol: Number(protocol[0]),
        atr: atr.slice(0, Number(atrLength[0])),
      };
    },

    async transmit(handle, protocol, command, maxResponse = RECEIVE_CAPACITY) {
      if (protocol !== SCARD_PROTOCOL_T0 && protocol !== SCARD_PROTOCOL_T1) {
        throw new PcscError("SCardTransmit", SCARD_RV.E_PROTO_MISMATCH, undefined, `protocol ${protocol}`);
      }
      const sendPci = { dwProtocol: protocol, cbPciLength: ioRequestSize };
      const response = new Uint8Array(maxResponse);
      const length = [response.length];
      await check("SCardTransmit", b.SCardTransmit, handle, sendPci, command, command.length, null, response, length);
      return response.slice(0, Number(length[0]));
    },
  };
}

/** A PC/SC multi-string ("a\0b\0\0") as a list; empty entries dropped. */
export function splitMultiString(bytes: Uint8Array): string[] {
  return new TextDecoder("utf-8").decode(bytes).split("\0").filter((s) => s.length > 0);
}
