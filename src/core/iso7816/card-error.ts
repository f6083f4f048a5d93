import type { StatusWord } from "./status.js";

/**
 * A card-level refusal. Applets throw it; the card's transmit boundary turns it
 * into the status word and nothing else (no data), as a real card answers.
 */
export class CardError extends Error {
  constructor(
    readonly sw: StatusWord,
    reason?: string,
  ) {
    super(reason ?? `SW ${sw.toString(16).toUpperCase().padStart(4, "0")}`);
    this.name = "CardError";
  }
}
