/**
 * The key store seam: where a card's certificates and private keys come from.
 * libcacard's equivalent is the NSS half of vcard_emul.h (login, rsa_op,
 * rsa_bits); this is deliberately as small.
 */

/** One PKI slot of the card: a certificate and, somewhere, its private key. */
export interface Credential {
  /** The name the user asked for (NSS nickname / PEM file stem). */
  readonly nickname: string;
  /** Certificate DER, served verbatim from the PKI applet's value buffer. */
  readonly certificate: Uint8Array;
  /** Subject DN as text, for `cacard info` and logs. */
  readonly subject: string;
  /** RSA modulus size in bits from the certificate's public key (0 if not RSA). */
  readonly keyBits: number;
}

/** Private keys that are usable right now (the token is "logged in"). */
export interface KeyRing {
  /**
   * The raw RSA private operation (m^d mod n, no padding added or removed) with
   * the key of credential `index`. Returns null when that credential has no
   * private key. Throws KeyOperationError when the input is not a valid
   * operand (wrong length, not below the modulus).
   */
  rsaPrivate(index: number, input: Uint8Array): Uint8Array | null;
  /** Modulus length in bytes of credential `index`'s private key, or 0 if none. */
  modulusBytes(index: number): number;
}

export interface KeyStore {
  /** "nss" or "pem" (more later: "pkcs11"). */
  readonly kind: string;
  /** Where it came from, for `cacard info` (a path; never a secret). */
  readonly location: string;
  /** The credentials in the order asked for; index i becomes PKI applet i. */
  readonly credentials: readonly Credential[];
  /**
   * True when private keys need a PIN (an NSS DB with a password, an
   * encrypted PEM key). When false, any PIN is accepted, as NSS does for a
   * database without a password.
   */
  readonly loginRequired: boolean;
  /**
   * Opens the private keys. With loginRequired false the pin is ignored and
   * the ring is always returned. Otherwise the pin must be the store's
   * password (trailing 0xFF padding already stripped by the card); a wrong
   * pin gives null. Never logs or keeps the pin.
   *
   * When no password was given at open time, the keys are first decrypted
   * here, at the first right pin; a key that then proves damaged or not to
   * match its certificate throws KeyStoreError (KEYSTORE_CORRUPT) rather
   * than passing for a wrong pin. With the password given up front (or no
   * password at all) such faults surface at open time and this never throws.
   */
  openKeys(pin?: Uint8Array): KeyRing | null;
}

/** Host-side key store failures. `code` is stable for callers to branch on. */
export type KeyStoreErrorCode =
  | "KEYSTORE_NOT_FOUND" // directory or file missing
  | "KEYSTORE_CORRUPT" // unreadable / not a database / bad structure
  | "KEYSTORE_BAD_PASSWORD" // password given and wrong
  | "KEYSTORE_NO_SUCH_CERT" // nickname not in the store
  | "KEYSTORE_UNSUPPORTED" // e.g. an encryption scheme we cannot read
  | "KEYSTORE_TOO_MANY"; // more than 10 certificates

export class KeyStoreError extends Error {
  constructor(
    readonly code: KeyStoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "KeyStoreError";
  }
}

/** The private operation rejected its input; the card answers 6984. */
export class KeyOperationError extends Error {
  readonly code = "KEY_OPERATION_INPUT";
  constructor(message: string) {
    super(message);
    this.name = "KeyOperationError";
  }
}

export interface OpenKeyStoreOptions {
  /** Directory: an NSS sql: DB (cert9.db + key4.db; "sql:" prefix allowed) or a PEM directory. */
  readonly db: string;
  /** Nicknames in PKI order; 1 to 10. */
  readonly nicknames: readonly string[];
  /**
   * The DB / key password, if known up front (from --password-file or the API).
   * When given it is checked at open time (wrong → KEYSTORE_BAD_PASSWORD) and
   * VERIFY must present exactly it.
   */
  readonly password?: Uint8Array;
  /**
   * libcacard silently skips nicknames that are not found, shifting later
   * certificates down. Off by default (unknown nickname is an error).
   */
  readonly skipMissing?: boolean;
  /**
   * Decrypt private keys at their first use instead of at open. Start-up then
   * reads no secret and skips the PBKDF2 work (what the long-running CLI
   * commands want for a fast start); a damaged key is then found at first use
   * (the card answers 6F00 and warns) instead of failing the open. What needs
   * no decryption (each key matches its certificate) is still checked at open.
   */
  readonly deferKeyDecryption?: boolean;
}
