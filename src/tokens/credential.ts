/**
 * Turning certificate DER into a Credential: subject text for humans and the
 * RSA modulus size for the PKI applet's properties (libcacard's
 * vcard_emul_rsa_bits = SECKEY_PublicKeyStrengthInBits of the cert's key).
 *
 * This runs on every card start, so it uses node:crypto's X509Certificate
 * (OpenSSL, native): loading @peculiar/x509 and its ASN.1 stack costs about
 * 80 ms and 8 MB before the first certificate is even parsed, which alone
 * would break the 250 ms start-to-ATR budget. @peculiar/x509 is used where a
 * full certificate model is shown to people (`cacard info`, `cacard demo`).
 */
import { X509Certificate } from "node:crypto";
import { rsaModulusOf } from "./rsa-ring.js";
import { KeyStoreError, type Credential } from "./types.js";

export interface ParsedCertificate {
  readonly credential: Credential;
  /** The certificate's RSA modulus, or null when its key is not RSA. */
  readonly rsaModulus: Uint8Array | null;
}

/**
 * Parses `der`; `source` names where it came from (a file, or a nickname in a
 * DB) for the KEYSTORE_CORRUPT message when it is not a certificate.
 */
export function parseCertificate(nickname: string, der: Uint8Array, source: string): ParsedCertificate {
  let cert: X509Certificate;
  let subject: string;
  try {
    cert = new X509Certificate(der);
    // OpenSSL lists the RDNs one per line, in DER order, as @peculiar/x509 does with ", ".
    subject = cert.subject.split("\n").join(", ");
  } catch {
    throw new KeyStoreError("KEYSTORE_CORRUPT", `${source} is not a readable X.509 certificate`);
  }
  const rsaModulus = certificateRsaModulus(cert);
  const credential: Credential = {
    nickname,
    certificate: Uint8Array.from(der),
    subject,
    keyBits: rsaModulus === null ? 0 : bitLength(rsaModulus),
  };
  return { credential, rsaModulus };
}

/** The RSA modulus of the certificate's key; null for other (or unknown) key types. */
function certificateRsaModulus(cert: X509Certificate): Uint8Array | null {
  try {
    return rsaModulusOf(cert.publicKey);
  } catch {
    // A key node cannot load (unknown type, or damaged) is unusable for RSA: 0 bits.
    return null;
  }
}

/** Bit length of an unsigned big-endian integer without leading zero bytes. */
function bitLength(n: Uint8Array): number {
  if (n.length === 0) return 0;
  return (n.length - 1) * 8 + (32 - Math.clz32(n[0]));
}
