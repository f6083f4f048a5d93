/**
 * The key4.db password: turning it into the PBE key ("passKey") and checking
 * it against the DB's password-check entry (NSS
 * lib/softoken/sftkpwd.c, sftkdb_CheckPassword).
 */
import { createHash } from "node:crypto";
import type { MetaDataItem } from "./attributes.js";
import { decryptNssData, NssPbeFormatError, parseEncryptedData, type NssEncryptedData } from "./pbe.js";

/** metaData row that holds the global salt (item1) and the encrypted check value (item2). */
export const PASSWORD_ROW_ID = "password";

/** The plaintext the check entry decrypts to under the right password (sftkpwd.c). */
const PASSWORD_CHECK = new TextEncoder().encode("password-check");

/**
 * NSS ≥ 3.118 (bug 1990242) hashes the password with SHA-384 when the global
 * salt is 48 bytes long; older salts (20 bytes) mean SHA-1 (sftkpwd.c sftkdb_passwordToKey).
 */
const SHA384_GLOBAL_SALT_BYTES = 48;

export interface PasswordEntry {
  readonly globalSalt: Uint8Array;
  readonly check: NssEncryptedData;
}

/** sftkdb_passwordToKey: hash(globalSalt || password), no NUL terminator. */
export function derivePassKey(globalSalt: Uint8Array, password: Uint8Array): Uint8Array {
  const digest = globalSalt.length === SHA384_GLOBAL_SALT_BYTES ? "sha384" : "sha1";
  const key = createHash(digest).update(globalSalt).update(password).digest();
  return new Uint8Array(key.buffer, key.byteOffset, key.length);
}

/**
 * Reads the "password" metaData row; undefined when the DB has none (a DB that
 * was never given a password and so holds no private keys). Throws
 * NssPbeFormatError when the row is there but unusable.
 */
export function readPasswordEntry(meta: ReadonlyMap<string, MetaDataItem>): PasswordEntry | undefined {
  const row = meta.get(PASSWORD_ROW_ID);
  if (row === undefined) return undefined;
  if (row.item1 === undefined || row.item1.length === 0 || row.item2 === undefined) {
    throw new NssPbeFormatError("malformed", "password entry lacks its salt or check value");
  }
  return { globalSalt: row.item1, check: parseEncryptedData(row.item2) };
}

/** Returns the passKey when `password` opens the DB, null when it does not. */
export async function checkPassword(entry: PasswordEntry, password: Uint8Array): Promise<Uint8Array | null> {
  const passKey = derivePassKey(entry.globalSalt, password);
  const plain = await decryptNssData(entry.check, passKey);
  // A wrong password usually fails the padding check; the comparison catches
  // the rare wrong password whose garbage happens to end in valid padding.
  if (plain !== null && sameBytes(plain, PASSWORD_CHECK)) return passKey;
  passKey.fill(0);
  return null;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
