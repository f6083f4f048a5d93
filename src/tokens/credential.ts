/**
 * Turning certificate DER into a credential: subject text for people and the
 * key algorithm (RSA size, EC curve) for the card.
 *
 * This runs on every card start, so it uses node:crypto's X509Certificate
 * (OpenSSL, native): loading @peculiar/x509 and its ASN.1 stack costs about
 * 80 ms and 8 MB before the first certificate is even parsed, which alone
 * would break the 250 ms start-to-ATR budget. @peculiar/x509 is used where a
 * full certificate model is shown to people (`cacard info`, `cacard demo`).
 */
import { X509Certificate, type KeyObject } from "node:crypto";
import { KeyStoreError, type Credential, type KeyAlgorithm } from "../core/token/types.js";
import { keyAlgorithmOf } from "./soft-key.js";

export interface ParsedCertificate {
  readonly label: string;
  readonly certificate: Uint8Array;
  readonly subject: string;
  readonly algorithm: KeyAlgorithm;
  /** The certificate's public key; null when OpenSSL cannot load it. */
  readonly publicKey: KeyObject | null;
}

/**
 * Parses `der`; `source` names where it came from (a file, or a nickname in a
 * DB) for the KEYSTORE_CORRUPT message when it is not a certificate.
 */
export function parseCertificate(label: string, der: Uint8Array, source: string): ParsedCertificate {
  let cert: X509Certificate;
  let subject: string;
  try {
    cert = new X509Certificate(der);
    // OpenSSL lists the RDNs one per line, in DER order, as @peculiar/x509 does with ", ".
    subject = cert.subject.split("\n").join(", ");
  } catch {
    throw new KeyStoreError("KEYSTORE_CORRUPT", `${source} is not a readable X.509 certificate`);
  }
  let publicKey: KeyObject | null;
  try {
    publicKey = cert.publicKey;
  } catch {
    // A key OpenSSL cannot load (unknown type, or damaged) is listed, never used.
    publicKey = null;
  }
  const algorithm: KeyAlgorithm = publicKey ? keyAlgorithmOf(publicKey) : { kind: "unsupported", name: "unreadable key" };
  return { label, certificate: Uint8Array.from(der), subject, algorithm, publicKey };
}

/** The credential the card sees, once the store knows whether it holds the private key. */
export function toCredential(parsed: ParsedCertificate, hasPrivateKey: boolean): Credential {
  const { label, certificate, subject, algorithm } = parsed;
  return { label, certificate, subject, algorithm, hasPrivateKey };
}
