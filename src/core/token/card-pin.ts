/**
 * A card PIN that is not the token's password. libcacard hands the PIN the
 * guest types to NSS as the database password; with a card PIN, the
 * database is unlocked with its own password (read at start) and the guest
 * types a PIN that the card checks here. The PIN lives in memory only, so
 * CHANGE REFERENCE DATA lasts until the process ends.
 */
import type { LoginResult, Token, TokenEvent } from "./types.js";

/** Constant-time comparison (the lengths may differ; that leaks only the length). */
function samePin(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i % Math.max(a.length, 1)] ?? 0) ^ b[i];
  return diff === 0;
}

const WRONG_PIN: LoginResult = { ok: false, reason: "wrong-pin" };

/**
 * `token` behind `pin`. `password` opens the token (undefined when it has
 * none); both are copied, the caller may wipe its own.
 */
export function withCardPin(token: Token, pin: Uint8Array, password?: Uint8Array): Token {
  let current = Uint8Array.from(pin);
  const unlock = password === undefined ? undefined : Uint8Array.from(password);
  const open = () => token.login(unlock);
  const wrapped: Token = {
    kind: token.kind,
    location: token.location,
    credentials: token.credentials,
    loginRequired: true,
    login(given?: Uint8Array) {
      if (given === undefined || !samePin(given, current)) return WRONG_PIN;
      return open();
    },
    changePin(newPin: Uint8Array) {
      current.fill(0);
      current = Uint8Array.from(newPin);
      return true;
    },
    // The token was unlocked at start: keys that need no PIN (PIV 9E) can open.
    openWithoutPin: open,
  };
  if (token.watch) wrapped.watch = (listener: (event: TokenEvent) => void) => token.watch!(listener);
  if (token.close) wrapped.close = () => token.close!();
  return wrapped;
}
