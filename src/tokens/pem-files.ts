/**
 * Reading the files of a PEM key-store directory: `<nickname>.pem` or
 * `<nickname>.crt` (a PEM or DER certificate) and `<nickname>.key` (a PEM
 * private key: PKCS#8, encrypted PKCS#8, PKCS#1 "RSA PRIVATE KEY" or SEC 1
 * "EC PRIVATE KEY").
 */
import { FileReadError, readFileBounded } from "../util/read-file.js";
import { isFile } from "../util/fs.js";
import { join } from "node:path";
import { KeyStoreError } from "../core/token/types.js";

/** Certificate file extensions, in the order they are looked for. */
export const CERT_EXTENSIONS = [".pem", ".crt"] as const;
export const KEY_EXTENSION = ".key";

/** Certificates and keys are a few KiB; anything far larger is the wrong file. */
export const MAX_PEM_FILE_BYTES = 1024 * 1024;

/** DER SEQUENCE tag: the first byte of a DER certificate. */
const DER_SEQUENCE = 0x30;

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;
/** RFC 1421 header lines ("Proc-Type: 4,ENCRYPTED") sit between BEGIN and a blank line. */
const PEM_HEADER_LINE = /^[A-Za-z-]+:/;

/**
 * The PEM labels of private keys we accept, and whether each is encrypted.
 * "EC PRIVATE KEY" is SEC 1 (RFC 5915), what `openssl ecparam -genkey`
 * writes: the EC counterpart of PKCS#1, encrypted the same legacy way.
 */
const KEY_LABELS: ReadonlyMap<string, "pkcs8" | "pkcs8-encrypted" | "pkcs1" | "sec1"> = new Map([
  ["PRIVATE KEY", "pkcs8"],
  ["ENCRYPTED PRIVATE KEY", "pkcs8-encrypted"],
  ["RSA PRIVATE KEY", "pkcs1"],
  ["EC PRIVATE KEY", "sec1"],
]);

export interface PemBlock {
  readonly label: string;
  readonly headers: readonly string[];
  readonly der: Uint8Array;
  /** The block exactly as written, for node:crypto, which parses PEM itself. */
  readonly text: string;
}

/** A private key file: its PEM text and whether a password is needed to use it. */
export interface PemKeyFile {
  readonly path: string;
  readonly pem: string;
  readonly encrypted: boolean;
}

/**
 * True when `nickname` can name a file in the directory: no path separators,
 * no "." or "..", no NUL. Anything else is simply never found.
 */
export function isFileStem(nickname: string): boolean {
  return nickname !== "" && nickname !== "." && nickname !== ".." && !/[/\\\0]/.test(nickname);
}

/** The certificate file of `nickname` (.pem before .crt), or undefined. */
export function findCertificateFile(dir: string, nickname: string): string | undefined {
  if (!isFileStem(nickname)) return undefined;
  return CERT_EXTENSIONS.map((ext) => join(dir, nickname + ext)).find(isFile);
}

/** The certificate DER in `path`: the first CERTIFICATE block of a PEM file, or the file itself as DER. */
export function readCertificateFile(path: string): Uint8Array {
  const bytes = readSmallFile(path);
  const text = new TextDecoder("latin1").decode(bytes);
  if (text.includes("-----BEGIN ")) {
    const block = pemBlocks(text).find((b) => b.label === "CERTIFICATE");
    if (block === undefined || block.der.length === 0) {
      throw new KeyStoreError("KEYSTORE_CORRUPT", `${path} has no PEM CERTIFICATE block`);
    }
    return block.der;
  }
  if (bytes.length === 0 || bytes[0] !== DER_SEQUENCE) {
    throw new KeyStoreError("KEYSTORE_CORRUPT", `${path} is neither a PEM nor a DER certificate`);
  }
  return bytes;
}

/** The private key file of `nickname`, or undefined when there is none. */
export function readKeyFile(dir: string, nickname: string): PemKeyFile | undefined {
  const path = join(dir, nickname + KEY_EXTENSION);
  if (!isFile(path)) return undefined;
  const text = new TextDecoder("latin1").decode(readSmallFile(path));
  for (const block of pemBlocks(text)) {
    const kind = KEY_LABELS.get(block.label);
    if (kind === undefined) continue;
    // A PKCS#1 or SEC 1 key may be encrypted the old OpenSSL way, announced in its headers.
    const encrypted = kind === "pkcs8-encrypted" || block.headers.some((h) => /^Proc-Type:\s*4,\s*ENCRYPTED/i.test(h));
    return { path, pem: block.text, encrypted };
  }
  throw new KeyStoreError("KEYSTORE_CORRUPT", `${path} holds no PEM private key (PRIVATE KEY, ENCRYPTED PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)`);
}

/** Splits PEM text into blocks (RFC 7468), keeping RFC 1421 headers apart from the base64. */
export function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    const headers: string[] = [];
    const body: string[] = [];
    for (const line of m[2].split(/\r?\n/)) {
      if (body.length === 0 && PEM_HEADER_LINE.test(line)) headers.push(line);
      else body.push(line);
    }
    const base64 = body.join("").replace(/\s+/g, "");
    const der = /^[A-Za-z0-9+/]*={0,2}$/.test(base64) ? new Uint8Array(Buffer.from(base64, "base64")) : new Uint8Array(0);
    blocks.push({ label: m[1], headers, der, text: m[0] + "\n" });
  }
  return blocks;
}

function readSmallFile(path: string): Uint8Array {
  try {
    return readFileBounded(path, { maxBytes: MAX_PEM_FILE_BYTES });
  } catch (err) {
    if (!(err instanceof FileReadError)) throw err;
    if (err.code === "FILE_TOO_LARGE") {
      throw new KeyStoreError("KEYSTORE_CORRUPT", `${path} is larger than ${MAX_PEM_FILE_BYTES} bytes, too large for a certificate or key`);
    }
    const code = err.code === "FILE_ACCESS" ? "KEYSTORE_UNREADABLE" : "KEYSTORE_NOT_FOUND";
    throw new KeyStoreError(code, `${path} cannot be read: ${err.reason}`, { cause: err });
  }
}

