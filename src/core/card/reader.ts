/**
 * The one card interface backends drive, and the slot that holds a card.
 * Backends (vpcd, VSCard passthru, the in-process API) see only these two:
 * they follow a reader's insert/remove events and call the card's power and
 * transmit methods.
 */
import { Emitter } from "../emitter.js";

export interface SmartCard {
  readonly atr: Uint8Array;
  /** Cold reset; resolves to the ATR. Clears selections, pending data, login. */
  powerOn(): Promise<Uint8Array>;
  powerOff(): Promise<void>;
  /** Warm reset; resolves to the ATR. */
  reset(): Promise<Uint8Array>;
  /**
   * One command APDU in, response data + SW1 SW2 out. A card answers one
   * command at a time, in the order transmit() was called, so callers may
   * pipeline without awaiting each answer. Never rejects for card-level
   * errors (those are status words).
   */
  transmit(command: Uint8Array): Promise<Uint8Array>;
  /**
   * Optional: transmit() that answers synchronously when the card knows the
   * answer at once (VirtualCard), for callers on the hot path. Same order
   * rules as transmit().
   */
  answer?(command: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

export interface ReaderEvents {
  insert: [card: SmartCard];
  remove: [card: SmartCard];
}

/**
 * A reader slot. Removing keeps the card object, so insert() without an
 * argument puts the same card (state intact) back, as libcacard's
 * vcard_emul_force_card_insert does.
 */
export class VirtualReader extends Emitter<ReaderEvents> {
  #card: SmartCard | null = null;
  #lastCard: SmartCard | null = null;

  constructor(
    readonly name: string,
    card?: SmartCard,
  ) {
    super();
    if (card) {
      this.#card = card;
      this.#lastCard = card;
    }
  }

  get card(): SmartCard | null {
    return this.#card;
  }

  get present(): boolean {
    return this.#card !== null;
  }

  /** Inserts a card (or the last one removed). Returns false if a card is already in. */
  insert(card?: SmartCard): boolean {
    if (this.#card !== null) return false;
    const next = card ?? this.#lastCard;
    if (next === null) return false;
    this.#card = next;
    this.#lastCard = next;
    this.emit("insert", next);
    return true;
  }

  /** Removes the card. Returns false if the slot was empty. */
  remove(): boolean {
    const card = this.#card;
    if (card === null) return false;
    this.#card = null;
    this.emit("remove", card);
    return true;
  }
}
