/**
 * `cacard list`: every certificate a key-store directory holds, whichever
 * nickname would pick it, with its subject, key algorithm and whether the
 * store has its private key. Nothing is decrypted and no password is needed:
 * key presence is visible without one (NSS keeps CKA_ID and the RSA modulus
 * of key4.db objects in clear; a PEM key is a file). The same names feed the
 * "no certificate named X" error.
 */
import { resolve } from "node:path";
import type { KeyAlgorithm } from "../core/token/types.js";
import { parseCertificate, type ParsedCertificate } from "./credential.js";
import { findCertificateFile, readCertificateFile, readKeyFile } from "./pem-files.js";
import { pemNicknames } from "./pem.js";
import { rsaModulusOf } from "./soft-key.js";
import { readNssDbFiles } from "./nss/db-files.js";
import { CKA, type NssObject } from "./nss/attributes.js";
import { findCertificate, findKey, nssNicknames } from "./nss/lookup.js";
import { keyObjectType } from "./nss/private-key.js";
import type { NssTables } from "./nss/tables.js";
import { detectKind } from "./open.js";

/** One certificate of a store, as `cacard list` prints it. */
export interface ListedCertificate {
  /** The name that selects it: NSS nickname (CKA_LABEL) or PEM file stem. */
  readonly label: string;
  readonly subject: string;
  readonly algorithm: KeyAlgorithm;
  readonly hasPrivateKey: boolean;
}

export interface StoreListing {
  readonly kind: "nss" | "pem";
  readonly location: string;
  readonly certificates: readonly ListedCertificate[];
}

/** Lists the NSS database or PEM directory `db` (same detection as openKeyStore). */
export async function listKeyStore(db: string): Promise<StoreListing> {
  if (detectKind(db) === "pem") return listPemDirectory(db);
  const files = readNssDbFiles(db);
  const [{ loadSqlEngine }, { readNssTables }] = await Promise.all([import("./nss/sqlite.js"), import("./nss/tables.js")]);
  const tables = readNssTables(await loadSqlEngine(), files);
  return { kind: "nss", location: files.dir, certificates: listNssTables(tables, `NSS database ${files.dir}`) };
}

function listNssTables(tables: NssTables, where: string): ListedCertificate[] {
  const { certObjects, keyObjects } = tables;
  return nssNicknames(certObjects).flatMap((label) => {
    const cert = findCertificate(certObjects, keyObjects, label);
    const der = cert?.attributes.get(CKA.VALUE);
    if (cert === undefined || der === undefined || der.length === 0) return [];
    const parsed = tryParse(label, der, `certificate ${JSON.stringify(label)} in ${where}`);
    if (parsed === null) return [];
    const key = findKey(keyObjects, cert, parsed.publicKey ? rsaModulusOf(parsed.publicKey) : null);
    return [entry(parsed, key !== null && keyObjectType(key) !== "other")];
  });
}

function listPemDirectory(db: string): StoreListing {
  const dir = resolve(db);
  const certificates = pemNicknames(dir).flatMap((label) => {
    const path = findCertificateFile(dir, label);
    if (path === undefined) return []; // e.g. NAME.CRT: found by the listing, not by the lookup
    const parsed = tryParse(label, readCertificateFile(path), path);
    if (parsed === null) return [];
    let hasKey = false;
    try {
      hasKey = readKeyFile(dir, label) !== undefined && parsed.algorithm.kind !== "unsupported";
    } catch {
      hasKey = false; // a .key file that holds no key: the card would refuse it
    }
    return [entry(parsed, hasKey)];
  });
  return { kind: "pem", location: dir, certificates };
}

function tryParse(label: string, der: Uint8Array, source: string): ParsedCertificate | null {
  try {
    return parseCertificate(label, der, source);
  } catch {
    return null; // not a certificate the card could serve; listed by nothing
  }
}

function entry(parsed: ParsedCertificate, hasPrivateKey: boolean): ListedCertificate {
  return { label: parsed.label, subject: parsed.subject, algorithm: parsed.algorithm, hasPrivateKey };
}
