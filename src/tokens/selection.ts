/**
 * Choosing the credentials of a card from the nicknames asked for, with
 * libcacard's rules (libcacard vcard_emul_nss.c
 * vcard_emul_options and cac.c cac_card_init): at most 10 PKI applets, nicknames in order, and, when asked,
 * unknown nicknames silently skipped so later ones move down.
 */
import { KeyStoreError } from "../core/token/types.js";
import type { OpenKeyStoreOptions } from "./options.js";

/** A card holds at most as many credentials as a CAC has PKI applets (cac_card_init: 10). */
export { MAX_PKI_APPLETS as MAX_CREDENTIALS } from "../core/cac/aids.js";
import { MAX_PKI_APPLETS as MAX_CREDENTIALS } from "../core/cac/aids.js";

export interface Selected<T> {
  readonly nickname: string;
  readonly found: T;
}

/**
 * Looks every nickname up with `find`. `where` names the store in messages
 * (a path); `available` lists the store's nicknames for them. Throws
 * KeyStoreError: KEYSTORE_TOO_MANY, or KEYSTORE_NO_SUCH_CERT for an unknown
 * nickname (unless skipMissing) or when nothing is left.
 */
export function selectCredentials<T>(
  options: Pick<OpenKeyStoreOptions, "nicknames" | "skipMissing">,
  where: string,
  find: (nickname: string) => T | undefined,
  available: () => readonly string[] = () => [],
): Selected<T>[] {
  const holds = () => {
    const names = available();
    return names.length === 0 ? "it holds no certificate" : `it holds ${names.map((n) => JSON.stringify(n)).join(", ")}`;
  };
  const { nicknames } = options;
  if (nicknames.length > MAX_CREDENTIALS) {
    throw new KeyStoreError(
      "KEYSTORE_TOO_MANY",
      `${nicknames.length} certificates asked for from ${where}; a CAC card holds at most ${MAX_CREDENTIALS}`,
    );
  }
  if (nicknames.length === 0) {
    throw new KeyStoreError("KEYSTORE_NO_SUCH_CERT", `no certificate nicknames given for ${where}`);
  }
  const selected: Selected<T>[] = [];
  for (const nickname of nicknames) {
    // An empty nickname (libcacard: a trailing comma in soft=(…)) never matches.
    const found = nickname === "" ? undefined : find(nickname);
    if (found !== undefined) {
      selected.push({ nickname, found });
    } else if (!options.skipMissing) {
      throw new KeyStoreError("KEYSTORE_NO_SUCH_CERT", `no certificate named ${JSON.stringify(nickname)} in ${where} (${holds()})`);
    }
  }
  if (selected.length === 0) {
    throw new KeyStoreError(
      "KEYSTORE_NO_SUCH_CERT",
      `none of the certificates ${nicknames.map((n) => JSON.stringify(n)).join(", ")} is in ${where} (${holds()})`,
    );
  }
  return selected;
}
