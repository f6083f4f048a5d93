/**
 * Pairs the files a user picked into credentials by file stem, as the PEM
 * store pairs `<name>.pem` with `<name>.key` (src/tokens/pem-files.ts):
 * certificates are .pem/.crt/.cer/.der, keys .key/.p8/.pk8 (or any file whose
 * PEM says PRIVATE KEY). The card's order is the stems' natural order.
 */
import { KeyStoreError } from "../core/token/types.js";
import type { CredentialFiles } from "./browser-token.js";

export interface PickedFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

const CERT_EXT = /\.(pem|crt|cer|der)$/i;
const KEY_EXT = /\.(key|p8|pk8)$/i;

function stem(name: string): string {
  return name.replace(/^.*[\\/]/, "").replace(/\.[^.]*$/, "");
}

/** True when a file's text is a PEM private key, whatever its name. */
function looksLikeKey(bytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(bytes.subarray(0, 64));
  return /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(head);
}

export function pairFiles(files: readonly PickedFile[]): CredentialFiles[] {
  const certs = new Map<string, PickedFile>();
  const keys = new Map<string, PickedFile>();
  for (const f of files) {
    const s = stem(f.name);
    const isKey = KEY_EXT.test(f.name) || looksLikeKey(f.bytes);
    const target = isKey ? keys : CERT_EXT.test(f.name) ? certs : null;
    if (target === null) throw new KeyStoreError("KEYSTORE_UNSUPPORTED", `${f.name}: not a certificate (.pem .crt .cer .der) or key (.key .p8)`);
    if (target.has(s)) throw new KeyStoreError("KEYSTORE_CORRUPT", `two ${isKey ? "keys" : "certificates"} named ${s}`);
    target.set(s, f);
  }
  for (const s of keys.keys()) {
    if (!certs.has(s)) throw new KeyStoreError("KEYSTORE_NO_SUCH_CERT", `${keys.get(s)!.name} has no certificate named ${s}.pem`);
  }
  const stems = [...certs.keys()].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  return stems.map((s) => {
    const cert = certs.get(s)!;
    const key = keys.get(s);
    return { label: s, certificate: cert.bytes, certificateName: cert.name, key: key?.bytes, keyName: key?.name };
  });
}
