/**
 * QEMU-style secret objects: `--object secret,id=ID,file=F|data=D
 * [,format=raw|base64][,keyid=ID2,iv=B64]`, with the semantics of QEMU's
 * QCryptoSecret (crypto/secret_common.c), so that one secret definition works
 * for both QEMU and cacard:
 *
 * - exactly one of file= (the whole file, byte for byte) or data= (the string);
 * - format=raw (default) keeps the bytes; format=base64 decodes them with
 *   QEMU's base64 rules (alphabet A-Z a-z 0-9 + / = and newline only);
 * - keyid= + iv= mean the bytes (after base64 decoding when format=base64)
 *   are AES-256-CBC ciphertext under the 32-byte value of an earlier secret;
 *   only the last plaintext byte is checked as the pad length (<= 16 and <=
 *   the length), as QEMU does. The plaintext is not base64-decoded again.
 *
 * Secrets are kept as bytes; callers wipe what they copy out when done.
 */
import { createDecipheriv } from "node:crypto";
import { FileReadError, fsErrorReason, readFileBounded } from "../util/read-file.js";
import { CacardError } from "../core/errors.js";

export type SecretErrorCode =
  | "SECRET_SYNTAX" // malformed option string or property
  | "SECRET_SOURCE" // file/data missing, both given, file unreadable
  | "SECRET_BASE64" // bad base64 text
  | "SECRET_DECRYPT" // keyid / iv / padding problems
  | "SECRET_DUPLICATE" // id defined twice
  | "SECRET_NOT_FOUND" // lookup of an unknown id
  | "SECRET_NOT_UTF8"; // consumer needs text

export class SecretError extends CacardError {
  declare readonly code: SecretErrorCode;
  constructor(code: SecretErrorCode, message: string) {
    super(code, message);
  }
}

export type SecretFormat = "raw" | "base64";

export interface SecretSpec {
  readonly id: string;
  readonly file?: string;
  readonly data?: string;
  readonly format: SecretFormat;
  readonly keyid?: string;
  readonly iv?: string;
}

export const AES_KEY_LENGTH = 32;
export const AES_IV_LENGTH = 16;
const AES_BLOCK = 16;

const PROPERTIES = new Set(["qom-type", "id", "file", "data", "format", "keyid", "iv", "loaded"]);
/** QEMU object ids: a letter first, then letters, digits, '-', '.', '_' (id_wellformed). */
const ID_RE = /^[A-Za-z][A-Za-z0-9_.-]*$/;

/**
 * Splits a QemuOpts-style string: comma-separated key=value pairs, where a
 * doubled comma ",," is a literal comma inside a value. The first element
 * may be a bare word (the implied qom-type, as in `secret,id=...`).
 */
export function splitQemuOpts(text: string): Array<[string, string | null]> {
  const parts: string[] = [];
  let cur = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === ",") {
      if (text[i + 1] === ",") {
        cur += ",";
        i++;
        continue;
      }
      parts.push(cur);
      cur = "";
      continue;
    }
    cur += c;
  }
  parts.push(cur);
  return parts.map((p) => {
    const eq = p.indexOf("=");
    return eq < 0 ? [p, null] : [p.slice(0, eq), p.slice(eq + 1)];
  });
}

/** Parses the text of one `--object` option; only the `secret` type is known. */
export function parseSecretObject(text: string): SecretSpec {
  const pairs = splitQemuOpts(text);
  const declared = pairs[0]?.[1] === null ? pairs[0][0] : pairs.find(([k]) => k === "qom-type")?.[1];
  if (declared !== undefined && declared !== null && declared !== "secret") {
    throw new SecretError("SECRET_SYNTAX", `--object: only 'secret' objects are supported, not '${declared}'`);
  }
  const props = new Map<string, string>();
  pairs.forEach(([key, value], index) => {
    if (value === null) {
      if (index === 0 && key !== "") {
        props.set("qom-type", key);
        return;
      }
      throw new SecretError("SECRET_SYNTAX", `--object ${text}: expected key=value, got '${key}'`);
    }
    if (!PROPERTIES.has(key)) {
      throw new SecretError("SECRET_SYNTAX", `--object: a secret has no property '${key}'`);
    }
    if (props.has(key)) throw new SecretError("SECRET_SYNTAX", `--object: '${key}' is given twice`);
    props.set(key, value);
  });
  const type = props.get("qom-type");
  if (type === undefined) throw new SecretError("SECRET_SYNTAX", "--object: the object type is missing (secret,id=...)");
  if (type !== "secret") {
    throw new SecretError("SECRET_SYNTAX", `--object: only 'secret' objects are supported, not '${type}'`);
  }
  const id = props.get("id");
  if (id === undefined || id === "") throw new SecretError("SECRET_SYNTAX", "--object secret: 'id' is required");
  if (!ID_RE.test(id)) {
    throw new SecretError("SECRET_SYNTAX", `--object secret: '${id}' is not a valid id (letter first; letters, digits, -._)`);
  }
  const format = props.get("format") ?? "raw";
  if (format !== "raw" && format !== "base64") {
    throw new SecretError("SECRET_SYNTAX", `secret '${id}': format must be raw or base64, not '${format}'`);
  }
  const file = props.get("file");
  const data = props.get("data");
  if (file !== undefined && data !== undefined) {
    throw new SecretError("SECRET_SOURCE", `secret '${id}': use either file= or data=, not both`);
  }
  if (file === undefined && data === undefined) {
    throw new SecretError("SECRET_SOURCE", `secret '${id}': one of file= or data= is required`);
  }
  const loaded = props.get("loaded");
  if (loaded !== undefined && !["on", "yes", "true"].includes(loaded)) {
    // QEMU's deprecated 'loaded' property; only loaded=on makes sense here.
    throw new SecretError("SECRET_SYNTAX", `secret '${id}': loaded=${loaded} is not supported`);
  }
  return {
    id,
    format,
    ...(file !== undefined ? { file } : {}),
    ...(data !== undefined ? { data } : {}),
    ...(props.has("keyid") ? { keyid: props.get("keyid") } : {}),
    ...(props.has("iv") ? { iv: props.get("iv") } : {}),
  };
}

// ---- base64, QEMU's way ------------------------------------------------------

const B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_ALLOWED = new Set([...B64_ALPHABET, "=", "\n"].map((c) => c.charCodeAt(0)));
const B64_RANK = new Int16Array(256).fill(-1);
for (let i = 0; i < B64_ALPHABET.length; i++) B64_RANK[B64_ALPHABET.charCodeAt(i)] = i;
B64_RANK[0x3d] = 0; // '=' counts as a zero digit; it only suppresses output bytes

/**
 * QEMU's qbase64_decode: rejects NUL and anything outside the alphabet,
 * '=' and '\n', then decodes like GLib's g_base64_decode: newlines are
 * skipped, '=' suppresses output bytes, an incomplete trailing group is
 * dropped silently.
 */
export function qemuBase64Decode(input: Uint8Array | string, what = "data"): Uint8Array {
  const bytes = typeof input === "string" ? Buffer.from(input, "latin1") : input;
  if (bytes.includes(0)) throw new SecretError("SECRET_BASE64", `${what} contains NUL bytes, so it is not base64`);
  for (const b of bytes) {
    if (!B64_ALLOWED.has(b)) throw new SecretError("SECRET_BASE64", `${what} has characters that are not base64`);
  }
  const out: number[] = [];
  let acc = 0;
  let n = 0;
  let last0 = 0;
  let last1 = 0;
  for (const c of bytes) {
    const rank = B64_RANK[c];
    if (rank < 0) continue;
    last1 = last0;
    last0 = c;
    acc = ((acc << 6) | rank) & 0xffffff;
    if (++n === 4) {
      out.push(acc >> 16);
      if (last1 !== 0x3d) out.push((acc >> 8) & 0xff);
      if (last0 !== 0x3d) out.push(acc & 0xff);
      n = 0;
      acc = 0;
    }
  }
  return Uint8Array.from(out);
}

// ---- loading -------------------------------------------------------------------

export interface SecretWarning {
  readonly id: string;
  readonly message: string;
}

/** Where the bytes of file= secrets come from (tests replace it). */
export type ReadFile = (path: string) => Uint8Array;

/**
 * Largest secret file= read. Secrets are passwords and keys (with base64 and
 * AES padding, a few hundred bytes); a FIFO or device is read with a time
 * limit too (src/util/read-file.ts).
 */
export const MAX_SECRET_FILE_BYTES = 64 * 1024;

function defaultReadFile(path: string): Uint8Array {
  return readFileBounded(path, { maxBytes: MAX_SECRET_FILE_BYTES });
}

/**
 * The secrets given on one command line, loaded in order as QEMU creates its
 * objects: a keyid must name a secret defined earlier.
 */
export class SecretStore {
  readonly #values = new Map<string, Uint8Array>();
  readonly #readFile: ReadFile;
  readonly warnings: SecretWarning[] = [];

  constructor(readFile: ReadFile = defaultReadFile) {
    this.#readFile = readFile;
  }

  /** Parses and loads `--object` texts in order. */
  static fromObjects(texts: readonly string[], readFile?: ReadFile): SecretStore {
    const store = new SecretStore(readFile);
    for (const t of texts) store.add(parseSecretObject(t));
    return store;
  }

  has(id: string): boolean {
    return this.#values.has(id);
  }

  get ids(): string[] {
    return [...this.#values.keys()];
  }

  add(spec: SecretSpec): void {
    if (this.#values.has(spec.id)) {
      throw new SecretError("SECRET_DUPLICATE", `secret '${spec.id}' is defined twice`);
    }
    this.#values.set(spec.id, this.#load(spec));
  }

  /** The secret's bytes (a copy the caller may wipe). */
  lookup(id: string): Uint8Array {
    const value = this.#values.get(id);
    if (value === undefined) throw new SecretError("SECRET_NOT_FOUND", `no secret with id '${id}' (add --object secret,id=${id},...)`);
    return value.slice();
  }

  /** The secret as text; like QEMU's lookup_as_utf8 it must be valid UTF-8 throughout. */
  lookupUtf8(id: string): string {
    const bytes = this.lookup(id);
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new SecretError("SECRET_NOT_UTF8", `secret '${id}' is not valid UTF-8 text`);
    } finally {
      bytes.fill(0);
    }
  }

  /** Wipes every stored value. */
  clear(): void {
    for (const v of this.#values.values()) v.fill(0);
    this.#values.clear();
  }

  #load(spec: SecretSpec): Uint8Array {
    let input: Uint8Array;
    if (spec.file !== undefined) {
      try {
        input = this.#readFile(spec.file);
      } catch (e) {
        const why = e instanceof FileReadError ? e.reason : fsErrorReason(e);
        throw new SecretError("SECRET_SOURCE", `secret '${spec.id}': cannot read ${spec.file}: ${why}`);
      }
      // QEMU keeps every byte of the file, a final newline included, and so
      // do we (the same file must give the same secret in both). Warn, since
      // `echo pw > file` is the usual mistake.
      if (spec.keyid === undefined && spec.format === "raw" && input.length > 0 && input[input.length - 1] === 0x0a) {
        this.warnings.push({
          id: spec.id,
          message: `secret '${spec.id}': ${spec.file} ends with a newline, which is kept as part of the secret (as QEMU does); write it with printf '%s' if that is not intended`,
        });
      }
    } else {
      input = new TextEncoder().encode(spec.data ?? "");
      if (spec.keyid === undefined) {
        this.warnings.push({
          id: spec.id,
          message: `secret '${spec.id}': data= is visible to every local user in the process list; prefer file= (or data= with keyid= encryption)`,
        });
      }
    }
    if (spec.keyid !== undefined) return this.#decrypt(spec, input);
    if (spec.iv !== undefined) {
      throw new SecretError("SECRET_DECRYPT", `secret '${spec.id}': iv= is only meaningful with keyid=`);
    }
    if (spec.format === "base64") return qemuBase64Decode(input, `secret '${spec.id}'`);
    return input;
  }

  #decrypt(spec: SecretSpec, input: Uint8Array): Uint8Array {
    const id = spec.id;
    const keyid = spec.keyid as string;
    if (!this.#values.has(keyid)) {
      throw new SecretError("SECRET_NOT_FOUND", `secret '${id}': no secret with id '${keyid}' defined before it`);
    }
    const key = this.lookup(keyid);
    try {
      if (key.length !== AES_KEY_LENGTH) {
        throw new SecretError(
          "SECRET_DECRYPT",
          `secret '${id}': key '${keyid}' is ${key.length} bytes; AES-256 needs exactly ${AES_KEY_LENGTH}`,
        );
      }
      if (spec.iv === undefined) throw new SecretError("SECRET_DECRYPT", `secret '${id}': iv= is required with keyid=`);
      const iv = qemuBase64Decode(spec.iv, `secret '${id}': iv`);
      if (iv.length !== AES_IV_LENGTH) {
        throw new SecretError("SECRET_DECRYPT", `secret '${id}': iv is ${iv.length} bytes; it must be ${AES_IV_LENGTH}`);
      }
      const ciphertext = spec.format === "base64" ? qemuBase64Decode(input, `secret '${id}'`) : input;
      if (ciphertext.length === 0 || ciphertext.length % AES_BLOCK !== 0) {
        throw new SecretError(
          "SECRET_DECRYPT",
          `secret '${id}': ciphertext is ${ciphertext.length} bytes, not a whole number of ${AES_BLOCK}-byte blocks`,
        );
      }
      const decipher = createDecipheriv("aes-256-cbc", key, iv);
      decipher.setAutoPadding(false);
      const plain = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
      // QEMU's check: only the last byte, as a count (0 allowed), bytes not compared.
      const pad = plain[plain.length - 1];
      if (pad > AES_BLOCK || pad > plain.length) {
        plain.fill(0);
        throw new SecretError(
          "SECRET_DECRYPT",
          `secret '${id}': decrypted data ends with an impossible padding count (${pad}); wrong key or iv?`,
        );
      }
      const out = new Uint8Array(plain.subarray(0, plain.length - pad));
      plain.fill(0);
      return out;
    } finally {
      key.fill(0);
    }
  }
}
