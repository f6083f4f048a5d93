/**
 * The token seam: where a card's certificates and private keys come from.
 * libcacard's equivalent is the NSS half of vcard_emul.h (login, rsa_op,
 * rsa_bits); this one is algorithm-neutral and asynchronous, so that a token
 * may be a file (NSS, PEM), a PKCS#11 module, a physical card or WebCrypto.
 *
 * Platform-free: implementations live in src/tokens (Node) or the page.
 */
import { CacardError } from "../errors.js";

/** The named curves a card key may be on. */
export type EcCurve = "P-256" | "P-384";

/** What a credential's key is, from its certificate. */
export type KeyAlgorithm =
  | { readonly kind: "rsa"; readonly bits: number }
  | { readonly kind: "ec"; readonly curve: EcCurve }
  /** Any other key (Ed25519, DSA, RSA-PSS-only, an unknown curve): listed, never used. */
  | { readonly kind: "unsupported"; readonly name: string };

/** One certificate of a token and, maybe, its private key. */
export interface Credential {
  /** The name the user asked for (NSS nickname, PEM file stem, CKA_LABEL). */
  readonly label: string;
  /** Certificate DER, served verbatim by the card. */
  readonly certificate: Uint8Array;
  /** Subject DN as text, for people and logs. */
  readonly subject: string;
  readonly algorithm: KeyAlgorithm;
  /** False when the token holds the certificate only (the card cannot sign with it). */
  readonly hasPrivateKey: boolean;
}

/**
 * A private key the token lets the card use. Each operation exists for the
 * algorithms it fits and rejects with KeyOperationError when its operand is
 * not valid for the key (the card answers 6984/6A80).
 */
export interface PrivateKey {
  readonly algorithm: KeyAlgorithm;
  /** m^d mod n with no padding added or removed; the input is exactly the modulus length and below it. */
  rsaRaw?(input: Uint8Array): Promise<Uint8Array>;
  /** ECDSA over `digest` as given (no hashing); resolves to r || s, each the field size. */
  ecdsaSign?(digest: Uint8Array): Promise<Uint8Array>;
  /** ECDH with the peer's uncompressed point 04 || X || Y; resolves to the shared X coordinate. */
  ecdh?(peerPoint: Uint8Array): Promise<Uint8Array>;
}

/** The keys usable after a login; index i is credential i. */
export interface TokenSession {
  /** Credential `index`'s private key, or null when it has none. */
  key(index: number): PrivateKey | null;
  /** Ends the session (a PKCS#11 C_Logout); soft tokens need nothing. */
  logout?(): void | Promise<void>;
}

export type LoginResult =
  | { readonly ok: true; readonly session: TokenSession }
  /** Wrong PIN; `triesLeft` when the token reports it. */
  | { readonly ok: false; readonly reason: "wrong-pin"; readonly triesLeft?: number }
  | { readonly ok: false; readonly reason: "locked" };

/** A token as the card sees it. */
export interface Token {
  /** "nss", "pem", "pkcs11", "memory", ... */
  readonly kind: string;
  /** Where it came from, for people (a path or a token label; never a secret). */
  readonly location: string;
  /** The credentials in card order. */
  readonly credentials: readonly Credential[];
  /**
   * True when private keys need a PIN. When false, login() accepts any PIN,
   * as NSS does for a database without a password.
   */
  readonly loginRequired: boolean;
  /**
   * Opens the private keys with `pin` (the card already stripped its
   * padding). Never logs or keeps the PIN. May answer synchronously (soft
   * stores) or with a promise (a PKCS#11 C_Login). Rejects or throws only for
   * host faults (a damaged key found at first use: KeyStoreError).
   */
  login(pin?: Uint8Array): LoginResult | Promise<LoginResult>;
  /**
   * Replaces the PIN after the card checked the old one (PIV CHANGE
   * REFERENCE DATA). Absent when the PIN cannot change (it is a database
   * password). Resolves to false when the token refuses the new PIN.
   */
  changePin?(newPin: Uint8Array): boolean | Promise<boolean>;
  /**
   * A session opened without the holder's PIN, for keys a card uses without
   * one (PIV card authentication). Only tokens unlocked at start offer it
   * (the database password came from a file; the card PIN is separate).
   */
  openWithoutPin?(): LoginResult | Promise<LoginResult>;
  /** Token presence (a PKCS#11 token pulled out); returns the unsubscribe function. */
  watch?(listener: (event: TokenEvent) => void): () => void;
  /** Releases what the token holds (a module, a worker). */
  close?(): Promise<void>;
}

export type TokenEvent = "removed" | "inserted";

/** The name the API has always used for a token opened from files. */
export type KeyStore = Token;

/** Host-side token failures. `code` is stable for callers to branch on. */
export type KeyStoreErrorCode =
  | "KEYSTORE_NOT_FOUND" // directory, file, module or token missing
  | "KEYSTORE_CORRUPT" // unreadable / not a database / bad structure
  | "KEYSTORE_BAD_PASSWORD" // password given and wrong
  | "KEYSTORE_NO_SUCH_CERT" // label not in the store
  | "KEYSTORE_UNSUPPORTED" // e.g. an encryption scheme we cannot read
  | "KEYSTORE_TOO_MANY" // more certificates than the card holds
  | "KEYSTORE_UNREADABLE"; // the OS refused to read it (permissions)

export class KeyStoreError extends CacardError {
  declare readonly code: KeyStoreErrorCode;
  constructor(code: KeyStoreErrorCode, message: string, options?: { readonly cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * Why a private-key operation failed, in the terms a card needs to pick its
 * status word (libcacard vcard_emul_map_error, after NSS's PK11_MapError of
 * the token's CK_RV):
 * * KEY_OPERATION_INPUT: the operand does not fit the key (6984 CAC, 6A80 PIV);
 * * KEY_NOT_LOGGED_IN: the token hides the key, e.g. after its login ended (6985);
 * * KEY_OUT_OF_MEMORY: the token ran out of memory or sessions (6581);
 * * KEY_OPERATION_FAILED: any other token failure (6500).
 */
export type KeyOperationErrorCode = "KEY_OPERATION_INPUT" | "KEY_NOT_LOGGED_IN" | "KEY_OUT_OF_MEMORY" | "KEY_OPERATION_FAILED";

/** A private operation failed for a reason the card reports with a status word (see KeyOperationErrorCode). */
export class KeyOperationError extends CacardError {
  declare readonly code: KeyOperationErrorCode;
  constructor(message: string, code: KeyOperationErrorCode = "KEY_OPERATION_INPUT", options?: { readonly cause?: unknown }) {
    super(code, message, options);
  }
}

/** RSA modulus bits, or 0 for any other key (libcacard's vcard_emul_rsa_bits). */
export function rsaBits(algorithm: KeyAlgorithm): number {
  return algorithm.kind === "rsa" ? algorithm.bits : 0;
}

/** "RSA 2048", "EC P-256", or the unsupported key's name. */
export function describeAlgorithm(algorithm: KeyAlgorithm): string {
  switch (algorithm.kind) {
    case "rsa":
      return `RSA ${algorithm.bits}`;
    case "ec":
      return `EC ${algorithm.curve}`;
    default:
      return algorithm.name;
  }
}
