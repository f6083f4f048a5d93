/**
 * How the CAC personality compresses certificates (--compress-certificates,
 * CertInfo 01). zlib is not something every platform has synchronously, and
 * its library costs start-up time on the path that never needs it, so the
 * compressor is supplied: the "cacard" and "cacard/core" entries install
 * fflate's (certificate-zlib.ts); the CLI loads it only when asked.
 */
import { CacardError } from "../errors.js";

/** zlib (RFC 1950) of a certificate's DER. */
export type CertificateCompressor = (der: Uint8Array) => Uint8Array;

let installed: CertificateCompressor | null = null;

export function setCertificateCompressor(compressor: CertificateCompressor): void {
  installed = compressor;
}

/** The compressor an option asks for: none, the one given, or the installed one. */
export function resolveCompressor(option: boolean | CertificateCompressor | undefined): CertificateCompressor | null {
  if (option === undefined || option === false) return null;
  if (typeof option === "function") return option;
  if (installed === null) {
    throw new CacardError(
      "NO_CERTIFICATE_COMPRESSOR",
      "compressed certificates need a zlib compressor: import cacard or cacard/core, or pass compressCertificates a function",
    );
  }
  return installed;
}
