/**
 * A virtual card: the applet set, per-channel selection, the card-global
 * GET RESPONSE buffer, login state, and the ISO 7816 layer for what applets
 * defer (libcacard vcard.c + card_7816.c vcard7816_vm_process_apdu).
 *
 * transmit() never rejects for card-level problems: every CardError becomes a
 * status word at this one boundary. Commands are answered one at a time, in
 * order; an applet that answers synchronously costs no extra turn of the
 * event loop, one that waits on its token (a signature, a login) holds the
 * commands queued behind it.
 */
import { parseCommandApdu, ClassKind, SHORT_LE_MAX, type CommandApdu } from "../iso7816/apdu.js";
import { CardError } from "../iso7816/card-error.js";
import { SW, swBytes, type StatusWord } from "../iso7816/status.js";
import { INS, PIN_INS } from "../iso7816/ins.js";
import { bytesEqual } from "../bytes.js";
import { platformProvider, type Platform } from "../platform.js";
import type { LoginResult, PrivateKey, Token, TokenSession } from "../token/types.js";
import { CAC_ATR } from "./atr.js";
import { DEFER, CompatBits, type Applet, type AppletResponse, type AppletResult, type CardServices } from "./applet.js";
import { PinState, type PinCheck, type PinPolicy, type PinStatus } from "./pin.js";
import type { SmartCard } from "./reader.js";

/** libcacard MAX_CHANNEL: channel numbers come from CLA bits 0-1. */
export const MAX_CHANNELS = 4;
/** GET RESPONSE reports at most 256 remaining bytes (61 00). */
const GET_RESPONSE_CHUNK = 256;
/** VERIFY status with the Windows compat bit pretends three tries (libcacard 2.7). */
const WINDOWS_PRETEND_TRIES = 3;
/** Bytes kept by redactPins: CLA INS P1 P2 P3. */
const REDACT_FROM = 5;
/** Largest GET CHALLENGE answer (one short Le). */
export const MAX_CHALLENGE_LENGTH = 256;

export interface CardOptions {
  readonly applets: readonly Applet[];
  readonly keyStore: Token;
  /** Randomness and SHA-256; default: platformProvider.get(). */
  readonly platform?: Platform;
  readonly atr?: Uint8Array;
  readonly serial?: Uint8Array;
  /**
   * The applet selected on channel 0 after every reset (SP 800-73-4 Part 2
   * §3.1: a PIV-only card selects PIV by default). Default: none, as libcacard.
   */
  readonly selectedAtReset?: Applet;
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
  /** Called after every exchange (tracing). PIN data is already redacted. */
  readonly trace?: (command: Uint8Array, response: Uint8Array) => void;
}

interface Pending {
  readonly data: Uint8Array;
  offset: number;
  /** ISO rule for GET RESPONSE: an absent Le means 256 (see Applet.responseChaining). */
  readonly iso: boolean;
}

const EMPTY = new Uint8Array(0);

function withSw(data: Uint8Array, sw: StatusWord): Uint8Array {
  const out = new Uint8Array(data.length + 2);
  out.set(data, 0);
  out[data.length] = sw >> 8;
  out[data.length + 1] = sw & 0xff;
  return out;
}

/**
 * Applets and tokens answer with native promises (async functions); an
 * instanceof test is far cheaper on the hot path than probing for `.then`
 * on every Uint8Array.
 */
function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return value instanceof Promise;
}

export class VirtualCard implements CardServices, SmartCard {
  readonly atr: Uint8Array;
  readonly serial: Uint8Array;
  readonly keyStore: Token;
  readonly applets: readonly Applet[];
  readonly platform: Platform;

  /** Applets by AID length; a card has about 17, so a short scan beats hashing a key. */
  readonly #byAidLength = new Map<number, Applet[]>();
  readonly #current: (Applet | null)[] = new Array(MAX_CHANNELS).fill(null);
  #pending: Pending | null = null;
  #session: TokenSession | null = null;
  /** A session opened without the PIN (Token.openWithoutPin), kept apart from the login. */
  #pinless: TokenSession | null = null;
  readonly #selectedAtReset: Applet | null;
  #compat = 0;
  /** The last queued answer while one is still being worked out; null when idle. */
  #tail: Promise<unknown> | null = null;
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
    this.platform = options.platform ?? platformProvider.get();
    this.atr = options.atr ?? CAC_ATR;
    this.serial = options.serial ?? EMPTY;
    this.#pin = new PinState(options.pinPolicy);
    this.#trace = options.trace;
    this.#getChallenge = !options.libcacardStrict;
    this.#warn = options.warn;
    this.#selectedAtReset = options.selectedAtReset ?? null;
    this.#current[0] = this.#selectedAtReset;
  }

  // ---- power -------------------------------------------------------------

  /** Warm reset: clears selections and the pending response, logs out. */
  reset(): Promise<Uint8Array> {
    return this.#enqueue(() => this.#reset());
  }

  /** Cold reset (the card has no more state than a warm one clears). */
  powerOn(): Promise<Uint8Array> {
    return this.reset();
  }

  async powerOff(): Promise<void> {
    await this.reset();
  }

  #reset(): Uint8Array | Promise<Uint8Array> {
    for (const applet of this.#current) applet?.onDeselect?.();
    this.#current.fill(null);
    if (this.#selectedAtReset !== null) {
      this.#current[0] = this.#selectedAtReset;
      this.#selectedAtReset.onSelect?.();
    }
    this.#pending = null;
    // libcacard vcard_emul_reset: PK11_Logout.
    const session = this.#session;
    this.#session = null;
    const out = session?.logout?.();
    return isPromise(out) ? out.then(() => this.atr, () => this.atr) : this.atr;
  }

  // ---- card services for applets -----------------------------------------

  setCompat(bits: number): void {
    this.#compat |= bits;
  }

  isLoggedIn(): boolean {
    return !this.keyStore.loginRequired || this.#session !== null;
  }

  async privateKey(index: number): Promise<PrivateKey> {
    let session = this.#session;
    if (session === null) {
      if (this.keyStore.loginRequired) throw new CardError(SW.CONDITION_NOT_SATISFIED, "not logged in");
      // A token without a PIN opens on first use (NSS: no password set).
      const result = await this.keyStore.login();
      if (!result.ok) throw new CardError(SW.CONDITION_NOT_SATISFIED, "token refused to open");
      session = this.#session = result.session;
    }
    const key = session.key(index);
    if (key === null) throw new CardError(SW.CONDITION_NOT_SATISFIED, "no private key");
    return key;
  }

  async privateKeyWithoutPin(index: number): Promise<PrivateKey> {
    if (this.#session !== null || !this.keyStore.loginRequired) return this.privateKey(index);
    if (this.#pinless === null && this.keyStore.openWithoutPin) {
      const result = await this.keyStore.openWithoutPin();
      if (result.ok) this.#pinless = result.session;
    }
    const key = this.#pinless?.key(index) ?? null;
    if (key === null) throw new CardError(SW.SECURITY_NOT_SATISFIED, "this key needs the PIN here");
    return key;
  }

  pinStatus(): PinStatus {
    return { verified: this.isLoggedIn(), blocked: this.#pin.blocked, triesLeft: this.#pin.triesLeft };
  }

  async logout(): Promise<void> {
    const session = this.#session;
    this.#session = null;
    await session?.logout?.();
  }

  /**
   * One PIN attempt against the token, counted (PinState). libcacard logs out
   * before every attempt (vcard_emul_login), so a wrong PIN also ends a session.
   */
  checkPin(pin: Uint8Array): PinCheck | Promise<PinCheck> {
    if (this.#pin.blocked) return BLOCKED;
    const previous = this.#session;
    this.#session = null;
    let result: LoginResult | Promise<LoginResult>;
    try {
      const out = previous?.logout?.();
      result = isPromise(out) ? out.then(() => this.keyStore.login(pin)) : this.keyStore.login(pin);
    } catch (e) {
      return this.#loginFault(e);
    }
    if (isPromise(result)) return result.then((r) => this.#loginResult(r), (e) => this.#loginFault(e));
    return this.#loginResult(result);
  }

  async changePin(oldPin: Uint8Array, newPin: Uint8Array): Promise<PinCheck | "unsupported"> {
    const change = this.keyStore.changePin;
    if (change === undefined) return "unsupported";
    const check = await this.checkPin(oldPin);
    if (!check.ok) return check;
    if (!(await change.call(this.keyStore, newPin))) throw new CardError(SW.WRONG_PARAMETERS_IN_DATA, "new PIN refused");
    return check;
  }

  readDataObject(_label: string): Uint8Array | null {
    return null; // soft key stores hold no CKO_DATA objects (libcacard: empty files)
  }

  // ---- the APDU boundary -------------------------------------------------

  /** Processes one command APDU; resolves to response data + SW1 SW2. */
  transmit(command: Uint8Array): Promise<Uint8Array> {
    const answer = this.answer(command);
    return isPromise(answer) ? answer : Promise.resolve(answer);
  }

  /**
   * transmit() without the promise when the card knows the answer at once
   * (every CAC command but a SIGN or a login on a token that works
   * asynchronously): the in-process hot path, where a promise per APDU would
   * cost a fifth of a SELECT. Otherwise, or while earlier commands are still
   * being answered, a promise, in the same order as transmit().
   */
  answer(command: Uint8Array): Uint8Array | Promise<Uint8Array> {
    if (this.#tail === null) {
      const answer = this.#exchange(command);
      return isPromise(answer) ? this.#track(answer) : answer;
    }
    return this.#enqueue(() => this.#exchange(command));
  }

  #enqueue<T>(work: () => T | Promise<T>): Promise<T> {
    if (this.#tail === null) {
      const now = work();
      return isPromise(now) ? this.#track(now) : Promise.resolve(now);
    }
    // The queued work never rejects (faults are status words), but a bug in
    // it must not wedge the queue: the next one runs whatever happened.
    return this.#track(this.#tail.then(work, work));
  }

  #track<T>(answer: Promise<T>): Promise<T> {
    this.#tail = answer;
    const clear = () => {
      if (this.#tail === answer) this.#tail = null;
    };
    answer.then(clear, clear);
    return answer;
  }

  #exchange(command: Uint8Array): Uint8Array | Promise<Uint8Array> {
    let response: Uint8Array | Promise<Uint8Array>;
    try {
      response = this.#process(parseCommandApdu(command));
    } catch (e) {
      response = this.#fault(e);
    }
    if (isPromise(response)) {
      return response.then(
        (r) => this.#traced(command, r),
        (e) => this.#traced(command, this.#fault(e)),
      );
    }
    // Inlined #traced: this is the synchronous hot path.
    if (this.#trace !== undefined) this.#trace(redactPins(command), response);
    return response;
  }

  #traced(command: Uint8Array, response: Uint8Array): Uint8Array {
    if (this.#trace !== undefined) this.#trace(redactPins(command), response);
    return response;
  }

  #fault(e: unknown): Uint8Array {
    if (e instanceof CardError) return swBytes(e.sw);
    // A bug or a host fault must not take the reader down with it: answer
    // 6F00 (no precise diagnosis), as libcacard does for general failures.
    this.#warn?.(`internal error answered with 6F00: ${(e as Error)?.message ?? e}`);
    return swBytes(SW.GENERAL_ERROR);
  }

  #process(apdu: CommandApdu): Uint8Array | Promise<Uint8Array> {
    // libcacard 2.5.3: a pending response not collected is silently dropped.
    if (this.#pending !== null && apdu.ins !== INS.GET_RESPONSE) this.#pending = null;
    if (apdu.ins === INS.GET_CHALLENGE && this.#getChallenge) return this.#challenge(apdu);
    const applet = this.#current[apdu.channel];
    if (applet) {
      let result;
      try {
        result = applet.process(apdu, this);
      } catch (e) {
        if (e instanceof CardError) return swBytes(e.sw);
        throw e;
      }
      if (isPromise(result)) return result.then((r) => this.#afterApplet(apdu, r, applet));
      return this.#afterApplet(apdu, result, applet);
    }
    return this.#iso7816(apdu);
  }

  #afterApplet(apdu: CommandApdu, result: AppletResult, applet: Applet): Uint8Array | Promise<Uint8Array> {
    return result === DEFER ? this.#iso7816(apdu) : this.#respond(apdu, result, applet);
  }

  /**
   * libcacard's response builder: data longer than Le (absent Le = 0) is kept
   * for GET RESPONSE and only 61xx is returned. No truncation, no 6Cxx here.
   * Applets with ISO response chaining get up to Ne bytes (absent Le = 256)
   * with 61xx for the rest (ISO 7816-4 §5.1.3).
   */
  #respond(apdu: CommandApdu, response: AppletResponse, applet: Applet): Uint8Array {
    const { data, sw } = response;
    if (applet.responseChaining === "iso") {
      const ne = apdu.hasLe ? apdu.le : SHORT_LE_MAX;
      if (data.length <= ne) return data.length === 0 ? swBytes(sw) : withSw(data, sw);
      this.#pending = { data, offset: ne, iso: true };
      return withSw(data.subarray(0, ne), remainingSw(data.length - ne));
    }
    if (data.length > apdu.le) {
      this.#pending = { data, offset: 0, iso: false };
      return swBytes(SW.RESPONSE_BYTES | (data.length > 0xff ? 0 : data.length));
    }
    return data.length === 0 ? swBytes(sw) : withSw(data, sw);
  }

  #iso7816(apdu: CommandApdu): Uint8Array | Promise<Uint8Array> {
    if (apdu.classKind !== ClassKind.Iso) return swBytes(SW.COMMAND_NOT_SUPPORTED);
    if (apdu.secureMessaging !== 0) return swBytes(SW.SECURE_NOT_SUPPORTED);
    switch (apdu.ins) {
      case INS.SELECT:
        return this.#select(apdu);
      case INS.VERIFY: {
        const sw = this.#verify(apdu);
        return isPromise(sw) ? sw.then(swBytes) : swBytes(sw);
      }
      case INS.GET_RESPONSE:
        return this.#getResponse(apdu);
      default:
        // MANAGE CHANNEL, GET CHALLENGE, READ BINARY, GET DATA, ... (card_7816.c vcard7816_vm_process_apdu)
        return swBytes(SW.COMMAND_NOT_SUPPORTED);
    }
  }

  /**
   * GET CHALLENGE (ISO 7816-4 §11.6.3), which libcacard lacks (6D00/6900):
   * OpenSC's CAC driver advertises a RNG and loops on 00 84 00 00 08, so
   * without it `pkcs11-tool --test` reports C_GenerateRandom errors.
   */
  #challenge(apdu: CommandApdu): Uint8Array {
    if (apdu.classKind !== ClassKind.Iso) return swBytes(SW.COMMAND_NOT_SUPPORTED);
    if (apdu.secureMessaging !== 0) return swBytes(SW.SECURE_NOT_SUPPORTED);
    if (apdu.p1 !== 0 || apdu.p2 !== 0) return swBytes(SW.P1_P2_INCORRECT);
    if (apdu.data.length !== 0 || !apdu.hasLe || apdu.le > MAX_CHALLENGE_LENGTH) return swBytes(SW.WRONG_LENGTH);
    return withSw(this.platform.randomBytes(apdu.le), SW.SUCCESS);
  }

  #select(apdu: CommandApdu): Uint8Array {
    if (apdu.p1 !== 0x04) return swBytes(SW.FUNCTION_NOT_SUPPORTED);
    const applet =
      this.#byAidLength.get(apdu.data.length)?.find((a) => bytesEqual(a.aid, apdu.data)) ?? this.#partialMatch(apdu.data);
    const previous = this.#current[apdu.channel];
    if (applet === null) {
      // SP 800-73-4 Part 2 §3.1.1: an unknown AID leaves PIV selected
      // (yubico-piv-tool probes the YubiKey OTP applet and carries on).
      if (previous?.partialSelection) return swBytes(SW.FILE_NOT_FOUND);
      // Quirk kept: a failed SELECT leaves the channel with nothing selected.
      this.#current[apdu.channel] = null;
      previous?.onDeselect?.();
      return swBytes(SW.FILE_NOT_FOUND);
    }
    if (previous !== applet) previous?.onDeselect?.();
    this.#current[apdu.channel] = applet;
    applet.onSelect?.();
    // P2 (e.g. 0C, "no FCI") is ignored, as libcacard does.
    return this.#respond(apdu, { data: applet.fci ?? fciStub(apdu.data), sw: SW.SUCCESS }, applet);
  }

  /** An applet that accepts `aid` as a right-truncated form of its own (ISO 7816-4 §5.3.1). */
  #partialMatch(aid: Uint8Array): Applet | null {
    for (const applet of this.applets) {
      const rule = applet.partialSelection;
      if (rule && aid.length >= rule.minLength && aid.length < applet.aid.length) {
        if (bytesEqual(applet.aid.subarray(0, aid.length), aid)) return applet;
      }
    }
    return null;
  }

  #getResponse(apdu: CommandApdu): Uint8Array {
    const pending = this.#pending;
    if (pending === null) return swBytes(SW.DATA_NOT_FOUND);
    const remaining = pending.data.length - pending.offset;
    const n = Math.min(remaining, pending.iso && !apdu.hasLe ? SHORT_LE_MAX : apdu.le);
    const chunk = pending.data.subarray(pending.offset, pending.offset + n);
    pending.offset += n;
    const next = Math.min(GET_RESPONSE_CHUNK, remaining - n);
    if (next === 0) this.#pending = null;
    return withSw(chunk, next ? SW.RESPONSE_BYTES | (next & 0xff) : SW.SUCCESS);
  }

  /** VERIFY (ISO 7816-4 §11.5.6 / libcacard §2.5): the PIN is the token's login. */
  #verify(apdu: CommandApdu): StatusWord | Promise<StatusWord> {
    if (apdu.p1 !== 0 || apdu.p2 !== 0) return SW.WRONG_PARAMETERS;
    if (apdu.data.length === 0) return this.#verifyStatus();
    const pin = pinFromVerifyData(apdu.data);
    const check = this.checkPin(pin);
    if (isPromise(check)) {
      return check.then(
        (c) => (pin.fill(0), cacVerifySw(c)),
        (e) => {
          pin.fill(0);
          throw e;
        },
      );
    }
    pin.fill(0);
    return cacVerifySw(check);
  }

  #loginResult(result: LoginResult): PinCheck {
    if (result.ok) {
      this.#session = result.session;
      this.#pin.succeeded();
      return PIN_OK;
    }
    if (result.reason === "locked") return BLOCKED;
    let left = this.#pin.failed();
    // A token that counts (PKCS#11 CKF_USER_PIN_*) is believed when it is stricter.
    if (result.triesLeft !== undefined) left = left === undefined ? result.triesLeft : Math.min(left, result.triesLeft);
    return left === 0 ? BLOCKED : { ok: false, blocked: false, triesLeft: left };
  }

  /**
   * The PIN was right but a key could not be used (damaged, or not matching
   * its certificate): a failed login for the card, loud on the host.
   */
  #loginFault(e: unknown): PinCheck {
    this.#warn?.(`login failed: ${(e as Error)?.message ?? e}`);
    return this.#loginResult({ ok: false, reason: "wrong-pin" });
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

const PIN_OK: PinCheck = { ok: true };
const BLOCKED: PinCheck = { ok: false, blocked: true };

/** libcacard's VERIFY answers: 6985 for a wrong PIN without a counter, 63Cx / 6983 with one. */
function cacVerifySw(check: PinCheck): StatusWord {
  if (check.ok) return SW.SUCCESS;
  if (check.blocked) return SW.AUTH_METHOD_BLOCKED;
  if (check.triesLeft === undefined) return SW.CONDITION_NOT_SATISFIED;
  return SW.WARNING_COUNTER | Math.min(check.triesLeft, 15);
}

/** 61xx for what GET RESPONSE still holds (00: 256 or more). */
function remainingSw(remaining: number): StatusWord {
  return SW.RESPONSE_BYTES | (remaining > 0xff ? 0 : remaining);
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

/**
 * Copies a command for tracing with the data of every PIN-carrying command
 * (PIN_INS: VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER and the other
 * ISO 7816-4 §11.5 verification commands, in both their even and odd forms)
 * replaced by '*' (0x2A). Decided by INS alone, whatever the class byte, the
 * applet selected or the card's answer: a card that does not know the command
 * (6D00) was still sent the PIN, and so was one behind a chain (CLA bit 5).
 */
export function redactPins(command: Uint8Array): Uint8Array {
  if (command.length <= REDACT_FROM || !PIN_INS.has(command[1])) return command;
  // Everything after P3 is blanked, Le included: a malformed or oddly encoded
  // command (a "case 2E" whose Le bytes are PIN digits) must not leak either.
  const copy = command.slice();
  copy.fill(0x2a, REDACT_FROM);
  return copy;
}
