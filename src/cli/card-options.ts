/**
 * The card options every command takes (--db or --pkcs11/--token, --cert,
 * --password-file, --pin-file, --pin-tries, --personality, --piv-slots) and
 * turning them into a card. Passwords come from files only, never from the
 * command line, where any local user could read them.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, resolve } from "node:path";
import type { ParseArgsConfig } from "node:util";
import { openKeyStore } from "../tokens/open.js";
import type { KeyStore } from "../core/token/types.js";
import type { CacCardOptions } from "../core/cac/cac-card.js";
import type { Pkcs11Token } from "../tokens/pkcs11/index.js";
import type { VirtualCard } from "../core/card/card.js";
import { PERSONALITIES, createCard, type CreateCardOptions, type Personality } from "../core/create-card.js";
import { withCardPin } from "../core/token/card-pin.js";
import { pivPinProblem } from "../core/piv/pin-format.js";
import { parseSlotOrder } from "../core/piv/slots.js";
import { pivCredentialWarnings } from "../core/piv/piv-card.js";
import { cacCredentialWarnings } from "../core/cac/credential-check.js";
import type { PivSlot } from "../core/piv/constants.js";
import { UsageError } from "./errors.js";
import { FileReadError, readFileBounded } from "../util/read-file.js";
import { WarningLimiter } from "../util/rate-limit.js";
import { toHex } from "../core/bytes.js";

export const DEFAULT_NICKNAMES = ["cert1", "cert2", "cert3"];
/** Retry counters above 15 cannot be reported in 63Cx. */
export const MAX_PIN_TRIES = 15;

/** The certs-sample NSS DB shipped with the package. */
export function sampleDbPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/cli/chunks (the bundled CLI) or dist/src/cli → package root; dist/cli or src/cli → ../..
  for (const up of ["../../..", "../.."]) {
    const candidate = resolve(here, up, "certs-sample", "nssdb");
    try {
      readFileSync(resolve(candidate, "cert9.db"), { flag: "r" }).length;
      return candidate;
    } catch {
      /* try the next layout */
    }
  }
  return resolve(here, "../../..", "certs-sample", "nssdb");
}

export const cardOptionSpec = {
  db: { type: "string" },
  pkcs11: { type: "string" },
  token: { type: "string" },
  cert: { type: "string", multiple: true },
  "password-file": { type: "string" },
  "pin-file": { type: "string" },
  "pin-tries": { type: "string" },
  personality: { type: "string" },
  "piv-slots": { type: "string" },
  "compress-certificates": { type: "boolean" },
  trace: { type: "boolean" },
} as const satisfies ParseArgsConfig["options"];

export const CARD_OPTIONS_HELP = `Card options:
  --db DIR              NSS database directory (also written sql:DIR) or a PEM
                        directory (<nick>.pem + <nick>.key); default: certs-sample/nssdb
  --pkcs11 MODULE       host mode: the keys stay on a PKCS#11 token, reached through
                        MODULE (a .so path, e.g. /usr/lib/softhsm/libsofthsm2.so;
                        never p11-kit-proxy). VERIFY is the token's login
  --token LABEL         with --pkcs11: the token's label (default: the first token
                        holding a certificate with a key pair)
  --cert NICK           certificate nickname, repeatable, in PKI order (1-10);
                        default: cert1 cert2 cert3. With --pkcs11: a CKA_LABEL;
                        default: every certificate with a key pair, by CKA_ID
  --password-file FILE  the DB / key password (first line); it is also the PIN
                        unless --pin-file is given. With --pkcs11: the token
                        PIN, checked once at start
  --pin-file FILE       the card PIN the guest types (first line), distinct from
                        the DB password; the DB is then unlocked at start with
                        --password-file. PIV PINs have 6-8 characters
  --pin-tries N         PIN retry counter (1-15): 63Cx, then 6983 blocked
                        (default: none on cac, as libcacard; 3 on piv, cac+piv)
  --personality P       cac (default, libcacard's CAC), piv (a PIV-only card,
                        driverless on Windows, macOS and OpenSC) or cac+piv
                        (CAC applets plus a PIV application, like a DoD CAC)
  --piv-slots LIST      PIV key slots in certificate order, e.g. 9e,9a
                        (default 9a,9c,9d,9e; on cac+piv 9a,9c,9d)
  --compress-certificates  serve the CAC certificates zlib-compressed (CertInfo
                        01), as issued CACs do; CoolKey needs it. Default: plain
                        DER, byte for byte libcacard's card
  --trace               log every APDU and response on stderr (the data of
                        VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER and
                        other PIN commands is replaced by '*' bytes)`;

export interface CardOptionValues {
  db?: string;
  pkcs11?: string;
  token?: string;
  cert?: string[];
  "password-file"?: string;
  "pin-file"?: string;
  "pin-tries"?: string;
  personality?: string;
  "piv-slots"?: string;
  "compress-certificates"?: boolean;
  trace?: boolean;
}

/**
 * Largest --password-file / --pin-file read. Only the first line is used; the
 * bound keeps /dev/zero or a wrong path from filling memory.
 */
export const MAX_PASSWORD_FILE_BYTES = 64 * 1024;

/**
 * Reads a password file: the first line, without its line ending. Every
 * failure is one UsageError naming the option, the file and the reason; an
 * empty first line is refused here (it can only be a mistake: an NSS DB
 * without a password takes any password, and a token PIN is never empty).
 */
export function readPasswordFile(path: string, option = "--password-file"): Uint8Array {
  let raw: Uint8Array;
  try {
    raw = readFileBounded(path, { maxBytes: MAX_PASSWORD_FILE_BYTES });
  } catch (e) {
    if (!(e instanceof FileReadError)) throw e;
    throw new UsageError(`${option} ${path}: cannot read it: ${e.reason}`);
  }
  let end = raw.indexOf(0x0a);
  if (end < 0) end = raw.length;
  if (end > 0 && raw[end - 1] === 0x0d) end--;
  const password = raw.slice(0, end);
  const empty = raw.length === 0;
  raw.fill(0);
  if (password.length === 0) {
    throw new UsageError(`${option} ${path}: ${empty ? "the file is empty" : "its first line is empty"}; the password is its first line`);
  }
  return password;
}

export function parsePinTries(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_PIN_TRIES) {
    throw new UsageError(`--pin-tries ${value}: expected a whole number from 1 to ${MAX_PIN_TRIES}`);
  }
  return n;
}

/**
 * The PIN policy --pin-tries asks for, as card options (none without it, as
 * libcacard). Checked before any key store is opened, so a typo fails fast.
 */
export function pinOptions(values: Pick<CardOptionValues, "pin-tries">): Pick<CacCardOptions, "pinPolicy"> {
  const tries = parsePinTries(values["pin-tries"]);
  return tries === undefined ? {} : { pinPolicy: { maxTries: tries } };
}

/** What --personality, --piv-slots and --pin-file ask for, checked before any key store is opened. */
export interface PersonalityChoice {
  readonly personality: Personality;
  /** --compress-certificates (CAC applets only). */
  readonly compressCertificates?: boolean;
  readonly pivSlots?: readonly PivSlot[];
  /** The card PIN from --pin-file (the caller wipes it). */
  readonly cardPin?: Uint8Array;
}

export function personalityOptions(
  values: Pick<CardOptionValues, "personality" | "piv-slots" | "pin-file" | "compress-certificates">,
): PersonalityChoice {
  const personality = (values.personality ?? "cac") as Personality;
  if (!PERSONALITIES.includes(personality)) {
    throw new UsageError(`--personality ${values.personality}: expected one of ${PERSONALITIES.join(", ")}`);
  }
  const compressCertificates = values["compress-certificates"] === true;
  if (compressCertificates && personality === "piv") {
    throw new UsageError("--compress-certificates: only with --personality cac or cac+piv (the CAC applets)");
  }
  let pivSlots: PivSlot[] | undefined;
  if (values["piv-slots"] !== undefined) {
    if (personality === "cac") throw new UsageError("--piv-slots: only with --personality piv or cac+piv");
    try {
      pivSlots = parseSlotOrder(values["piv-slots"]);
    } catch (e) {
      throw new UsageError(`--piv-slots ${values["piv-slots"]}: ${(e as Error).message}`);
    }
  }
  const cardPin = values["pin-file"] !== undefined ? readPasswordFile(values["pin-file"], "--pin-file") : undefined;
  if (cardPin && personality !== "cac") {
    const problem = pivPinProblem(cardPin);
    if (problem) {
      cardPin.fill(0);
      throw new UsageError(`--pin-file ${values["pin-file"]}: ${problem}`);
    }
  }
  return {
    personality,
    ...(compressCertificates ? { compressCertificates } : {}),
    ...(pivSlots ? { pivSlots } : {}),
    ...(cardPin ? { cardPin } : {}),
  };
}

export interface StoreOpenOptions {
  /**
   * Decrypt private keys at first use (default true: a fast start). `cacard
   * info` turns it off so that a damaged key is reported before it says "ok".
   */
  readonly deferKeyDecryption?: boolean;
  /** A PKCS#11 token opened again after it came back: no PIN check (the guest logs in). */
  readonly reopen?: boolean;
}

/**
 * Opens the key store the options name. `password` (e.g. from a QEMU-style
 * secret object) takes the place of --password-file; it is zeroed afterwards.
 */
export async function keyStoreFromOptions(
  values: CardOptionValues,
  password?: Uint8Array,
  open: StoreOpenOptions = {},
  choice: PersonalityChoice = { personality: "cac" },
): Promise<KeyStore> {
  // zlib for --compress-certificates is loaded only when asked for (start-up time).
  if (choice.compressCertificates) await import("../core/cac/certificate-zlib.js");
  if (values.token !== undefined && values.pkcs11 === undefined) {
    throw new UsageError("--token LABEL names a PKCS#11 token: it needs --pkcs11 MODULE");
  }
  const nicknames = values.cert && values.cert.length > 0 ? values.cert : DEFAULT_NICKNAMES;
  const pw = password ?? (values["password-file"] ? readPasswordFile(values["password-file"]) : undefined);
  try {
    // Without a card PIN the DB password is the PIN (libcacard's rule); a
    // PIV PIN outside 6-8 characters would only fail later, in OpenSC
    // (CKR_PIN_LEN_RANGE), so it is refused here.
    if (pw && !choice.cardPin && choice.personality !== "cac") {
      const problem = pivPinProblem(pw);
      if (problem) throw new UsageError(`the DB password is the PIV PIN here, but ${problem}; give the card a PIN with --pin-file`);
    }
    const store =
      values.pkcs11 !== undefined
        ? await pkcs11TokenFromOptions(values, pw, open.reopen)
        : await openKeyStore({
            db: values.db ?? sampleDbPath(),
            nicknames,
            password: pw,
            deferKeyDecryption: open.deferKeyDecryption ?? true,
          });
    if (!choice.cardPin) return store;
    if (store.loginRequired && !pw) {
      throw new UsageError("--pin-file: the key store has a password; give it with --password-file");
    }
    return withCardPin(store, choice.cardPin, pw);
  } finally {
    pw?.fill(0);
  }
}

/** The createCard options of a personality choice. */
export function personalityCardOptions(
  choice: PersonalityChoice,
): Pick<CreateCardOptions, "personality" | "pivSlots" | "compressCertificates"> {
  return {
    personality: choice.personality,
    ...(choice.pivSlots ? { pivSlots: choice.pivSlots } : {}),
    ...(choice.compressCertificates ? { compressCertificates: true } : {}),
  };
}

/** One line per certificate the chosen personality cannot use. */
export function personalityWarnings(store: KeyStore, choice: PersonalityChoice): string[] {
  return choice.personality === "cac" ? cacCredentialWarnings(store.credentials) : pivCredentialWarnings(store.credentials);
}

/**
 * Host mode (--pkcs11): the token through its module. Loaded on this path
 * only, so that the optional pkcs11js addon is never touched otherwise.
 * `reopen` skips the PIN check (a token coming back after removal).
 */
export async function pkcs11TokenFromOptions(
  values: CardOptionValues,
  password?: Uint8Array,
  reopen = false,
): Promise<Pkcs11Token> {
  if (values.db !== undefined) throw new UsageError("--db and --pkcs11 are two different key stores: give one");
  const { openPkcs11Token } = await import("../tokens/pkcs11/index.js");
  const pin = reopen || password === undefined ? undefined : Uint8Array.from(password);
  try {
    return await openPkcs11Token({
      module: values.pkcs11!,
      ...(values.token !== undefined ? { tokenLabel: values.token } : {}),
      ...(values.cert && values.cert.length > 0 ? { labels: values.cert } : {}),
      ...(pin !== undefined ? { pin } : {}),
    });
  } finally {
    pin?.fill(0);
  }
}

export async function cardFromOptions(
  values: CardOptionValues,
  extra: CacCardOptions = {},
  password?: Uint8Array,
  open: StoreOpenOptions = {},
): Promise<VirtualCard> {
  const pin = pinOptions(values);
  const choice = personalityOptions(values);
  let store: KeyStore;
  try {
    store = await keyStoreFromOptions(values, password, open, choice);
  } finally {
    choice.cardPin?.fill(0);
  }
  const options: CreateCardOptions = { ...extra, ...pin, ...personalityCardOptions(choice) };
  if (values.trace && !options.trace) options.trace = stderrTrace;
  options.warn ??= stderrWarn;
  for (const line of personalityWarnings(store, choice)) options.warn(line);
  // At run time the card warns about what a guest's commands caused (a token
  // failing under a flood of SIGN commands): rate-limited.
  const limiter = new WarningLimiter(options.warn);
  return createCard(store, { ...options, warn: (message) => limiter.warn("card warnings", message) });
}

/**
 * The one line `vpcd` and `vscard` print when no key store is named: the
 * card then signs with the sample keys shipped (and published) with the
 * package, which anyone can use to impersonate it. Null when --db or
 * --pkcs11 is given.
 */
export function sampleKeysNotice(values: Pick<CardOptionValues, "db" | "pkcs11">): string | null {
  if (values.db !== undefined || values.pkcs11 !== undefined) return null;
  return `no --db: serving the public sample keys of ${sampleDbPath()} (published with cacard, for tests only; give --db or --pkcs11 for your own)`;
}

/** The key store line of `vpcd` and `vscard`: kind, location and the certificates served, in PKI order. */
export function describeKeyStore(store: KeyStore): string {
  const names = store.credentials.map((c) => c.label).join(", ");
  return `key store: ${store.kind} ${store.location}, ${store.credentials.length} certificate(s): ${names}`;
}

/** Host-side problems the card answered with a status word (no secrets in them). */
export function stderrWarn(message: string): void {
  process.stderr.write(`cacard: warning: ${message}\n`);
}

/** --trace: one line per direction; the card has already blanked PIN data (redactPins). */
function stderrTrace(command: Uint8Array, response: Uint8Array): void {
  process.stderr.write(`cacard: >> ${toHex(command)}\ncacard: << ${toHex(response)}\n`);
}
