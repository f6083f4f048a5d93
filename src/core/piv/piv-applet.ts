/**
 * The PIV card application (NIST SP 800-73-4 Part 2): GET DATA, VERIFY,
 * CHANGE REFERENCE DATA, RESET RETRY COUNTER and GENERAL AUTHENTICATE over the
 * card's token. Selection (prefix AIDs), GET RESPONSE and response chaining
 * are the card's (Applet.partialSelection, responseChaining "iso"); command
 * chaining (CLA 10) is assembled here.
 */
import type { CommandApdu } from "../iso7816/apdu.js";
import { CardError } from "../iso7816/card-error.js";
import { SW, type StatusWord } from "../iso7816/status.js";
import { concatBytes } from "../bytes.js";
import { DEFER, ok, type Applet, type AppletResult, type CardServices } from "../card/applet.js";
import type { PinCheck } from "../card/pin.js";
import type { Token } from "../token/types.js";
import { parseSingle, tlv } from "./ber-tlv.js";
import {
  CLA_CHAINING,
  CLA_PROPRIETARY,
  CLA_SECURE_MESSAGING,
  KeyRef,
  MAX_CHAINED_COMMAND,
  PIN_MAX_LENGTH,
  PIV_AID,
  PIV_DEFAULT_PIN_TRIES,
  PIV_INS,
  PIV_RID,
  PinRef,
  PivAlg,
  REFERENCE_PAIR_LENGTH,
  RETIRED_KEY_FIRST,
  RETIRED_KEY_LAST,
  SM_KEY,
  VERIFY_RESET_STATUS,
  type PivSlot,
} from "./constants.js";
import { DynTag, TAG_DYNAMIC_AUTH, authenticate, parseAuthTemplate, pivAlgorithmOf } from "./general-authenticate.js";
import {
  ObjectTag,
  PIN_PROTECTED_OBJECTS,
  applicationPropertyTemplate,
  certificateObject,
  chuid,
  discovery,
  keyHistory,
  pivOnlyCcc,
  printedInformation,
} from "./objects.js";
import { unpadPin } from "./pin-format.js";
import { CERT_OBJECT_OF_SLOT, type SlotMap } from "./slots.js";

/** GET DATA P1 P2: the current DF (Part 2 §3.1.2). */
const GET_DATA_P1P2 = 0x3fff;
/** The tag list element of GET DATA. */
const TAG_LIST = 0x5c;
/** Bytes a 9B challenge answers: a TDEA block (8) or an AES block (16). */
const CHALLENGE_BYTES: Readonly<Record<number, number>> = {
  [PivAlg.TDEA_3KEY_LEGACY]: 8,
  [PivAlg.TDEA_3KEY]: 8,
  [PivAlg.AES_128]: 16,
  [PivAlg.AES_192]: 16,
  [PivAlg.AES_256]: 16,
};
/** Instructions a chain may carry (Part 2 §3.2.4, §3.3.2). */
const CHAINABLE: ReadonlySet<number> = new Set([PIV_INS.GENERAL_AUTHENTICATE, PIV_INS.PUT_DATA]);

export interface PivAppletOptions {
  readonly token: Token;
  /** The card serial: CHUID FASC-N and GUID, CCC card id. */
  readonly serial: Uint8Array;
  readonly slots: SlotMap;
  /** The CCC object; default a PIV-only one (a dual card gives the CAC CCC's elements). */
  readonly ccc?: Uint8Array;
}

interface Chain {
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  readonly parts: Uint8Array[];
  length: number;
}

export class PivApplet implements Applet {
  readonly aid = PIV_AID;
  readonly name = "PIV";
  readonly fci: Uint8Array;
  readonly partialSelection = { minLength: PIV_RID.length };
  readonly responseChaining = "iso" as const;

  readonly #token: Token;
  readonly #slots: SlotMap;
  readonly #objects = new Map<number, Uint8Array>();
  /** PIV security status of the PIN (Part 2 §2.4.2): ends on deselect, reset, a wrong PIN, VERIFY FF. */
  #verified = false;
  /** "PIN always" for 9C (Part 1 §3.3.2): only the command right after a VERIFY may use it. */
  #justVerified = false;
  #chain: Chain | null = null;

  constructor(options: PivAppletOptions) {
    this.#token = options.token;
    this.#slots = options.slots;
    const algorithms = new Set<number>();
    for (const [slot, index] of options.slots) {
      const credential = options.token.credentials[index];
      this.#objects.set(CERT_OBJECT_OF_SLOT[slot], certificateObject(credential.certificate));
      const alg = pivAlgorithmOf(credential.algorithm);
      if (alg !== null) algorithms.add(alg);
    }
    this.fci = applicationPropertyTemplate([...algorithms]);
    this.#objects.set(ObjectTag.CHUID, chuid(options.serial));
    this.#objects.set(ObjectTag.CCC, options.ccc ?? pivOnlyCcc(options.serial));
    this.#objects.set(ObjectTag.DISCOVERY, discovery());
    this.#objects.set(ObjectTag.KEY_HISTORY, keyHistory());
    this.#objects.set(ObjectTag.PRINTED_INFORMATION, printedInformation(options.serial));
  }

  onDeselect(): void {
    this.#verified = false;
    this.#justVerified = false;
    this.#chain = null;
  }

  process(apdu: CommandApdu, card: CardServices): AppletResult | Promise<AppletResult> {
    const chained = (apdu.cla & CLA_CHAINING) !== 0;
    // PivApplet's rule for "PIN always": anything but VERIFY or a chain block ends it.
    const pinAlways = this.#justVerified;
    if (apdu.ins !== PIV_INS.VERIFY && !chained) this.#justVerified = false;
    if (apdu.cla & CLA_PROPRIETARY) return this.#abortChain(SW.CLA_NOT_SUPPORTED);
    if (apdu.cla & CLA_SECURE_MESSAGING) return this.#abortChain(SW.SECURE_NOT_SUPPORTED);
    const command = this.#assemble(apdu, chained);
    if (command === null) return ok(EMPTY);
    switch (command.ins) {
      case PIV_INS.SELECT:
      case PIV_INS.GET_RESPONSE:
        return DEFER; // the card's ISO layer
      case PIV_INS.GET_DATA:
        return this.#getData(command);
      case PIV_INS.VERIFY:
        return this.#verify(command, card);
      case PIV_INS.CHANGE_REFERENCE_DATA:
        return this.#changeReference(command, card);
      case PIV_INS.RESET_RETRY_COUNTER:
        return this.#resetRetryCounter(command);
      case PIV_INS.GENERAL_AUTHENTICATE:
        return this.#generalAuthenticate(command, card, pinAlways);
      case PIV_INS.PUT_DATA:
      case PIV_INS.GENERATE_ASYMMETRIC_KEY_PAIR:
        // Both need the 9B card management key (Part 2 §3.3), which this card
        // does not have: its keys and objects come from the token.
        throw new CardError(SW.SECURITY_NOT_SATISFIED, "no card management key");
      default:
        throw new CardError(SW.INS_CODE_INVALID);
    }
  }

  #abortChain(sw: StatusWord): never {
    this.#chain = null;
    throw new CardError(sw);
  }

  /**
   * Command chaining (ISO 7816-4 §5.1.1.1): blocks with CLA 1x are kept and
   * answered 9000; the last block (same INS P1 P2) gets the whole data. Any
   * other command drops a chain in progress (Part 2 §3: "without effect").
   */
  #assemble(apdu: CommandApdu, chained: boolean): CommandApdu | null {
    let chain = this.#chain;
    if (chain && (chain.ins !== apdu.ins || chain.p1 !== apdu.p1 || chain.p2 !== apdu.p2)) chain = this.#chain = null;
    if (!chained) {
      if (chain === null) return apdu;
      this.#chain = null;
      return { ...apdu, data: concatBytes(...chain.parts, apdu.data) };
    }
    if (!CHAINABLE.has(apdu.ins)) this.#abortChain(SW.CHAINING_NOT_SUPPORTED);
    chain ??= this.#chain = { ins: apdu.ins, p1: apdu.p1, p2: apdu.p2, parts: [], length: 0 };
    chain.length += apdu.data.length;
    if (chain.length > MAX_CHAINED_COMMAND) this.#abortChain(SW.WRONG_LENGTH);
    chain.parts.push(apdu.data.slice());
    return null;
  }

  /** GET DATA 00 CB 3F FF 5C L tag (Part 2 §3.1.2). */
  #getData(apdu: CommandApdu): AppletResult {
    if (((apdu.p1 << 8) | apdu.p2) !== GET_DATA_P1P2) throw new CardError(SW.P1_P2_INCORRECT);
    const tagBytes = parseSingle(apdu.data, TAG_LIST);
    if (tagBytes.length < 1 || tagBytes.length > 3) throw new CardError(SW.WRONG_PARAMETERS_IN_DATA, "tag length");
    const tag = tagBytes.reduce((t, b) => (t << 8) | b, 0);
    // PIN before existence (Part 2 §3.1.2; OpenSC calls the other order a card bug, CI_LEAKS_FILE_NOT_FOUND).
    if (PIN_PROTECTED_OBJECTS.has(tag) && !this.#verified) throw new CardError(SW.SECURITY_NOT_SATISFIED);
    const object = this.#objects.get(tag);
    if (object === undefined) throw new CardError(SW.FILE_NOT_FOUND);
    return ok(object);
  }

  /** VERIFY (Part 2 §3.2.1): P2 80 only; no data asks the status. */
  async #verify(apdu: CommandApdu, card: CardServices): Promise<AppletResult> {
    if (apdu.p1 !== 0x00 && apdu.p1 !== VERIFY_RESET_STATUS) throw new CardError(SW.P1_P2_INCORRECT);
    // No global PIN (the Discovery object says so) and the PUK only resets.
    if (apdu.p2 !== PinRef.PIV_PIN) throw new CardError(SW.DATA_NOT_FOUND);
    if (apdu.p1 === VERIFY_RESET_STATUS) {
      if (apdu.data.length !== 0) throw new CardError(SW.WRONG_PARAMETERS_IN_DATA);
      this.#verified = false;
      await card.logout();
      return ok(EMPTY);
    }
    if (apdu.data.length === 0) return this.#status(card);
    const pin = unpadPin(apdu.data);
    try {
      return this.#afterCheck(await card.checkPin(pin));
    } finally {
      pin.fill(0);
    }
  }

  /** 9000 when verified in this selection, else 63Cx or 6983 (Part 2 §3.2.1). */
  #status(card: CardServices): AppletResult {
    const status = card.pinStatus();
    if (this.#verified && status.verified) return ok(EMPTY);
    if (status.blocked) return statusOnly(SW.AUTH_METHOD_BLOCKED);
    return statusOnly(triesSw(status.triesLeft ?? PIV_DEFAULT_PIN_TRIES));
  }

  #afterCheck(check: PinCheck): AppletResult {
    this.#verified = check.ok;
    this.#justVerified = check.ok;
    if (check.ok) return ok(EMPTY);
    return statusOnly(check.blocked ? SW.AUTH_METHOD_BLOCKED : triesSw(check.triesLeft ?? 0));
  }

  /** CHANGE REFERENCE DATA 00 24 00 80 10 old new (Part 2 §3.2.2). */
  async #changeReference(apdu: CommandApdu, card: CardServices): Promise<AppletResult> {
    if (apdu.p1 !== 0x00) throw new CardError(SW.P1_P2_INCORRECT);
    if (apdu.p2 !== PinRef.PIV_PIN) throw new CardError(SW.DATA_NOT_FOUND); // no PUK, no global PIN
    if (apdu.data.length !== REFERENCE_PAIR_LENGTH) throw new CardError(SW.WRONG_PARAMETERS_IN_DATA);
    const oldPin = unpadPin(apdu.data.subarray(0, PIN_MAX_LENGTH));
    const newPin = unpadPin(apdu.data.subarray(PIN_MAX_LENGTH));
    try {
      const result = await card.changePin(oldPin, newPin);
      // The PIN is the database password: it cannot change behind the database's back.
      if (result === "unsupported") throw new CardError(SW.FUNCTION_NOT_SUPPORTED, "the PIN cannot change");
      return this.#afterCheck(result);
    } finally {
      oldPin.fill(0);
      newPin.fill(0);
    }
  }

  /**
   * RESET RETRY COUNTER (Part 2 §3.2.3) needs the PUK. cacard has none, so it
   * answers as a card whose PUK is blocked; restarting cacard resets the counter.
   */
  #resetRetryCounter(apdu: CommandApdu): AppletResult {
    if (apdu.p1 !== 0x00) throw new CardError(SW.P1_P2_INCORRECT);
    if (apdu.p2 !== PinRef.PIV_PIN) throw new CardError(SW.DATA_NOT_FOUND);
    if (apdu.data.length !== REFERENCE_PAIR_LENGTH) throw new CardError(SW.WRONG_PARAMETERS_IN_DATA);
    throw new CardError(SW.AUTH_METHOD_BLOCKED, "no PUK");
  }

  /** GENERAL AUTHENTICATE 00 87 alg key 7C… (Part 2 §3.2.4); checks in the order real cards make them. */
  async #generalAuthenticate(apdu: CommandApdu, card: CardServices, pinAlways: boolean): Promise<AppletResult> {
    const ref = apdu.p2;
    if (ref === KeyRef.CARD_MANAGEMENT) return this.#challenge(apdu, card);
    const isRetired = ref >= RETIRED_KEY_FIRST && ref <= RETIRED_KEY_LAST;
    const index = this.#slots.get(ref as PivSlot);
    if (index === undefined) {
      const known = isRetired || ref === SM_KEY || CERT_OBJECT_OF_SLOT[ref as PivSlot] !== undefined;
      throw new CardError(SW.P1_P2_INCORRECT, known ? "empty key slot" : "not a key reference");
    }
    // Part 1 §3.1: 9A and 9D after a VERIFY in this selection, 9C right after one, 9E never.
    if (ref === KeyRef.DIGITAL_SIGNATURE ? !(pinAlways && this.#verified) : ref !== KeyRef.CARD_AUTHENTICATION && !this.#verified) {
      throw new CardError(SW.SECURITY_NOT_SATISFIED);
    }
    const credential = this.#token.credentials[index];
    if (pivAlgorithmOf(credential.algorithm) !== apdu.p1) throw new CardError(SW.P1_P2_INCORRECT, "algorithm is not the key's");
    const request = parseAuthTemplate(apdu.data);
    if (request.kind === "challenge") throw new CardError(SW.WRONG_PARAMETERS_IN_DATA);
    const key = await keyFor(card, index, ref === KeyRef.CARD_AUTHENTICATION);
    // Key agreement is for key management keys (Part 1 §3.1.4), never 9A/9C/9E.
    return ok(await authenticate(key, request, ref === KeyRef.KEY_MANAGEMENT));
  }

  /**
   * 9B with 81 00: a challenge from the card management key, which OpenSC 0.23
   * uses as its random number source (card-piv.c piv_get_challenge). Nothing
   * is armed: there is no key to complete an authentication with.
   */
  #challenge(apdu: CommandApdu, card: CardServices): AppletResult {
    const size = CHALLENGE_BYTES[apdu.p1];
    if (size === undefined) throw new CardError(SW.P1_P2_INCORRECT);
    const request = parseAuthTemplate(apdu.data);
    if (request.kind !== "challenge") throw new CardError(SW.SECURITY_NOT_SATISFIED, "no card management key");
    return ok(challengeResponse(card.platform.randomBytes(size)));
  }
}

/** 7C { 81 challenge }. */
function challengeResponse(random: Uint8Array): Uint8Array {
  return tlv(TAG_DYNAMIC_AUTH, tlv(DynTag.CHALLENGE, random));
}

const EMPTY = new Uint8Array(0);

function statusOnly(sw: StatusWord): AppletResult {
  return { data: EMPTY, sw };
}

/** The key, with "not logged in" as PIV says it (6982), not as the CAC layer (6985). */
async function keyFor(card: CardServices, index: number, withoutPin: boolean) {
  try {
    return await (withoutPin ? card.privateKeyWithoutPin(index) : card.privateKey(index));
  } catch (e) {
    if (e instanceof CardError && e.sw === SW.CONDITION_NOT_SATISFIED) throw new CardError(SW.SECURITY_NOT_SATISFIED, e.message);
    throw e;
  }
}

function triesSw(tries: number): StatusWord {
  return SW.WARNING_COUNTER | Math.min(tries, 0x0f);
}
