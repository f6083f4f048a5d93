/**
 * Host mode's token events on a reader (libcacard vcard_emul_event_thread):
 * the token pulled out removes the card from its reader; the token back
 * mirrors it again (the token is opened anew, so changed certificates are
 * seen, as libcacard re-mirrors a token whose series changed) and inserts
 * the new card.
 */
import type { VirtualCard } from "../core/card/card.js";
import type { VirtualReader } from "../core/card/reader.js";
import type { Token } from "../core/token/types.js";

export interface TokenPresenceOptions {
  readonly reader: VirtualReader;
  /** The card in the reader now; its keyStore is the token watched. */
  readonly card: VirtualCard;
  /** Opens the token again and builds a card on it (same options, no PIN check). */
  readonly rebuild: () => Promise<VirtualCard>;
  /** One line for the operator per event. */
  readonly say: (line: string) => void;
}

/**
 * Follows the card's token. Returns the function that stops following and
 * closes the token in use (call it at shutdown). Tokens without watch()
 * (files) need nothing: the stop function only closes them.
 */
export function followTokenPresence(options: TokenPresenceOptions): () => Promise<void> {
  const { reader, rebuild, say } = options;
  let token: Token = options.card.keyStore;
  let stopped = false;
  let unwatch: () => void = () => undefined;

  const follow = (): void => {
    unwatch = token.watch?.(onEvent) ?? (() => undefined);
  };

  function onEvent(event: "removed" | "inserted"): void {
    if (stopped) return;
    if (event === "removed") {
      if (reader.remove()) say(`token removed from ${token.location}: card removed`);
      return;
    }
    void reinsert();
  }

  async function reinsert(): Promise<void> {
    let card: VirtualCard;
    try {
      card = await rebuild();
    } catch (e) {
      say(`token is back but cannot be opened, the card stays out: ${(e as Error).message}`);
      return;
    }
    if (stopped) {
      await card.keyStore.close?.();
      return;
    }
    const previous = token;
    unwatch();
    token = card.keyStore;
    follow();
    // The old token's session died with its removal; its module reference goes now.
    await previous.close?.().catch(() => undefined);
    reader.remove(); // a card left in (no "removed" seen) is replaced, not kept
    if (reader.insert(card)) say(`token back: card inserted (${card.keyStore.credentials.length} certificate(s))`);
  }

  follow();
  return async () => {
    stopped = true;
    unwatch();
    await token.close?.();
  };
}
