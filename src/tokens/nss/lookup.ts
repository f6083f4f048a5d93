/**
 * Finding a certificate by nickname and its private key, as NSS does for
 * libcacard (libcacard vcard_emul_nss.c, NSS PK11_FindCertFromNickname): the certificate is the
 * CKO_CERTIFICATE object whose CKA_LABEL is the nickname, its key the
 * CKO_PRIVATE_KEY object with the same CKA_ID. Private keys carry no label.
 */
import { sameUnsigned } from "../soft-key.js";
import { CKA, type NssObject } from "./attributes.js";

/**
 * `certutil -K` shows keys as "NSS Certificate DB:cert1"; that prefix is the
 * internal token's name, not part of the label (vcard_emul_nss.c). libcacard accepts
 * "token:nickname", so a nickname with this prefix also finds the label.
 */
const INTERNAL_TOKEN_PREFIX = "NSS Certificate DB:";

/**
 * The certificate object labelled `nickname`. Several certificates may share
 * a nickname (a renewed certificate keeps its name); prefer one whose private
 * key is present, then the most recently added (NSS's ids only grow).
 */
export function findCertificate(certs: readonly NssObject[], keys: readonly NssObject[], nickname: string): NssObject | undefined {
  let candidates = certsLabelled(certs, nickname);
  if (candidates.length === 0 && nickname.startsWith(INTERNAL_TOKEN_PREFIX)) {
    candidates = certsLabelled(certs, nickname.slice(INTERNAL_TOKEN_PREFIX.length));
  }
  if (candidates.length <= 1) return candidates[0];
  const withKey = candidates.filter((c) => keys.some((k) => sameId(k, c)));
  const pool = withKey.length > 0 ? withKey : candidates;
  return pool.reduce((best, c) => (c.id > best.id ? c : best));
}

function certsLabelled(certs: readonly NssObject[], nickname: string): NssObject[] {
  const label = new TextEncoder().encode(nickname);
  return certs.filter((c) => {
    const l = c.attributes.get(CKA.LABEL);
    return l !== undefined && l.length === label.length && l.every((b, i) => b === label[i]);
  });
}

/**
 * The private key of `cert`: same CKA_ID (vcard_emul_nss.c). Keys without a usable
 * CKA_ID are matched by modulus instead, which is what CKA_ID is derived from.
 */
export function findKey(keys: readonly NssObject[], cert: NssObject, certModulus: Uint8Array | null): NssObject | null {
  const byId = keys.find((k) => sameId(k, cert));
  if (byId !== undefined) return byId;
  if (certModulus === null) return null;
  return (
    keys.find((k) => {
      const n = k.attributes.get(CKA.MODULUS);
      return n !== undefined && n.length > 0 && sameUnsigned(n, certModulus);
    }) ?? null
  );
}

function sameId(a: NssObject, b: NssObject): boolean {
  const x = a.attributes.get(CKA.ID);
  const y = b.attributes.get(CKA.ID);
  return x !== undefined && y !== undefined && x.length > 0 && x.length === y.length && x.every((v, i) => v === y[i]);
}

const utf8Lenient = new TextDecoder("utf-8", { fatal: false });

/** The distinct nicknames of an NSS database's certificates, in the order they were added. */
export function nssNicknames(certObjects: readonly NssObject[]): string[] {
  const names = new Set<string>();
  for (const c of [...certObjects].sort((a, b) => a.id - b.id)) {
    const label = c.attributes.get(CKA.LABEL);
    if (label !== undefined && label.length > 0) names.add(utf8Lenient.decode(label));
  }
  return [...names];
}
