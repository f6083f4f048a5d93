/**
 * TLS credentials in QEMU's tls-creds-x509 directory layout, so that one
 * directory can serve QEMU and cacard:
 *
 *   ca-cert.pem                    required (trust anchor for the peer)
 *   ca-crl.pem                     optional; when present, revoked peers are refused
 *   client-cert.pem, client-key.pem  our identity when we connect (QEMU server=on)
 *   server-cert.pem, server-key.pem  our identity when we listen (QEMU server=off)
 *
 * Everything is read and checked up front; a missing or unusable file stops
 * the start with its path in the message. There is never a plaintext fallback.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import { FileReadError, fsErrorReason, readFileBounded } from "../../util/read-file.js";
import { join } from "node:path";
import { createSecureContext, type PeerCertificate, type SecureContext, type SecureContextOptions, type TLSSocket } from "node:tls";
import { CacardError } from "../../core/errors.js";

export type TlsRole = "client" | "server";

export const TLS_FILES = {
  ca: "ca-cert.pem",
  crl: "ca-crl.pem",
  clientCert: "client-cert.pem",
  clientKey: "client-key.pem",
  serverCert: "server-cert.pem",
  serverKey: "server-key.pem",
} as const;

export class TlsConfigError extends CacardError {
  constructor(
    message: string,
    readonly file?: string,
  ) {
    super("VSCARD_TLS_CONFIG", message);
  }
}

/**
 * Called after the handshake with the peer's certificate (chain included).
 * Return true to accept; false or a reason string to close the connection.
 */
export type VerifyPeer = (cert: PeerCertificate) => boolean | string;

export interface TlsDirOptions {
  readonly dir: string;
  readonly role: TlsRole;
  /** Check the peer's certificate against ca-cert.pem (and the CRL). Default true. */
  readonly verifyPeer?: boolean;
  /** Passphrase of an encrypted key file (UTF-8 text, as QEMU's passwordid). */
  readonly keyPassphrase?: string;
}

export interface TlsCredentials {
  readonly role: TlsRole;
  readonly dir: string;
  readonly verifyPeer: boolean;
  readonly secureContext: SecureContext;
  /** What secureContext was made from (a tls.Server needs the options, not the context). */
  readonly contextOptions: SecureContextOptions;
  readonly hasCrl: boolean;
  /** Our certificate's subject, for logs. */
  readonly subject: string;
}

/**
 * Largest TLS file read (a certificate, a key, a CA bundle or a CRL). QEMU's
 * own files are a few KiB; a CA's CRL can grow, hence the room.
 */
export const MAX_TLS_FILE_BYTES = 8 * 1024 * 1024;

function readTlsFile(path: string): Buffer {
  const bytes = readFileBounded(path, { maxBytes: MAX_TLS_FILE_BYTES });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

function readRequired(dir: string, name: string): Buffer {
  const path = join(dir, name);
  try {
    return readTlsFile(path);
  } catch (e) {
    throw new TlsConfigError(`TLS: cannot read ${path}: ${fsReason(e)}`, path);
  }
}

function readOptional(dir: string, name: string): Buffer | null {
  const path = join(dir, name);
  try {
    return readTlsFile(path);
  } catch (e) {
    if (e instanceof FileReadError && e.code === "FILE_NOT_FOUND") return null;
    throw new TlsConfigError(`TLS: cannot read ${path}: ${fsReason(e)}`, path);
  }
}

function fsReason(e: unknown): string {
  return e instanceof FileReadError ? e.reason : fsErrorReason(e);
}

function parseCert(pem: Buffer, path: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (e) {
    throw new TlsConfigError(`TLS: ${path} is not a PEM certificate (${(e as Error).message})`, path);
  }
}

function loadKey(pem: Buffer, path: string, passphrase: string | undefined): KeyObject {
  const text = pem.toString("latin1");
  const encrypted = text.includes("ENCRYPTED PRIVATE KEY") || text.includes("Proc-Type: 4,ENCRYPTED");
  if (encrypted && passphrase === undefined) {
    throw new TlsConfigError(`TLS: ${path} is encrypted; give its passphrase with --tls-key-secret ID`, path);
  }
  try {
    return createPrivateKey(passphrase === undefined ? { key: pem } : { key: pem, passphrase });
  } catch (e) {
    const why = encrypted ? "cannot decrypt it (wrong passphrase?)" : `not a usable private key (${(e as Error).message})`;
    throw new TlsConfigError(`TLS: ${path}: ${why}`, path);
  }
}

/** Reads and checks the files our role needs; throws TlsConfigError naming the file. */
export function loadTlsDir(options: TlsDirOptions): TlsCredentials {
  const { dir, role } = options;
  const verifyPeer = options.verifyPeer ?? true;
  // Like QEMU, ca-cert.pem is required even when the peer is not verified.
  const caPem = readRequired(dir, TLS_FILES.ca);
  parseCert(caPem, join(dir, TLS_FILES.ca));
  const crlPem = readOptional(dir, TLS_FILES.crl);
  const certName = role === "client" ? TLS_FILES.clientCert : TLS_FILES.serverCert;
  const keyName = role === "client" ? TLS_FILES.clientKey : TLS_FILES.serverKey;
  const certPath = join(dir, certName);
  const keyPath = join(dir, keyName);
  const certPem = readRequired(dir, certName);
  const keyPem = readRequired(dir, keyName);
  const cert = parseCert(certPem, certPath);
  const key = loadKey(keyPem, keyPath, options.keyPassphrase);
  if (!cert.checkPrivateKey(key)) {
    throw new TlsConfigError(`TLS: ${keyPath} does not belong to ${certPath}`, keyPath);
  }
  // The decrypted key stays in memory only.
  const keyOut = key.export({ format: "pem", type: "pkcs8" }) as string;
  const contextOptions: SecureContextOptions = {
    ca: caPem,
    cert: certPem,
    key: keyOut,
    ...(crlPem ? { crl: crlPem } : {}),
    minVersion: "TLSv1.2",
  };
  let secureContext: SecureContext;
  try {
    secureContext = createSecureContext(contextOptions);
  } catch (e) {
    const msg = (e as Error).message;
    const file = /crl/i.test(msg) && crlPem ? join(dir, TLS_FILES.crl) : certPath;
    throw new TlsConfigError(`TLS: cannot use ${file}: ${msg}`, file);
  }
  return { role, dir, verifyPeer, secureContext, contextOptions, hasCrl: crlPem !== null, subject: cert.subject.replace(/\n/g, ", ") };
}

/** Runs the embedding hook; returns null to accept or the reason to refuse. */
export function runVerifyPeer(hook: VerifyPeer | undefined, cert: PeerCertificate): string | null {
  if (!hook) return null;
  let verdict: boolean | string;
  try {
    verdict = hook(cert);
  } catch (e) {
    return `verifyPeer threw: ${(e as Error).message}`;
  }
  if (verdict === true) return null;
  return typeof verdict === "string" && verdict !== "" ? verdict : "peer certificate refused by verifyPeer";
}

/** "TLSv1.3 TLS_AES_256_GCM_SHA384": what the connected event reports. */
export function tlsDescription(socket: TLSSocket): string {
  const cipher = socket.getCipher();
  return `${socket.getProtocol() ?? "TLS"} ${cipher?.name ?? "?"}`;
}
