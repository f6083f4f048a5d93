// @ts-check
/**
 * The thread that owns a PKCS#11 module (started by module.ts).
 *
 * Plain JavaScript on purpose: a worker file must be loadable by Node as is,
 * under tsx, vitest and the compiled/bundled build alike (a .ts worker fails
 * with ERR_UNKNOWN_FILE_EXTENSION because tsx's and vite's loaders are not
 * inherited by worker threads). Keep it small and free of imports from .ts.
 *
 * Why a thread: pkcs11js has Promise/callback variants only for the crypto
 * calls (Sign, Decrypt, Encrypt, Digest, Verify, DeriveKey, Wrap/Unwrap,
 * GenerateKey*). C_Initialize, C_Login, C_Logout, C_OpenSession,
 * C_FindObjects*, C_GetAttributeValue, C_SignInit/C_DecryptInit and
 * C_WaitForSlotEvent are synchronous, and tokens do real work in them:
 * tpm2-pkcs11 unseals its wrapping key in C_Login (~16 ms on swtpm) and loads
 * the key into the TPM in the first C_DecryptInit (~5 ms); OpenSC talks to
 * the card in most of them. Here they only block this thread.
 *
 * Requests are served strictly one at a time, and each is one complete step
 * (e.g. C_SignInit + C_Sign), so callers can never interleave one
 * operation's Init with another's Sign on a session.
 *
 * Protocol (structured clone; handles and byte strings are Uint8Array):
 *   in:  { id, op, args }    out: { id, ok: true, value } | { id, ok: false, error: { name, message, ckr? } }
 */
import { createRequire } from "node:module";
import { parentPort, workerData } from "node:worker_threads";

// PKCS#11 2.40 numbers used here (the full table is constants.ts).
const CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191;
const CKF_OS_LOCKING_OK = 0x2;
const CKF_SERIAL_SESSION = 0x4;
const CKF_DONT_BLOCK = 1;
const CKF_TOKEN_PRESENT = 0x1;
const CKU_USER = 1;
const CKA_VALUE = 0x11;
/** Objects fetched per C_FindObjects call. */
const FIND_BATCH = 64;

/** @type {{ modulePath: string, bindingPath: string }} */
const { modulePath, bindingPath } = workerData;
/** @type {any} the pkcs11js PKCS11 instance once loaded */
let lib = null;
/** False when other code in this process had already initialized the module: then it is not ours to finalize. */
let ownsInitialize = false;

/** pkcs11js wants Node Buffers; structured clone delivers plain Uint8Arrays. @param {Uint8Array} bytes */
const buf = (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
/** @param {Buffer} b */
const bytes = (b) => new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));

/** @param {{ type: number, value?: unknown }[]} attrs */
const template = (attrs) => attrs.map((a) => ({ type: a.type, value: a.value instanceof Uint8Array ? buf(a.value) : a.value }));

/** @param {{ mechanism: number, ecdh?: { paramsType: number, kdf: number, publicData: Uint8Array } }} m */
function mechanism(m) {
  if (!m.ecdh) return { mechanism: m.mechanism };
  return { mechanism: m.mechanism, parameter: { type: m.ecdh.paramsType, kdf: m.ecdh.kdf, publicData: buf(m.ecdh.publicData) } };
}

/** Attributes of one object; one by one when the batch fails (one unknown type fails a whole batch). */
function readAttributes(/** @type {Buffer} */ session, /** @type {Buffer} */ handle, /** @type {number[]} */ types) {
  if (types.length === 0) return [];
  try {
    return lib.C_GetAttributeValue(session, handle, types.map((type) => ({ type }))).map((/** @type {any} */ a) => bytes(a.value));
  } catch {
    return types.map((type) => {
      try {
        return bytes(lib.C_GetAttributeValue(session, handle, [{ type }])[0].value);
      } catch {
        return null;
      }
    });
  }
}

/** @type {Record<string, (args: any) => unknown>} */
const ops = {
  init() {
    const { PKCS11 } = createRequire(import.meta.url)(bindingPath);
    lib = new PKCS11();
    lib.load(modulePath);
    try {
      lib.C_Initialize({ flags: CKF_OS_LOCKING_OK });
      ownsInitialize = true;
    } catch (e) {
      if (/** @type {any} */ (e).code !== CKR_CRYPTOKI_ALREADY_INITIALIZED) throw e;
    }
    const info = lib.C_GetInfo();
    return { library: `${unpad(info.manufacturerID)} ${unpad(info.libraryDescription)} ${info.libraryVersion.major}.${info.libraryVersion.minor}` };
  },

  slots() {
    return lib.C_GetSlotList(true).map((/** @type {Buffer} */ slot) => {
      const s = lib.C_GetSlotInfo(slot);
      let token = null;
      if (s.flags & CKF_TOKEN_PRESENT) {
        try {
          const t = lib.C_GetTokenInfo(slot);
          token = { label: unpad(t.label), serial: unpad(t.serialNumber), model: unpad(t.model), manufacturer: unpad(t.manufacturerID), flags: t.flags };
        } catch {
          token = null; // removed between the two calls
        }
      }
      return { slot: bytes(slot), description: unpad(s.slotDescription), flags: s.flags, token };
    });
  },

  tokenFlags: ({ slot }) => lib.C_GetTokenInfo(buf(slot)).flags,
  mechanisms: ({ slot }) => lib.C_GetMechanismList(buf(slot)),
  openSession: ({ slot }) => bytes(lib.C_OpenSession(buf(slot), CKF_SERIAL_SESSION)),
  closeSession: ({ session }) => lib.C_CloseSession(buf(session)),
  login: ({ session, pin }) => lib.C_Login(buf(session), CKU_USER, pin),
  logout: ({ session }) => lib.C_Logout(buf(session)),

  find({ session, match, read }) {
    const s = buf(session);
    lib.C_FindObjectsInit(s, template(match));
    /** @type {Buffer[]} */
    const handles = [];
    try {
      for (;;) {
        const batch = lib.C_FindObjects(s, FIND_BATCH);
        handles.push(...batch);
        if (batch.length < FIND_BATCH) break;
      }
    } finally {
      lib.C_FindObjectsFinal(s);
    }
    return handles.map((h) => ({ handle: bytes(h), attributes: readAttributes(s, h, read) }));
  },

  sign({ session, mech, key, data, outLength }) {
    const s = buf(session);
    lib.C_SignInit(s, mechanism(mech), buf(key));
    return bytes(lib.C_Sign(s, buf(data), Buffer.alloc(outLength)));
  },

  decrypt({ session, mech, key, data, outLength }) {
    const s = buf(session);
    lib.C_DecryptInit(s, mechanism(mech), buf(key));
    return bytes(lib.C_Decrypt(s, buf(data), Buffer.alloc(outLength)));
  },

  deriveValue({ session, mech, key, attrs }) {
    const s = buf(session);
    const derived = lib.C_DeriveKey(s, mechanism(mech), buf(key), template(attrs));
    try {
      return bytes(lib.C_GetAttributeValue(s, derived, [{ type: CKA_VALUE }])[0].value);
    } finally {
      try {
        lib.C_DestroyObject(s, derived); // a session object: gone now rather than at logout
      } catch {
        /* the session may already be gone */
      }
    }
  },

  /** C_WaitForSlotEvent(CKF_DONT_BLOCK): a slot ID, null for "no event", or throws (e.g. CKR_FUNCTION_NOT_SUPPORTED). */
  pollSlotEvent() {
    const slot = lib.C_WaitForSlotEvent(CKF_DONT_BLOCK);
    return slot === null ? null : bytes(slot);
  },

  finalize() {
    if (lib === null) return;
    if (ownsInitialize) lib.C_Finalize();
    lib.close();
    lib = null;
  },
};

/**
 * CK_TOKEN_INFO strings are blank-padded; tpm2-pkcs11 pads its model with NULs ("SW   TPM\0\0...").
 * @param {string} text
 */
const unpad = (text) => text.replace(/[\s\0]+$/, "");

/** @param {unknown} error */
function serialize(error) {
  const e = /** @type {any} */ (error);
  return {
    name: typeof e?.name === "string" ? e.name : "Error",
    message: typeof e?.message === "string" ? e.message : String(error),
    ckr: typeof e?.code === "number" ? e.code : undefined,
  };
}

parentPort?.on("message", (/** @type {{ id: number, op: string, args?: any }} */ request) => {
  let reply;
  try {
    const op = ops[request.op];
    if (op === undefined) throw new Error(`unknown worker op ${request.op}`);
    if (lib === null && request.op !== "init" && request.op !== "finalize") throw new Error("module not initialized");
    reply = { id: request.id, ok: true, value: op(request.args) };
  } catch (error) {
    reply = { id: request.id, ok: false, error: serialize(error) };
  }
  parentPort?.postMessage(reply);
});
