/**
 * fflate's zlib as the CAC certificate compressor: pure JavaScript, so the
 * bytes depend only on the input and fflate's version (not on the zlib a
 * Node build links), and it runs in a browser. Importing this installs it.
 */
import { zlibSync } from "fflate";
import { setCertificateCompressor, type CertificateCompressor } from "./certificate-compression.js";

/** The smallest stream, so the fewest READ BUFFERs. */
const ZLIB_LEVEL = 9;

export const fflateCompressor: CertificateCompressor = (der) => zlibSync(der, { level: ZLIB_LEVEL });

setCertificateCompressor(fflateCompressor);
