/**
 * A loaded PKCS#11 module, seen from the main thread: every call is a message
 * to the worker thread that owns the module (pkcs11-worker.mjs) and returns a
 * Promise, so the event loop (and every other card of the process) never
 * waits on a token. pkcs11js has async forms of C_Sign/C_Decrypt only; its
 * C_Login, C_FindObjects and C_*Init are synchronous and do real work on a
 * TPM or a card, hence a thread rather than the async calls.
 *
 * PKCS#11 allows one C_Initialize per process and module (a second one gives
 * CKR_CRYPTOKI_ALREADY_INITIALIZED), so modules are shared: openPkcs11Module
 * returns the same instance for the same path, counting references, and the
 * module is finalized and unloaded when the last user closes it.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { Pkcs11CallError, Pkcs11Error, describeCkr } from "./errors.js";
import type { RawObject, SerializedError, SlotSnapshot, WireAttribute, WireMechanism, WorkerReply } from "./wire.js";

/** Everything the token needs from a module; the seam tests replace with a fake. */
export interface Pkcs11Calls {
  slots(): Promise<SlotSnapshot[]>;
  tokenFlags(slot: Uint8Array): Promise<number>;
  mechanisms(slot: Uint8Array): Promise<number[]>;
  openSession(slot: Uint8Array): Promise<Uint8Array>;
  closeSession(session: Uint8Array): Promise<void>;
  /** C_FindObjects over `match`, then C_GetAttributeValue of `read` for each object. */
  find(session: Uint8Array, match: readonly WireAttribute[], read: readonly number[]): Promise<RawObject[]>;
  login(session: Uint8Array, pin: string): Promise<void>;
  logout(session: Uint8Array): Promise<void>;
  /** C_SignInit + C_Sign, one step. */
  sign(session: Uint8Array, mech: WireMechanism, key: Uint8Array, data: Uint8Array, outLength: number): Promise<Uint8Array>;
  /** C_DecryptInit + C_Decrypt, one step. */
  decrypt(session: Uint8Array, mech: WireMechanism, key: Uint8Array, data: Uint8Array, outLength: number): Promise<Uint8Array>;
  /** C_DeriveKey, read CKA_VALUE of the result, C_DestroyObject, one step. */
  deriveValue(session: Uint8Array, mech: WireMechanism, key: Uint8Array, attrs: readonly WireAttribute[]): Promise<Uint8Array>;
  /** C_WaitForSlotEvent(CKF_DONT_BLOCK): a slot ID or null. Rejects with the module's CKR if unsupported. */
  pollSlotEvent(): Promise<Uint8Array | null>;
}

export interface Pkcs11Module extends Pkcs11Calls {
  readonly path: string;
  /** "manufacturer description version" from C_GetInfo, for logs. */
  readonly library: string;
  /** Drops this reference; the last one finalizes the module and stops its thread. */
  release(): Promise<void>;
}

interface SharedModule {
  refs: number;
  ready: Promise<ModuleWorker>;
}

const modules = new Map<string, SharedModule>();

/**
 * Loads (or shares) the module at `path`. Fails with PKCS11_MODULE_LOAD naming
 * the path, PKCS11_BINDING_MISSING when pkcs11js is unavailable, or
 * PKCS11_INIT when C_Initialize fails.
 */
export async function openPkcs11Module(path: string): Promise<Pkcs11Module> {
  let shared = modules.get(path);
  if (shared === undefined) {
    shared = { refs: 0, ready: ModuleWorker.start(path) };
    modules.set(path, shared);
    shared.ready.catch(() => modules.delete(path));
  }
  shared.refs++;
  let worker: ModuleWorker;
  try {
    worker = await shared.ready;
  } catch (error) {
    shared.refs--;
    throw error;
  }
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    if (--shared!.refs === 0) {
      modules.delete(path);
      await worker.stop();
    }
  };
  const calls = Object.fromEntries(CALL_NAMES.map((name) => [name, worker[name].bind(worker)])) as unknown as Pkcs11Calls;
  return { ...calls, path, library: worker.library, release };
}

const CALL_NAMES = [
  "slots", "tokenFlags", "mechanisms", "openSession", "closeSession", "find",
  "login", "logout", "sign", "decrypt", "deriveValue", "pollSlotEvent",
] as const satisfies readonly (keyof Pkcs11Calls)[];

const WORKER_FILE = "pkcs11-worker.mjs";
/**
 * Where the worker is, relative to this module: the same directory in src/
 * (tests) and dist/src (tsc; the build copies it), or dist/cli when this
 * code is an esbuild chunk in dist/cli/chunks (the bundle step copies it
 * there). The worker is plain JavaScript: worker threads do not inherit the
 * TypeScript loaders of tsx or vitest.
 */
const WORKER_CANDIDATES = [`./${WORKER_FILE}`, `../${WORKER_FILE}`];

function workerUrl(): URL {
  for (const candidate of WORKER_CANDIDATES) {
    const url = new URL(candidate, import.meta.url);
    if (existsSync(fileURLToPath(url))) return url;
  }
  throw new Pkcs11Error("PKCS11_BINDING_MISSING", `cacard's ${WORKER_FILE} is missing next to ${fileURLToPath(import.meta.url)} (a broken install or build)`);
}

/**
 * Where pkcs11js is, resolved from here (the worker cannot resolve packages
 * relative to this file itself). pkcs11js is optional: without it only
 * host mode is unavailable.
 */
function resolveBinding(): string {
  try {
    return createRequire(import.meta.url).resolve("pkcs11js");
  } catch (error) {
    throw new Pkcs11Error(
      "PKCS11_BINDING_MISSING",
      "PKCS#11 host mode needs the optional package pkcs11js (npm install pkcs11js; it compiles with node-gyp: g++, make, python3)",
      undefined,
      { cause: error },
    );
  }
}

/** One module thread; all Pkcs11Calls are messages to it. */
class ModuleWorker implements Pkcs11Calls {
  #worker: Worker;
  #nextId = 1;
  #pending = new Map<number, { op: string; resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #dead: Error | null = null;
  library = "";

  private constructor(
    readonly path: string,
    bindingPath: string,
  ) {
    this.#worker = new Worker(workerUrl(), { workerData: { modulePath: path, bindingPath } });
    this.#worker.unref(); // referenced only while a call is outstanding
    this.#worker.on("message", (reply: WorkerReply) => this.#settle(reply));
    this.#worker.on("error", (e) => this.#fail(e));
    this.#worker.on("exit", (code) => this.#fail(new Pkcs11Error("PKCS11_CLOSED", `PKCS#11 worker thread exited (${code})`)));
  }

  static async start(path: string): Promise<ModuleWorker> {
    if (!existsSync(path)) {
      throw new Pkcs11Error("PKCS11_MODULE_LOAD", `cannot load PKCS#11 module ${path}: no such file`);
    }
    const binding = resolveBinding();
    const w = new ModuleWorker(path, binding);
    try {
      const { library } = (await w.#call("init")) as { library: string };
      w.library = library;
      return w;
    } catch (error) {
      await w.#worker.terminate();
      throw initError(path, error);
    }
  }

  #call(op: string, args?: unknown): Promise<unknown> {
    if (this.#dead) return Promise.reject(new Pkcs11Error("PKCS11_CLOSED", `PKCS#11 module ${this.path} is closed`));
    const id = this.#nextId++;
    if (this.#pending.size === 0) this.#worker.ref();
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { op, resolve, reject });
      this.#worker.postMessage({ id, op, args });
    });
  }

  #settle(reply: WorkerReply): void {
    const p = this.#pending.get(reply.id);
    if (p === undefined) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#worker.unref();
    if (reply.ok) p.resolve(reply.value);
    else p.reject(callError(p.op, reply.error));
  }

  #fail(error: Error): void {
    if (this.#dead) return;
    this.#dead = error;
    for (const p of this.#pending.values()) {
      p.reject(new Pkcs11CallError(p.op, undefined, `${p.op}: module thread failed: ${error.message}`));
    }
    this.#pending.clear();
  }

  async stop(): Promise<void> {
    try {
      await this.#call("finalize");
    } finally {
      this.#dead ??= new Pkcs11Error("PKCS11_CLOSED", `PKCS#11 module ${this.path} is closed`);
      await this.#worker.terminate();
    }
  }

  slots(): Promise<SlotSnapshot[]> {
    return this.#call("slots") as Promise<SlotSnapshot[]>;
  }
  tokenFlags(slot: Uint8Array): Promise<number> {
    return this.#call("tokenFlags", { slot }) as Promise<number>;
  }
  mechanisms(slot: Uint8Array): Promise<number[]> {
    return this.#call("mechanisms", { slot }) as Promise<number[]>;
  }
  openSession(slot: Uint8Array): Promise<Uint8Array> {
    return this.#call("openSession", { slot }) as Promise<Uint8Array>;
  }
  async closeSession(session: Uint8Array): Promise<void> {
    await this.#call("closeSession", { session });
  }
  find(session: Uint8Array, match: readonly WireAttribute[], read: readonly number[]): Promise<RawObject[]> {
    return this.#call("find", { session, match, read }) as Promise<RawObject[]>;
  }
  async login(session: Uint8Array, pin: string): Promise<void> {
    await this.#call("login", { session, pin });
  }
  async logout(session: Uint8Array): Promise<void> {
    await this.#call("logout", { session });
  }
  sign(session: Uint8Array, mech: WireMechanism, key: Uint8Array, data: Uint8Array, outLength: number): Promise<Uint8Array> {
    return this.#call("sign", { session, mech, key, data, outLength }) as Promise<Uint8Array>;
  }
  decrypt(session: Uint8Array, mech: WireMechanism, key: Uint8Array, data: Uint8Array, outLength: number): Promise<Uint8Array> {
    return this.#call("decrypt", { session, mech, key, data, outLength }) as Promise<Uint8Array>;
  }
  deriveValue(session: Uint8Array, mech: WireMechanism, key: Uint8Array, attrs: readonly WireAttribute[]): Promise<Uint8Array> {
    return this.#call("deriveValue", { session, mech, key, attrs }) as Promise<Uint8Array>;
  }
  pollSlotEvent(): Promise<Uint8Array | null> {
    return this.#call("pollSlotEvent") as Promise<Uint8Array | null>;
  }
}

function callError(op: string, e: SerializedError): Pkcs11CallError {
  const detail = e.ckr === undefined ? e.message : describeCkr(e.ckr);
  return new Pkcs11CallError(op, e.ckr, `${op}: ${detail}`);
}

/** Classifies a failed "init": missing addon, dlopen failure, or C_Initialize failure. One line, naming the module. */
function initError(path: string, error: unknown): Pkcs11Error {
  const e = error as Pkcs11CallError;
  const message = String(e?.message ?? error).replace(/^init: /, "").split("\n")[0];
  if (/pkcs11\.node|Cannot find module/.test(message)) {
    return new Pkcs11Error("PKCS11_BINDING_MISSING", `pkcs11js is installed but its native part did not load (rebuild it: npm rebuild pkcs11js): ${message}`, undefined, { cause: error });
  }
  if (e?.ckr !== undefined) {
    return new Pkcs11Error("PKCS11_INIT", `PKCS#11 module ${path}: C_Initialize failed with ${describeCkr(e.ckr)}`, e.ckr, { cause: error });
  }
  return new Pkcs11Error("PKCS11_MODULE_LOAD", `cannot load PKCS#11 module ${path}: ${message}`, undefined, { cause: error });
}
