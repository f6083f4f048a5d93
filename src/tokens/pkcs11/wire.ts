/** Message shapes between the main thread (module.ts) and the module's worker (pkcs11-worker.mjs). */

export interface WorkerRequest {
  readonly id: number;
  readonly op: string;
  readonly args?: unknown;
}

export interface SerializedError {
  readonly name: string;
  readonly message: string;
  /** CK_RV when the failure came from the module (pkcs11js Pkcs11Error.code). */
  readonly ckr?: number;
}

export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: SerializedError };

/** An attribute in a search or creation template. */
export interface WireAttribute {
  readonly type: number;
  readonly value?: number | boolean | Uint8Array;
}

/** A mechanism; only ECDH1_DERIVE needs parameters here. */
export interface WireMechanism {
  readonly mechanism: number;
  readonly ecdh?: { readonly paramsType: number; readonly kdf: number; readonly publicData: Uint8Array };
}

/** A found object: its handle and the requested attributes (null where the token would not say). */
export interface RawObject {
  readonly handle: Uint8Array;
  readonly attributes: readonly (Uint8Array | null)[];
}

/** One slot with a token present, as C_GetSlotInfo/C_GetTokenInfo describe it (strings trimmed). */
export interface SlotSnapshot {
  /** CK_SLOT_ID as pkcs11js gives it: 8 bytes little-endian. */
  readonly slot: Uint8Array;
  readonly description: string;
  readonly flags: number;
  readonly token: {
    readonly label: string;
    readonly serial: string;
    readonly model: string;
    readonly manufacturer: string;
    readonly flags: number;
  } | null;
}
