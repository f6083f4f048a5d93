/**
 * The PKCS#11 token's logic against a scripted module (no native addon):
 * CKA_ID order, CK_RV -> card answers, login results, presence polling and
 * the PKCS#1 block handling of the no-raw-RSA fallback.
 */
import { describe, expect, it } from "vitest";
import { compareIds, openPkcs11Token } from "../../../src/tokens/pkcs11/index.js";
import { CKF_TOKEN, CKO, CKR } from "../../../src/tokens/pkcs11/constants.js";
import { Pkcs11CallError } from "../../../src/tokens/pkcs11/errors.js";
import { keyErrorCode } from "../../../src/tokens/pkcs11/key-errors.js";
import type { Pkcs11Calls } from "../../../src/tokens/pkcs11/module.js";
import { stripSignaturePadding, wrapDecryptedPlaintext } from "../../../src/tokens/pkcs11/rsa-pkcs1.js";
import { createTokenWatcher } from "../../../src/tokens/pkcs11/watch.js";
import type { SlotSnapshot } from "../../../src/tokens/pkcs11/wire.js";
import type { TokenEvent } from "../../../src/core/token/types.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES } from "./tokens.js";

const TOKEN = { label: "t", serial: "s", model: "m", manufacturer: "x", flags: CKF_TOKEN.TOKEN_INITIALIZED | CKF_TOKEN.LOGIN_REQUIRED };
const SLOT: SlotSnapshot = { slot: new Uint8Array(8), description: "slot", flags: 3, token: TOKEN };

/** A module with the fixture certificates (IDs given in module order) and public keys for `keyed`. */
function fakeModule(ids: number[], keyed: number[], overrides: Partial<Pkcs11Calls> = {}): Pkcs11Calls {
  const der = new Uint8Array(readFileSync(join(FIXTURES, "rsa2048.cert.der")));
  const fail = (): never => {
    throw new Error("not scripted");
  };
  return {
    slots: async () => [SLOT],
    tokenFlags: async () => TOKEN.flags,
    mechanisms: async () => [],
    openSession: async () => Uint8Array.of(1),
    closeSession: async () => {},
    find: async (_s, match) => {
      const cls = match[0].value;
      if (cls === CKO.CERTIFICATE) {
        return ids.map((id) => ({
          handle: Uint8Array.of(id),
          attributes: [Uint8Array.of(id), der, new TextEncoder().encode(`c${id}`), new Uint8Array(8)],
        }));
      }
      if (cls === CKO.PUBLIC_KEY) return keyed.map((id) => ({ handle: Uint8Array.of(id), attributes: [Uint8Array.of(id)] }));
      return [];
    },
    login: async () => {},
    logout: async () => {},
    sign: fail,
    decrypt: fail,
    deriveValue: fail,
    pollSlotEvent: async () => null,
    ...overrides,
  };
}

describe("PKCS#11 token logic (scripted module)", () => {
  it("orders by CKA_ID like SECITEM_CompareItem: bytes first, then the shorter", () => {
    const ids = [Uint8Array.of(2), Uint8Array.of(1, 0), Uint8Array.of(1), new Uint8Array(0)];
    expect(ids.sort(compareIds).map((b) => [...b])).toEqual([[], [1], [1, 0], [2]]);
  });

  it("mirrors certificates with a key pair in CKA_ID order, whatever the module order", async () => {
    const token = await openPkcs11Token({ module: "fake", calls: fakeModule([4, 3, 0, 2, 1], [1, 2, 3, 4]) });
    expect(token.credentials.map((c) => c.label)).toEqual(["c1", "c2", "c3", "c4"]);
    const all = await openPkcs11Token({ module: "fake", calls: fakeModule([4, 3, 0, 2, 1], [1, 2, 3, 4]), includeKeylessCertificates: true });
    expect(all.credentials.map((c) => c.label)).toEqual(["c0", "c1", "c2", "c3", "c4"]);
  });

  it("a token without a usable certificate, or with more than a CAC holds, is an error naming it", async () => {
    await expect(openPkcs11Token({ module: "m.so", calls: fakeModule([1], []) })).rejects.toMatchObject({
      code: "PKCS11_NO_TOKEN",
      message: expect.stringContaining("m.so"),
    });
    await expect(openPkcs11Token({ module: "m.so", tokenLabel: "t", calls: fakeModule([1], []) })).rejects.toMatchObject({
      code: "PKCS11_NO_TOKEN",
      message: expect.stringContaining('token "t"'),
    });
    const eleven = Array.from({ length: 11 }, (_, i) => i + 1);
    await expect(openPkcs11Token({ module: "m.so", calls: fakeModule(eleven, eleven) })).rejects.toMatchObject({
      code: "KEYSTORE_TOO_MANY",
    });
  });

  it("login: CKR_PIN_LOCKED is locked; FINAL_TRY / LOCKED flags give tries left; a pulled token throws", async () => {
    let ckr: number = CKR.PIN_LOCKED;
    let flags = TOKEN.flags;
    const calls = fakeModule([1], [1], {
      login: async () => {
        throw new Pkcs11CallError("login", ckr, "scripted");
      },
      tokenFlags: async () => flags,
    });
    const token = await openPkcs11Token({ module: "fake", calls });
    const pin = new TextEncoder().encode("1234");
    expect(await token.login(pin)).toEqual({ ok: false, reason: "locked" });
    ckr = CKR.PIN_INCORRECT;
    expect(await token.login(pin)).toEqual({ ok: false, reason: "wrong-pin" });
    flags |= CKF_TOKEN.USER_PIN_FINAL_TRY;
    expect(await token.login(pin)).toEqual({ ok: false, reason: "wrong-pin", triesLeft: 1 });
    flags |= CKF_TOKEN.USER_PIN_LOCKED;
    expect(await token.login(pin)).toEqual({ ok: false, reason: "wrong-pin", triesLeft: 0 });
    ckr = CKR.USER_ALREADY_LOGGED_IN;
    expect((await token.login(pin)).ok).toBe(true);
    ckr = CKR.DEVICE_REMOVED;
    await expect(token.login(pin)).rejects.toMatchObject({ code: "PKCS11_TOKEN_REMOVED" });
    // Not UTF-8: pkcs11js could not pass it byte for byte; never sent, no try used.
    expect(await token.login(Uint8Array.of(0xff, 0xfe))).toEqual({ ok: false, reason: "wrong-pin" });
  });

  it("maps CK_RVs as libcacard does: 6984 input, 6985 not logged in, 6581 memory, 6500 the rest", () => {
    expect(keyErrorCode(CKR.DATA_LEN_RANGE)).toBe("KEY_OPERATION_INPUT");
    expect(keyErrorCode(CKR.MECHANISM_INVALID)).toBe("KEY_OPERATION_INPUT");
    expect(keyErrorCode(CKR.GENERAL_ERROR)).toBe("KEY_OPERATION_INPUT");
    expect(keyErrorCode(CKR.USER_NOT_LOGGED_IN)).toBe("KEY_NOT_LOGGED_IN");
    expect(keyErrorCode(CKR.DEVICE_MEMORY)).toBe("KEY_OUT_OF_MEMORY");
    expect(keyErrorCode(CKR.DEVICE_REMOVED)).toBe("KEY_OPERATION_FAILED");
    expect(keyErrorCode(undefined)).toBe("KEY_OPERATION_FAILED");
  });

  it("watch(): removed when the token leaves the slot list or the module fails, inserted when it is back", async () => {
    const script: (SlotSnapshot[] | Error)[] = [[SLOT], [], new Error("daemon gone"), [SLOT], [SLOT]];
    let i = 0;
    const calls = fakeModule([1], [1], {
      slots: async () => {
        const step = script[Math.min(i++, script.length - 1)];
        if (step instanceof Error) throw step;
        return step;
      },
    });
    const events: TokenEvent[] = [];
    const watcher = createTokenWatcher(calls, TOKEN, 5);
    const unsubscribe = watcher.subscribe((e) => events.push(e));
    while (i < script.length) await new Promise((r) => setTimeout(r, 5));
    unsubscribe();
    expect(events).toEqual(["removed", "inserted"]);
  });

  it("PKCS#1 blocks: libcacard's type-1 test (zero FFs allowed) and the 00 02 03..03 00 re-wrap", () => {
    expect([...stripSignaturePadding(Uint8Array.of(0, 1, 0xff, 0xff, 0, 9, 8))!]).toEqual([9, 8]);
    expect([...stripSignaturePadding(Uint8Array.of(0, 1, 0, 7))!]).toEqual([7]);
    expect(stripSignaturePadding(Uint8Array.of(0, 2, 0xff, 0, 9))).toBeNull();
    expect(stripSignaturePadding(Uint8Array.of(0, 1, 0xff, 0xfe, 0, 9))).toBeNull();
    expect([...wrapDecryptedPlaintext(Uint8Array.of(7, 8), 7)!]).toEqual([0, 2, 3, 3, 0, 7, 8]);
    expect(wrapDecryptedPlaintext(Uint8Array.of(7, 8, 9, 10), 7)).toBeNull(); // fewer than 4 bytes of padding: 6F00
  });
});
