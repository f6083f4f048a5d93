/**
 * A token-resident private key behind the PrivateKey seam.
 *
 * The key object is looked up by its certificate's CKA_ID at every use and
 * its handle is never kept: after C_Logout SoftHSM answers a stale handle
 * with CKR_OBJECT_HANDLE_INVALID and tpm2-pkcs11 with CKR_USER_NOT_LOGGED_IN.
 * libcacard does the same (PK11_FindPrivateKeyFromCert per operation; its key
 * cache went in 2.8.0 for this reason, Mozilla bug 1576642). No key visible
 * means "not logged in" (6985), as with libcacard.
 */
import { KeyOperationError, type KeyAlgorithm, type PrivateKey } from "../../core/token/types.js";
import { EC_FIELD_BYTES } from "../soft-key.js";
import { CKA, CKD_NULL, CKK, CKM, CKO, PKCS11JS_PARAMS_EC_DH } from "./constants.js";
import { Pkcs11Error } from "./errors.js";
import { toKeyOperationError } from "./key-errors.js";
import type { Pkcs11Calls } from "./module.js";
import { stripSignaturePadding, wrapDecryptedPlaintext } from "./rsa-pkcs1.js";

/**
 * libcacard's per-key `failedX509` (vcard_emul_rsa_op): unknown until the
 * first operation; "raw" once CKM_RSA_X_509 worked (later raw failures are
 * real errors); "pkcs1" once the CKM_RSA_PKCS emulation had to be used (raw
 * is never tried again for that key).
 */
type RawRsaState = "unknown" | "raw" | "pkcs1";

/** Uncompressed SEC1 point prefix (SEC 1 v2 §2.3.3). */
const EC_POINT_UNCOMPRESSED = 0x04;

export interface KeyContext {
  readonly calls: Pkcs11Calls;
  /** The token's session handle. */
  readonly session: Uint8Array;
  /** C_GetMechanismList of the slot. */
  readonly mechanisms: ReadonlySet<number>;
}

/** Bytes of an RSA block (the modulus) or of r, s and X (the field); 0 for keys the card cannot use. */
export function keyBytesOf(algorithm: KeyAlgorithm): number {
  if (algorithm.kind === "rsa") return Math.ceil(algorithm.bits / 8);
  if (algorithm.kind === "ec") return EC_FIELD_BYTES[algorithm.curve];
  return 0;
}

/** The private key whose CKA_ID is `id`, with the operations its algorithm and the slot's mechanisms allow. */
export function createPkcs11PrivateKey(ctx: KeyContext, id: Uint8Array, algorithm: KeyAlgorithm): PrivateKey {
  const k = keyBytesOf(algorithm);
  let rawState: RawRsaState = "unknown";

  async function findKey(): Promise<Uint8Array> {
    let found;
    try {
      found = await ctx.calls.find(ctx.session, [
        { type: CKA.CLASS, value: CKO.PRIVATE_KEY },
        { type: CKA.ID, value: id },
      ], []);
    } catch (error) {
      throw toKeyOperationError("private key lookup", error);
    }
    if (found.length === 0) {
      throw new KeyOperationError("no private key with the certificate's CKA_ID is visible (not logged in?)", "KEY_NOT_LOGGED_IN");
    }
    return found[0].handle;
  }

  /** m^d mod n of a modulus-sized block: CKM_RSA_X_509 when possible, else libcacard's CKM_RSA_PKCS emulation. */
  async function rsaRaw(input: Uint8Array): Promise<Uint8Array> {
    if (input.length !== k) throw new KeyOperationError(`RSA input is ${input.length} bytes, the modulus ${k}`);
    const key = await findKey();

    if (rawState !== "pkcs1" && ctx.mechanisms.has(CKM.RSA_X_509)) {
      try {
        // NSS's PK11_PrivDecryptRaw: C_Decrypt with CKM_RSA_X_509 (it serves signatures too).
        const out = await ctx.calls.decrypt(ctx.session, { mechanism: CKM.RSA_X_509 }, key, input, k);
        rawState = "raw";
        return leftPad(out, k);
      } catch (error) {
        // After a raw success, a failure is about this input: report it.
        if (rawState === "raw") throw toKeyOperationError("raw RSA (CKM_RSA_X_509)", error);
        // Unknown: the token may list X_509 and still refuse it; emulate.
      }
    }

    // libcacard issue #25 (fixed in 2.8.1): a token without raw RSA.
    const digestInfo = stripSignaturePadding(input);
    if (digestInfo !== null) {
      try {
        const signature = await ctx.calls.sign(ctx.session, { mechanism: CKM.RSA_PKCS }, key, digestInfo, k);
        rawState = "pkcs1";
        return leftPad(signature, k);
      } catch (error) {
        throw toKeyOperationError("RSA PKCS#1 sign (CKM_RSA_PKCS)", error);
      }
    }

    // Not a signature block: a decryption, whose result is a type-2 block.
    let plaintext: Uint8Array;
    try {
      plaintext = await ctx.calls.decrypt(ctx.session, { mechanism: CKM.RSA_PKCS }, key, input, k);
    } catch (error) {
      throw toKeyOperationError("RSA PKCS#1 decrypt (CKM_RSA_PKCS)", error);
    }
    const block = wrapDecryptedPlaintext(plaintext, k);
    // libcacard answers 6F00 here; a host fault reaches the card as exactly that.
    if (block === null) throw new Pkcs11Error("PKCS11_CALL_FAILED", `decrypted ${plaintext.length} bytes leave no room for PKCS#1 padding in ${k}`);
    rawState = "pkcs1";
    return block;
  }

  /** CKM_ECDSA over the digest as given (PKCS#11 2.40 §2.3.6); the token returns r||s, each k bytes. */
  async function ecdsaSign(digest: Uint8Array): Promise<Uint8Array> {
    if (digest.length === 0) throw new KeyOperationError("ECDSA over an empty digest");
    const key = await findKey();
    try {
      return await ctx.calls.sign(ctx.session, { mechanism: CKM.ECDSA }, key, digest, 2 * k);
    } catch (error) {
      throw toKeyOperationError("ECDSA (CKM_ECDSA)", error);
    }
  }

  /** CKM_ECDH1_DERIVE with CKD_NULL into a session generic secret; its CKA_VALUE is the shared X. */
  async function ecdh(peerPoint: Uint8Array): Promise<Uint8Array> {
    if (peerPoint.length !== 1 + 2 * k || peerPoint[0] !== EC_POINT_UNCOMPRESSED) {
      throw new KeyOperationError(`peer point must be 04||X||Y of ${1 + 2 * k} bytes`);
    }
    const key = await findKey();
    try {
      const x = await ctx.calls.deriveValue(
        ctx.session,
        { mechanism: CKM.ECDH1_DERIVE, ecdh: { paramsType: PKCS11JS_PARAMS_EC_DH, kdf: CKD_NULL, publicData: peerPoint } },
        key,
        [
          { type: CKA.CLASS, value: CKO.SECRET_KEY },
          { type: CKA.KEY_TYPE, value: CKK.GENERIC_SECRET },
          { type: CKA.TOKEN, value: false },
          // Readable so that its value can be returned; it is destroyed right after.
          { type: CKA.SENSITIVE, value: false },
          { type: CKA.EXTRACTABLE, value: true },
          { type: CKA.VALUE_LEN, value: k },
        ],
      );
      return leftPad(x, k);
    } catch (error) {
      throw toKeyOperationError("ECDH (CKM_ECDH1_DERIVE)", error);
    }
  }

  if (algorithm.kind === "rsa") return { algorithm, rsaRaw };
  if (algorithm.kind === "ec") {
    // ecdh only where the slot lists the mechanism (tpm2-pkcs11 1.9 does not).
    return ctx.mechanisms.has(CKM.ECDH1_DERIVE) ? { algorithm, ecdsaSign, ecdh } : { algorithm, ecdsaSign };
  }
  return { algorithm };
}

/** Big-endian integers from tokens may come back without their leading zero bytes. */
function leftPad(bytes: Uint8Array, length: number): Uint8Array {
  if (bytes.length >= length) return bytes; // the output buffer was `length`: never longer
  const out = new Uint8Array(length);
  out.set(bytes, length - bytes.length);
  return out;
}
