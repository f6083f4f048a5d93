/**
 * Host mode: a hardware (or software) token reached through a PKCS#11
 * module, behind the Token seam. The card built on it is the same emulated
 * CAC as for NSS and PEM stores (libcacard's nss-emulated backend with
 * use_hw): the guest never sees the token's APDUs, only its certificates, and
 * the PIN and the private-key operations go to the token.
 *
 * What is mirrored (libcacard vcard_emul_mirror_card, with commit 961eca7
 * "Sort certificates by ID"):
 * * X.509 certificate objects (CKO_CERTIFICATE) having CKA_ID and CKA_VALUE;
 * * by default only those with a key pair: a CKO_PRIVATE_KEY or, before
 *   login, when private keys are hidden (CKA_PRIVATE), a CKO_PUBLIC_KEY with
 *   the same CKA_ID. `includeKeylessCertificates` keeps the rest, as
 *   libcacard does (their SIGN answers 6985);
 * * sorted by CKA_ID (bytewise, shorter first on a tie, stable), or picked
 *   and ordered by CKA_LABEL with `labels`.
 */
import { toHex } from "../../core/bytes.js";
import {
  KeyStoreError,
  type Credential,
  type LoginResult,
  type PrivateKey,
  type Token,
  type TokenSession,
} from "../../core/token/types.js";
import { parseCertificate, type ParsedCertificate } from "../credential.js";
import { MAX_CREDENTIALS } from "../selection.js";
import { CKA, CKC_X_509, CKF_TOKEN, CKO, CKR } from "./constants.js";
import { Pkcs11Error, ckrOf, describeCkr } from "./errors.js";
import { REMOVED_ERRORS } from "./key-errors.js";
import { openPkcs11Module, type Pkcs11Calls, type Pkcs11Module } from "./module.js";
import { createPkcs11PrivateKey } from "./private-key.js";
import { createTokenWatcher, DEFAULT_WATCH_INTERVAL_MS, type TokenWatcher } from "./watch.js";
import type { SlotSnapshot } from "./wire.js";

export interface Pkcs11TokenOptions {
  /**
   * Path of the PKCS#11 module (.so). Never p11-kit-proxy, and not OpenSC's
   * module over a pcscd that this process feeds: the card would end up
   * reading itself (the virt_cacard deadlock, PL4typus/virt_cacard#3).
   */
  readonly module: string;
  /** CK_TOKEN_INFO label (trailing blanks ignored). Default: the first token holding a certificate with a key pair. */
  readonly tokenLabel?: string;
  /** Pick these certificates, by CKA_LABEL, in this order (PKI applet 0, 1, ...). */
  readonly labels?: readonly string[];
  /**
   * The user PIN, if known up front (--password-file): checked once at open
   * with C_Login (wrong -> KEYSTORE_BAD_PASSWORD, which costs one try on the
   * token), then logged out again; the guest's VERIFY still logs in. With it,
   * private keys that have no public-key object are found too.
   */
  readonly pin?: Uint8Array;
  /** Keep certificates without a key pair, as libcacard does (their SIGN answers 6985). Default false. */
  readonly includeKeylessCertificates?: boolean;
  /** Presence polling period for watch(). Default 500 ms. */
  readonly watchIntervalMs?: number;
  /** Test seam: module calls to use instead of loading `module`. */
  readonly calls?: Pkcs11Calls;
}

/** The Token, plus what a reader layer needs to name and filter it. */
export interface Pkcs11Token extends Token {
  readonly kind: "pkcs11";
  readonly tokenLabel: string;
  readonly serial: string;
  /** Slot description: libcacard's reader name. */
  readonly slotDescription: string;
  /** CK_SLOT_INFO.flags: REMOVABLE_DEVICE 0x2 and HW_SLOT 0x4 decide libcacard's use_hw filter. */
  readonly slotFlags: number;
}

/** A certificate object as found on the token. */
interface FoundCertificate {
  readonly id: Uint8Array;
  readonly parsed: ParsedCertificate;
  hasKeyPair: boolean;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const utf8Lenient = new TextDecoder();

/**
 * Opens the token `options` name through its PKCS#11 module. Rejects with
 * Pkcs11Error (module load, no token, no such label) or KeyStoreError
 * (KEYSTORE_BAD_PASSWORD when `pin` is wrong), each one line naming what
 * failed.
 */
export async function openPkcs11Token(options: Pkcs11TokenOptions): Promise<Pkcs11Token> {
  const module: Pkcs11Module | null = options.calls ? null : await openPkcs11Module(options.module);
  const calls: Pkcs11Calls = options.calls ?? module!;
  try {
    return await openOn(calls, module, options);
  } catch (error) {
    await module?.release();
    throw error;
  }
}

async function openOn(calls: Pkcs11Calls, module: Pkcs11Module | null, options: Pkcs11TokenOptions): Promise<Pkcs11Token> {
  const slots = (await calls.slots()).filter(
    (s) => s.token !== null && (s.token.flags & CKF_TOKEN.TOKEN_INITIALIZED) !== 0,
  );
  const wantedLabel = options.tokenLabel?.trimEnd();
  const candidates = wantedLabel === undefined ? slots : slots.filter((s) => s.token!.label === wantedLabel);

  for (const slot of candidates) {
    const session = await calls.openSession(slot.slot);
    try {
      const certificates = await scanCertificates(calls, session);
      if (wantedLabel === undefined && !certificates.some((c) => c.hasKeyPair)) {
        await calls.closeSession(session).catch(() => {});
        continue; // default selection: a token with at least one certificate and key pair
      }
      if (options.pin !== undefined) await checkPin(calls, slot, session, options.pin, certificates);
      const usable = options.includeKeylessCertificates ? certificates : certificates.filter((c) => c.hasKeyPair);
      const chosen = options.labels ? pickByLabel(usable, certificates, options.labels) : usable;
      if (chosen.length > MAX_CREDENTIALS) {
        // libcacard builds no PKI applet at all then (cac_card_init); say so instead.
        throw new KeyStoreError(
          "KEYSTORE_TOO_MANY",
          `token "${slot.token!.label}" holds ${chosen.length} usable certificates; a CAC holds at most ${MAX_CREDENTIALS} (pick them by label)`,
        );
      }
      if (chosen.length === 0) {
        throw new Pkcs11Error(
          "PKCS11_NO_TOKEN",
          `token "${slot.token!.label}" in PKCS#11 module ${options.module} holds no certificate with a key pair`,
        );
      }
      return await buildToken(calls, module, slot, session, chosen, options);
    } catch (error) {
      await calls.closeSession(session).catch(() => {});
      throw error;
    }
  }

  const seen = slots.map((s) => `"${s.token!.label}"`).join(", ") || "none";
  const wanted = wantedLabel === undefined ? "token holding a certificate with a key pair" : `token "${wantedLabel}"`;
  throw new Pkcs11Error("PKCS11_NO_TOKEN", `no ${wanted} in PKCS#11 module ${options.module} (tokens present: ${seen})`);
}

/** All X.509 certificates of the session's token, sorted by CKA_ID, with key-pair evidence from before login. */
async function scanCertificates(calls: Pkcs11Calls, session: Uint8Array): Promise<FoundCertificate[]> {
  const objects = await calls.find(
    session,
    [{ type: CKA.CLASS, value: CKO.CERTIFICATE }],
    [CKA.ID, CKA.VALUE, CKA.LABEL, CKA.CERTIFICATE_TYPE],
  );
  // Private keys are CKA_PRIVATE on every token tried (invisible before
  // C_Login); the public half of the pair is the evidence before login.
  const keyIds = await keyIdsOf(calls, session, [CKO.PRIVATE_KEY, CKO.PUBLIC_KEY]);

  const found: FoundCertificate[] = [];
  for (const { attributes: [id, der, label, certType] } of objects) {
    if (!id || !der) continue; // libcacard skips objects missing either
    if (certType && readUlong(certType) !== CKC_X_509) continue;
    const text = label ? utf8Lenient.decode(label) : "";
    let parsed: ParsedCertificate;
    try {
      parsed = parseCertificate(text, der, `certificate "${text}" on the token`);
    } catch {
      continue; // NSS could not make a temporary certificate of it either
    }
    found.push({ id, parsed, hasKeyPair: keyIds.has(toHex(id)) });
  }
  // Array.prototype.sort is stable: equal IDs keep the module's order, as 961eca7's insertion does.
  return found.sort((a, b) => compareIds(a.id, b.id));
}

/** CKA_IDs (hex) of the key objects of `classes` visible in the session. */
async function keyIdsOf(calls: Pkcs11Calls, session: Uint8Array, classes: readonly number[]): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const cls of classes) {
    for (const o of await calls.find(session, [{ type: CKA.CLASS, value: cls }], [CKA.ID])) {
      if (o.attributes[0]) ids.add(toHex(o.attributes[0]));
    }
  }
  return ids;
}

/**
 * The open-time PIN check: C_Login, then the private keys it reveals count
 * as key pairs too, then C_Logout (the guest's VERIFY is the login that
 * counts).
 */
async function checkPin(
  calls: Pkcs11Calls,
  slot: SlotSnapshot,
  session: Uint8Array,
  pin: Uint8Array,
  certificates: FoundCertificate[],
): Promise<void> {
  const label = slot.token!.label;
  if ((slot.token!.flags & CKF_TOKEN.LOGIN_REQUIRED) === 0) return;
  let text: string;
  try {
    text = utf8.decode(pin);
  } catch {
    throw new KeyStoreError("KEYSTORE_BAD_PASSWORD", `the PIN for token "${label}" is not UTF-8 text, which PKCS#11 modules expect`);
  }
  try {
    await calls.login(session, text);
  } catch (error) {
    const ckr = ckrOf(error);
    if (ckr === CKR.PIN_INCORRECT || ckr === CKR.PIN_INVALID || ckr === CKR.PIN_LEN_RANGE || ckr === CKR.PIN_LOCKED) {
      throw new KeyStoreError("KEYSTORE_BAD_PASSWORD", `wrong PIN for token "${label}" (${describeCkr(ckr)})`);
    }
    if (ckr !== CKR.USER_ALREADY_LOGGED_IN) {
      throw new Pkcs11Error("PKCS11_CALL_FAILED", `C_Login on token "${label}" failed: ${(error as Error).message}`, ckr, { cause: error });
    }
  }
  try {
    const privateIds = await keyIdsOf(calls, session, [CKO.PRIVATE_KEY]);
    for (const c of certificates) if (privateIds.has(toHex(c.id))) c.hasKeyPair = true;
  } finally {
    await calls.logout(session).catch(() => {});
  }
}

/** SECITEM_CompareItem order (nss lib/util/secitem.c): bytewise over the common length, then the shorter first. */
export function compareIds(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function pickByLabel(usable: FoundCertificate[], all: FoundCertificate[], labels: readonly string[]): FoundCertificate[] {
  return labels.map((wanted) => {
    const hit = usable.find((c) => c.parsed.label === wanted);
    if (hit) return hit;
    const keyless = all.some((c) => c.parsed.label === wanted);
    throw new Pkcs11Error(
      "PKCS11_NO_SUCH_LABEL",
      keyless
        ? `certificate "${wanted}" has no key pair on the token`
        : `no certificate labelled "${wanted}" on the token (labels: ${all.map((c) => `"${c.parsed.label}"`).join(", ") || "none"})`,
    );
  });
}

async function buildToken(
  calls: Pkcs11Calls,
  module: Pkcs11Module | null,
  slot: SlotSnapshot,
  session: Uint8Array,
  chosen: FoundCertificate[],
  options: Pkcs11TokenOptions,
): Promise<Pkcs11Token> {
  const token = slot.token!;
  const mechanisms = new Set(await calls.mechanisms(slot.slot));
  const loginRequired = (token.flags & CKF_TOKEN.LOGIN_REQUIRED) !== 0;
  let closed = false;
  let watcher: TokenWatcher | null = null;

  const keyContext = { calls, mechanisms, session };
  const keys: (PrivateKey | null)[] = chosen.map((c) =>
    c.hasKeyPair ? createPkcs11PrivateKey(keyContext, c.id, c.parsed.algorithm) : null,
  );
  const credentials: Credential[] = chosen.map(({ parsed, hasKeyPair }) => ({
    label: parsed.label,
    certificate: parsed.certificate,
    subject: parsed.subject,
    algorithm: parsed.algorithm,
    hasPrivateKey: hasKeyPair,
  }));

  const tokenSession: TokenSession = {
    key: (index) => keys[index] ?? null,
    logout: () => logout(),
  };

  async function logout(): Promise<void> {
    try {
      await calls.logout(session);
    } catch {
      // CKR_USER_NOT_LOGGED_IN and friends: the goal state is reached
    }
  }

  /** libcacard vcard_emul_login: log out, then C_Login(CKU_USER) with the PIN as given. */
  async function login(pin?: Uint8Array): Promise<LoginResult> {
    if (closed) throw new Pkcs11Error("PKCS11_CLOSED", `token "${token.label}" is closed`);
    if (!loginRequired) return { ok: true, session: tokenSession };
    if (pin === undefined) return { ok: false, reason: "wrong-pin" };
    let text: string;
    try {
      // pkcs11js takes the PIN as a JS string and hands the module its UTF-8 bytes.
      text = utf8.decode(pin);
    } catch {
      return { ok: false, reason: "wrong-pin" }; // not representable through the binding: never sent
    }
    await logout();
    try {
      await calls.login(session, text);
      return { ok: true, session: tokenSession };
    } catch (error) {
      return loginFailure(error);
    }
  }

  async function loginFailure(error: unknown): Promise<LoginResult> {
    const ckr = ckrOf(error);
    switch (ckr) {
      case CKR.USER_ALREADY_LOGGED_IN:
        return { ok: true, session: tokenSession };
      case CKR.PIN_LOCKED:
        return { ok: false, reason: "locked" };
      case CKR.PIN_INCORRECT:
      case CKR.PIN_INVALID:
      case CKR.PIN_LEN_RANGE:
      case CKR.PIN_EXPIRED: {
        const triesLeft = await triesLeftAfterFailure();
        return triesLeft === undefined ? { ok: false, reason: "wrong-pin" } : { ok: false, reason: "wrong-pin", triesLeft };
      }
    }
    if (ckr !== undefined && REMOVED_ERRORS.has(ckr)) {
      throw new Pkcs11Error("PKCS11_TOKEN_REMOVED", `token "${token.label}" was removed (${describeCkr(ckr)})`, ckr, { cause: error });
    }
    throw new Pkcs11Error("PKCS11_CALL_FAILED", `C_Login on token "${token.label}" failed: ${(error as Error).message}`, ckr, { cause: error });
  }

  /**
   * What CK_TOKEN_INFO.flags tell after a wrong PIN: FINAL_TRY -> 1,
   * LOCKED -> 0; COUNT_LOW (SoftHSM sets it after any failure) gives no
   * number. tpm2-pkcs11 reports none of them (the TPM's dictionary-attack
   * counter is not exposed).
   */
  async function triesLeftAfterFailure(): Promise<number | undefined> {
    let flags: number;
    try {
      flags = await calls.tokenFlags(slot.slot);
    } catch {
      return undefined;
    }
    if (flags & CKF_TOKEN.USER_PIN_LOCKED) return 0;
    if (flags & CKF_TOKEN.USER_PIN_FINAL_TRY) return 1;
    return undefined;
  }

  return {
    kind: "pkcs11",
    location: pkcs11Uri(token, options.module),
    credentials,
    loginRequired,
    tokenLabel: token.label,
    serial: token.serial,
    slotDescription: slot.description,
    slotFlags: slot.flags,
    login,
    watch(listener) {
      watcher ??= createTokenWatcher(calls, token, options.watchIntervalMs ?? DEFAULT_WATCH_INTERVAL_MS);
      return watcher.subscribe(listener);
    },
    async close() {
      if (closed) return;
      closed = true;
      watcher?.stop();
      // Closing the application's last session on the token also ends its login.
      await calls.closeSession(session).catch(() => {});
      await module?.release();
    },
  };
}

/** RFC 7512 URI of the token, with the module path as a query attribute: a location, never a secret. */
function pkcs11Uri(token: NonNullable<SlotSnapshot["token"]>, modulePath: string): string {
  const enc = (v: string) => encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `pkcs11:token=${enc(token.label)};manufacturer=${enc(token.manufacturer)};serial=${enc(token.serial)};model=${enc(token.model)}?module-path=${enc(modulePath)}`;
}

/** Bytes of a CK_ULONG: native width and order; 8 bytes little-endian on x86-64 and arm64 Linux. */
const ULONG_READ_BYTES = 6; // 2^48 is far beyond any CKC_ value and stays exact in a JS number

/** A CK_ULONG attribute value as pkcs11js returns it. */
function readUlong(bytes: Uint8Array): number {
  let v = 0;
  for (let i = Math.min(bytes.length, ULONG_READ_BYTES) - 1; i >= 0; i--) v = v * 256 + bytes[i];
  return v;
}
