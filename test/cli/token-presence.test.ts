/**
 * Host mode's token events on a reader: removed -> the card leaves; back ->
 * the token is opened again and its new card inserted; stopping closes the
 * token in use.
 */
import { describe, expect, it } from "vitest";
import { followTokenPresence } from "../../src/cli/token-presence.js";
import { VirtualReader } from "../../src/core/card/reader.js";
import type { VirtualCard } from "../../src/core/card/card.js";
import type { Token, TokenEvent } from "../../src/core/token/types.js";

interface FakeToken extends Token {
  emit(event: TokenEvent): void;
  closed: boolean;
}

function fakeToken(name: string): FakeToken {
  let listener: ((e: TokenEvent) => void) | null = null;
  const token: FakeToken = {
    kind: "pkcs11",
    location: name,
    credentials: [],
    loginRequired: true,
    login: () => ({ ok: false, reason: "wrong-pin" }),
    watch(l) {
      listener = l;
      return () => (listener = null);
    },
    async close() {
      token.closed = true;
    },
    emit: (e) => listener?.(e),
    closed: false,
  };
  return token;
}

const cardOn = (token: Token): VirtualCard => ({ keyStore: token }) as unknown as VirtualCard;

describe("followTokenPresence", () => {
  it("removes the card when the token goes, inserts a card on the reopened token when it is back", async () => {
    const first = fakeToken("first");
    const second = fakeToken("second");
    const card = cardOn(first);
    const reader = new VirtualReader("r", card);
    const lines: string[] = [];
    const stop = followTokenPresence({ reader, card, rebuild: async () => cardOn(second), say: (l) => lines.push(l) });

    first.emit("removed");
    expect(reader.present).toBe(false);
    first.emit("inserted");
    await new Promise((r) => setTimeout(r, 10));
    expect(reader.card).not.toBe(card);
    expect((reader.card as unknown as VirtualCard).keyStore).toBe(second);
    expect(first.closed).toBe(true);
    expect(lines).toEqual(["token removed from first: card removed", "token back: card inserted (0 certificate(s))"]);

    second.emit("removed"); // the new token is the one followed now
    expect(reader.present).toBe(false);
    await stop();
    expect(second.closed).toBe(true);
  });

  it("a token that cannot be reopened leaves the reader empty, with one line", async () => {
    const token = fakeToken("t");
    const card = cardOn(token);
    const reader = new VirtualReader("r", card);
    const lines: string[] = [];
    const stop = followTokenPresence({
      reader,
      card,
      rebuild: async () => {
        throw new Error("no token \"t\"");
      },
      say: (l) => lines.push(l),
    });
    token.emit("removed");
    token.emit("inserted");
    await new Promise((r) => setTimeout(r, 10));
    expect(reader.present).toBe(false);
    expect(lines[1]).toBe('token is back but cannot be opened, the card stays out: no token "t"');
    await stop();
  });
});
