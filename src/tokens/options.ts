/** How a key store opened from files is chosen and unlocked. */
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
