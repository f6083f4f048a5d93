/**
 * A virtual card: the applet set, per-channel selection, the card-global
 * GET RESPONSE buffer, login state, and the ISO 7816 layer for what applets
 * defer (libcacard vcard.c + card_7816.c vcard7816_vm_process_apdu).
 *
 * transmit() never throws for card-level problems: every CardError becomes a
 * status word at this one boundary.
 */
import { randomBytes } from "node:crypto";
import { parseCommandApdu, ClassKind, type CommandApdu } from "../iso7816/apdu.js";
import { CardError } from "../iso7816/card-error.js";
import { SW, type StatusWord } from "../iso7816/status.js";
import { INS } from "../iso7816/ins.js";
import type { KeyRing, KeyStore } from "../../tokens/types.js";
import { KeyOperationError } from "../../tokens/types.js";
import { CAC_ATR } from "./atr.js";
import { DEFER, CompatBits, type Applet, type AppletResponse, type CardServices } from "./applet.js";
import { PinState, type PinPolicy } from "./pin.js";

/** libcacard MAX_CHANNEL: channel numbers come from CLA bits 0-1. */
export const MAX_CHANNELS = 4;
/** GET RESPONSE reports at most 256 remaining bytes (61 00). */
const GET_RESPONSE_CHUNK = 256;
/** VERIFY status with the Windows compat bit pretends three tries (libcacard 2.7). */
const WINDOWS_PRETEND_TRIES = 3;
/** Largest GET CHALLENGE answer (one short Le). */
export const MAX_CHALLENGE_LENGTH = 256;

export interface CardOptions {
  readonly applets: readonly Applet[];
  readonly keyStore: KeyStore;
  readonly atr?: Uint8Array;
  readonly serial?: Uint8Array;
  /** Opt-in retry counter; undefined keeps libcacard's "no counter" behaviour. */
  readonly pinPolicy?: PinPolicy;
  /**
   * Answer exactly as libcacard 2.8 does, turning off cacard's deliberate
   * differences (GET CHALLENGE; see docs/compatibility.md). Golden-transcript
   * replays use it.
   */
  readonly libcacardStrict?: boolean;
  /**
   * Host-side problems the card answered with a status word but the operator
   * should hear about (a damaged key found at login, an internal fault).
   * Never given secrets.
   */
  readonly warn?: (message: string) => void;
  /** Called after every exchange (tracing). VERIFY data is already redacted. */
  readonly trace?: (command: Uint8Array, response: Uint8Array) => void;
}

interface Pending {
  readonly data: Uint8Array;
  offset: number;
}

const EMPTY = new Uint8Array(0);

function withSw(data: Uint8Array, sw: StatusWord): Uint8Array {
  const out = new Uint8Array(data.length + 2);
  out.set(data, 0);
  out[data.length] = sw >> 8;
  out[data.length + 1] = sw & 0xff;
  return out;
}

function swOnly(sw: StatusWord): Uint8Array {
  return Uint8Array.of(sw >> 8, sw & 0xff);
}

/** Exact AID match (libcacard vcard_find_applet): same length, same bytes, no prefixes. */
function sameAid(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class VirtualCard implements CardServices {
  readonly atr: Uint8Array;
  readonly serial: Uint8Array;
  readonly keyStore: KeyStore;
  readonly applets: readonly Applet[];

  /** Applets by AID length; a card has about 17, so a short scan beats hashing a key. */
  readonly #byAidLength = new Map<number, Applet[]>();
  readonly #current: (Applet | null)[] = new Array(MAX_CHANNELS).fill(null);
  #pending: Pending | null = null;
  #ring: KeyRing | null = null;
  #compat = 0;
  readonly #pin: PinState;
  readonly #trace?: (command: Uint8Array, response: Uint8Array) => void;
  readonly #getChallenge: boolean;
  readonly #warn?: (message: string) => void;

  constructor(options: CardOptions) {
    this.applets = options.applets;
    for (const applet of options.applets) {
      const list = this.#byAidLength.get(applet.aid.length) ?? [];
      list.push(applet);
      this.#byAidLength.set(applet.aid.length, list);
    }
    this.keyStore = options.keyStore;
    this.atr = options.atr ?? CAC_ATR;
    this.serial = options.serial ?? EMPTY;
    this.#pin = new PinState(options.pinPolicy);
    this.#trace = options.trace;
    this.#getChallenge = !options.libcacardStrict;
    this.#warn = options.warn;
  }

  // ---- power -------------------------------------------------------------

  /** Cold or warm reset: clears selections and the pending response, logs out. */
  reset(): Uint8Array {
    this.#current.fill(null);
    this.#pending = null;
    this.#ring = null; // libcacard vcard_emul_reset: PK11_Logout
    return this.atr;
  }

  powerOn(): Uint8Array {
    return this.reset();
  }

  powerOff(): void {
    this.reset();
  }

  // ---- card services for applets -----------------------------------------

  setCompat(bits: number): void {
    this.#compat |= bits;
  }

  get compat(): number {
    return this.#compat;
  }

  isLoggedIn(): boolean {
    return !this.keyStore.loginRequired || this.#ring !== null;
  }

  #keys(): KeyRing | null {
    if (this.#ring === null && !this.keyStore.loginRequired) this.#ring = this.keyStore.openKeys();
    return this.#ring;
  }

  rsaPrivate(index: number, input: Uint8Array): Uint8Array {
    const ring = this.#keys();
    if (ring === null) throw new CardError(SW.CONDITION_NOT_SATISFIED, "not logged in");
    const modulus = ring.modulusBytes(index);
    if (modulus === 0) throw new CardError(SW.CONDITION_NOT_SATISFIED, "no private key");
    if (input.length !== modulus) throw new CardError(SW.DATA_INVALID, "input is not the modulus length");
    let out: Uint8Array | null;
    try {
      out = ring.rsaPrivate(index, input);
    } catch (e) {
      if (e instanceof KeyOperationError) throw new CardError(SW.DATA_INVALID, e.message);
      throw e;
    }
    if (out === null) throw new CardError(SW.CONDITION_NOT_SATISFIED, "no private key");
    return out;
  }

  readDataObject(_label: string): Uint8Array | null {
    return null; // soft key stores hold no CKO_DATA objects (libcacard: empty files)
  }

  /** The applet selected on a channel (for tests and tools). */
  selected(channel = 0): Applet | null {
    return this.#current[channel] ?? null;
  }

  // ---- the APDU boundary -------------------------------------------------

  /** Processes one command APDU and returns response data + SW1 SW2. */
  transmit(command: Uint8Array): Uint8Array {
    let response: Uint8Array;
    try {
      response = this.#process(parseCommandApdu(command));
    } catch (e) {
      if (e instanceof CardError) response = swOnly(e.sw);
      else {
        // A bug or a host fault must not take the reader down with it: answer
        // 6F00 (no precise diagnosis), as libcacard does for general failures.
        this.#warn?.(`internal error answered with 6F00: ${(e as Error)?.message ?? e}`);
        response = swOnly(SW.GENERAL_ERROR);
      }
    }
    if (this.#trace) this.#trace(redactVerify(command), response);
    return response;
  }

  #process(apdu: CommandApdu): Uint8Array {
    // libcacard 2.5.3: a pending response not collected is silently dropped.
    if (this.#pending !== null && apdu.ins !== INS.GET_RESPONSE) this.#pending = null;
    if (apdu.ins === INS.GET_CHALLENGE && this.#getChallenge) return this.#challenge(apdu);
    const applet = this.#current[apdu.channel];
    if (applet) {
      let result;
      try {
        result = applet.process(apdu, this);
      } catch (e) {
        if (e instanceof CardError) return swOnly(e.sw);
        throw e;
      }
      if (result !== DEFER) return this.#respond(apdu, result);
    }
    return this.#iso7816(apdu);
  }

  /**
   * libcacard's response builder: data longer than Le (absent Le = 0) is kept
   * for GET RESPONSE and only 61xx is returned. No truncation, no 6Cxx here.
   */
  #respond(apdu: CommandApdu, response: AppletResponse): Uint8Array {
    const { data, sw } = response;
    if (data.length > apdu.le) {
      this.#pending = { data, offset: 0 };
      return swOnly(SW.RESPONSE_BYTES | (data.length > 0xff ? 0 : data.length));
    }
    return data.length === 0 ? swOnly(sw) : withSw(data, sw);
  }

  #iso7816(apdu: CommandApdu): Uint8Array {
    if (apdu.classKind !== ClassKind.Iso) return swOnly(SW.COMMAND_NOT_SUPPORTED);
    if (apdu.secureMessaging !== 0) return swOnly(SW.SECURE_NOT_SUPPORTED);
    switch (apdu.ins) {
      case INS.SELECT:
        return this.#select(apdu);
      case INS.VERIFY:
        return swOnly(this.#verify(apdu));
      case INS.GET_RESPONSE:
        return this.#getResponse(apdu);
      default:
        // MANAGE CHANNEL, GET CHALLENGE, READ BINARY, GET DATA, ... (§2.3)
        return swOnly(SW.COMMAND_NOT_SUPPORTED);
    }
  }

  /**
   * GET CHALLENGE (ISO 7816-4 §11.6.3), which libcacard lacks (6D00/6900):
   * OpenSC's CAC driver advertises a RNG and loops on 00 84 00 00 08, so
   * without it `pkcs11-tool --test` reports C_GenerateRandom errors.
   */
  #challenge(apdu: CommandApdu): Uint8Array {
    if (apdu.classKind !== ClassKind.Iso) return swOnly(SW.COMMAND_NOT_SUPPORTED);
    if (apdu.secureMessaging !== 0) return swOnly(SW.SECURE_NOT_SUPPORTED);
    if (apdu.p1 !== 0 || apdu.p2 !== 0) return swOnly(SW.P1_P2_INCORRECT);
    if (apdu.data.length !== 0 || !apdu.hasLe || apdu.le > MAX_CHALLENGE_LENGTH) return swOnly(SW.WRONG_LENGTH);
    return withSw(new Uint8Array(randomBytes(apdu.le)), SW.SUCCESS);
  }

  #select(apdu: CommandApdu): Uint8Array {
    if (apdu.p1 !== 0x04) return swOnly(SW.FUNCTION_NOT_SUPPORTED);
    const applet = this.#byAidLength.get(apdu.data.length)?.find((a) => sameAid(a.aid, apdu.data)) ?? null;
    // Quirk kept: a failed SELECT leaves the channel with nothing selected.
    this.#current[apdu.channel] = applet;
    if (applet === null) return swOnly(SW.FILE_NOT_FOUND);
    applet.onSelect?.();
    // P2 (e.g. 0C, "no FCI") is ignored, as libcacard does.
    return this.#respond(apdu, { data: applet.fci ?? fciStub(apdu.data), sw: SW.SUCCESS });
  }

  #getResponse(apdu: CommandApdu): Uint8Array {
    const pending = this.#pending;
    if (pending === null) return swOnly(SW.DATA_NOT_FOUND);
    const remaining = pending.data.length - pending.offset;
    const n = Math.min(remaining, apdu.le);
    const chunk = pending.data.subarray(pending.offset, pending.offset + n);
    pending.offset += n;
    const next = Math.min(GET_RESPONSE_CHUNK, remaining - n);
    if (next === 0) this.#pending = null;
    return withSw(chunk, next ? SW.RESPONSE_BYTES | (next & 0xff) : SW.SUCCESS);
  }

  /** VERIFY (ISO 7816-4 §11.5.6 / libcacard §2.5): the PIN is the key store password. */
  #verify(apdu: CommandApdu): StatusWord {
    if (apdu.p1 !== 0 || apdu.p2 !== 0) return SW.WRONG_PARAMETERS;
    if (apdu.data.length === 0) return this.#verifyStatus();
    if (this.#pin.blocked) return SW.AUTH_METHOD_BLOCKED;
    const pin = pinFromVerifyData(apdu.data);
    this.#ring = null; // libcacard logs out before every attempt
    let ring: KeyRing | null;
    try {
      ring = this.keyStore.openKeys(pin);
    } catch (e) {
      // The password was right but a key could not be used (damaged, or not
      // matching its certificate): a failed login for the card, loud on the host.
      this.#warn?.(`login failed: ${(e as Error)?.message ?? e}`);
      ring = null;
    } finally {
      pin.fill(0);
    }
    if (ring !== null) {
      this.#ring = ring;
      this.#pin.succeeded();
      return SW.SUCCESS;
    }
    const left = this.#pin.failed();
    if (left === undefined) return SW.CONDITION_NOT_SATISFIED;
    return left === 0 ? SW.AUTH_METHOD_BLOCKED : SW.WARNING_COUNTER | Math.min(left, 15);
  }

  #verifyStatus(): StatusWord {
    if (this.isLoggedIn()) return SW.SUCCESS;
    if (this.#pin.blocked) return SW.AUTH_METHOD_BLOCKED;
    let count = this.#pin.triesLeft ?? -1;
    if (count === -1 && this.#compat & CompatBits.WINDOWS) count = WINDOWS_PRETEND_TRIES;
    if (count === -1) return SW.DATA_NOT_FOUND;
    return SW.WARNING_COUNTER | Math.min(count, 15);
  }
}

/** FCI stub for every applet but GP: 6F (Lc+4) 84 Lc <AID as sent> A5 00. */
function fciStub(aid: Uint8Array): Uint8Array {
  const out = new Uint8Array(aid.length + 6);
  out[0] = 0x6f;
  out[1] = aid.length + 4;
  out[2] = 0x84;
  out[3] = aid.length;
  out.set(aid, 4);
  out[4 + aid.length] = 0xa5;
  out[5 + aid.length] = 0x00;
  return out;
}

/**
 * The PIN as libcacard hands it to NSS: trailing FF padding ("CAC expanded
 * PINs") stripped, then read as a C string, so it ends at the first 00 byte
 * (measured: "12345678" 00 39 39 logs in with password 12345678).
 */
export function pinFromVerifyData(data: Uint8Array): Uint8Array {
  let end = data.length;
  while (end > 0 && data[end - 1] === 0xff) end--;
  const nul = data.subarray(0, end).indexOf(0x00);
  return data.slice(0, nul >= 0 ? nul : end);
}

/** Copies a command for tracing with VERIFY's PIN bytes replaced by '*' (0x2A). */
export function redactVerify(command: Uint8Array): Uint8Array {
  if (command.length <= 5 || command[1] !== INS.VERIFY) return command;
  const copy = command.slice();
  let start = 5;
  let end = copy.length;
  try {
    const { data } = parseCommandApdu(command);
    start = data.byteOffset - command.byteOffset;
    end = start + data.length;
  } catch {
    // malformed: blank everything after the header rather than guess
  }
  copy.fill(0x2a, start, end);
  return copy;
}
