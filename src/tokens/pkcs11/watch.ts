/**
 * Token presence polling: "removed" when the token (same label and serial)
 * is no longer in C_GetSlotList(tokenPresent = true), "inserted" when it is
 * back.
 *
 * Why polling and not C_WaitForSlotEvent: the blocking form would occupy the
 * module's thread (and with it every other call to that module); SoftHSM and
 * tpm2-pkcs11 answer it with CKR_FUNCTION_NOT_SUPPORTED anyway, and
 * p11-kit-proxy implements only the non-blocking form. NSS falls back to the
 * same kind of polling (SECMOD_WaitForAnyTokenEvent, nss pk11util.c) every
 * 500 ms in libcacard's event thread (vcard_emul_event_thread).
 */
import type { TokenEvent } from "../../core/token/types.js";
import type { Pkcs11Calls } from "./module.js";

export const DEFAULT_WATCH_INTERVAL_MS = 500;

export interface TokenIdentity {
  readonly label: string;
  readonly serial: string;
}

export interface TokenWatcher {
  subscribe(listener: (event: TokenEvent) => void): () => void;
  stop(): void;
}

export function createTokenWatcher(calls: Pkcs11Calls, identity: TokenIdentity, intervalMs = DEFAULT_WATCH_INTERVAL_MS): TokenWatcher {
  const listeners = new Set<(event: TokenEvent) => void>();
  let timer: NodeJS.Timeout | null = null;
  let present = true;
  let busy = false;

  async function poll(): Promise<void> {
    if (busy) return; // a slow module: skip a tick rather than queue polls
    busy = true;
    try {
      let now: boolean;
      try {
        const slots = await calls.slots();
        now = slots.some((s) => s.token !== null && s.token.label === identity.label && s.token.serial === identity.serial);
      } catch {
        now = false; // the module itself failing (e.g. the TPM daemon gone) counts as removal
      }
      if (now !== present) {
        present = now;
        const event: TokenEvent = now ? "inserted" : "removed";
        for (const l of [...listeners]) l(event);
      }
    } finally {
      busy = false;
    }
  }

  function stop(): void {
    if (timer) clearInterval(timer);
    timer = null;
  }

  return {
    subscribe(listener) {
      listeners.add(listener);
      if (timer === null) {
        timer = setInterval(() => void poll(), intervalMs);
        timer.unref(); // watching alone never keeps the process alive
      }
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) stop();
      };
    },
    stop() {
      listeners.clear();
      stop();
    },
  };
}
