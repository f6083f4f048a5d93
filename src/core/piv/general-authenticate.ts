/**
 * GENERAL AUTHENTICATE with an asymmetric key (SP 800-73-4 Part 2 §3.2.4 and
 * Appendix A): the dynamic authentication template 7C in, 7C { 82 response }
 * out. RSA is the raw private operation on a block the host padded (OpenSC
 * declares only RSA_RAW, card-piv.c piv_init); ECDSA signs the digest the host
 * sends; ECDH (tag 85) returns the shared X coordinate.
 */
import { CardError } from "../iso7816/card-error.js";
import { SW } from "../iso7816/status.js";
import { KeyOperationError, type KeyAlgorithm, type PrivateKey } from "../token/types.js";
import { parseSingle, parseTlvs, tlv } from "./ber-tlv.js";
import { ecdsaSignatureToDer } from "./ecdsa-der.js";
import { PivAlg } from "./constants.js";

/** Dynamic authentication template and its elements (Part 2 table 7). */
export const TAG_DYNAMIC_AUTH = 0x7c;
export const DynTag = {
  WITNESS: 0x80,
  CHALLENGE: 0x81,
  RESPONSE: 0x82,
  EXPONENTIATION: 0x85,
} as const;

/** Longest ECDSA input accepted: a SHA-512 digest. */
export const MAX_ECDSA_INPUT = 64;
const EC_FIELD_BYTES = { "P-256": 32, "P-384": 48 } as const;

/** The PIV algorithm identifier of a key, or null when PIV has none for it. */
export function pivAlgorithmOf(algorithm: KeyAlgorithm): number | null {
  if (algorithm.kind === "ec") return algorithm.curve === "P-256" ? PivAlg.ECC_P256 : PivAlg.ECC_P384;
  if (algorithm.kind !== "rsa") return null;
  switch (algorithm.bits) {
    case 1024:
      return PivAlg.RSA_1024;
    case 2048:
      return PivAlg.RSA_2048;
    case 3072:
      return PivAlg.RSA_3072;
    case 4096:
      return PivAlg.RSA_4096;
    default:
      return null;
  }
}

/** What the host asked for inside the template. */
export type AuthRequest =
  | { readonly kind: "sign"; readonly input: Uint8Array } // 82 00 + 81 challenge
  | { readonly kind: "agree"; readonly point: Uint8Array } // 82 00 + 85 point
  | { readonly kind: "challenge" }; // 81 00 alone: "give me a challenge" (9B)

/** Parses the 7C template; CardError 6A80 for anything else (Part 2 §3.2.4). */
export function parseAuthTemplate(data: Uint8Array): AuthRequest {
  const items = parseTlvs(parseSingle(data, TAG_DYNAMIC_AUTH));
  const find = (tag: number) => items.find((i) => i.tag === tag);
  if (new Set(items.map((i) => i.tag)).size !== items.length) throw new CardError(SW.WRONG_PARAMETERS_IN_DATA, "tag repeated");
  const response = find(DynTag.RESPONSE);
  const challenge = find(DynTag.CHALLENGE);
  const exponent = find(DynTag.EXPONENTIATION);
  if (items.length === 2 && response?.value.length === 0) {
    if (challenge && challenge.value.length > 0) return { kind: "sign", input: challenge.value };
    if (exponent && exponent.value.length > 0) return { kind: "agree", point: exponent.value };
  }
  if (items.length === 1 && challenge?.value.length === 0) return { kind: "challenge" };
  throw new CardError(SW.WRONG_PARAMETERS_IN_DATA, "unsupported dynamic authentication template");
}

/** Wraps a result as 7C { 82 result }. */
export function authResponse(result: Uint8Array): Uint8Array {
  return tlv(TAG_DYNAMIC_AUTH, tlv(DynTag.RESPONSE, result));
}

/**
 * ECDSA input as FIPS 186-4 §6.4 reads a digest: the leftmost field-size
 * bytes of a longer one; a shorter one is an integer, so left-padded with
 * zeros. Windows signs a SHA-256 digest with a P-384 key (OpenSC#3813).
 */
export function ecdsaInput(digest: Uint8Array, fieldBytes: number): Uint8Array {
  if (digest.length === 0 || digest.length > MAX_ECDSA_INPUT) {
    throw new CardError(SW.WRONG_PARAMETERS_IN_DATA, `ECDSA input of ${digest.length} bytes`);
  }
  if (digest.length >= fieldBytes) return digest.slice(0, fieldBytes);
  const out = new Uint8Array(fieldBytes);
  out.set(digest, fieldBytes - digest.length);
  return out;
}

/** Runs the private operation; a rejected operand is 6A80 (Part 2 §3.2.4). */
export async function authenticate(key: PrivateKey, request: AuthRequest, allowAgreement: boolean): Promise<Uint8Array> {
  try {
    const algorithm = key.algorithm;
    if (request.kind === "sign" && algorithm.kind === "rsa" && key.rsaRaw) {
      if (request.input.length * 8 !== algorithm.bits) {
        throw new CardError(SW.WRONG_PARAMETERS_IN_DATA, "RSA input is not the modulus length");
      }
      return authResponse(await key.rsaRaw(request.input));
    }
    if (request.kind === "sign" && algorithm.kind === "ec" && key.ecdsaSign) {
      const rs = await key.ecdsaSign(ecdsaInput(request.input, EC_FIELD_BYTES[algorithm.curve]));
      return authResponse(ecdsaSignatureToDer(rs));
    }
    if (request.kind === "agree" && algorithm.kind === "ec" && key.ecdh && allowAgreement) {
      const size = EC_FIELD_BYTES[algorithm.curve];
      if (request.point.length !== 1 + 2 * size || request.point[0] !== 0x04) {
        throw new CardError(SW.WRONG_PARAMETERS_IN_DATA, "not an uncompressed point of the key's curve");
      }
      return authResponse(await key.ecdh(request.point));
    }
  } catch (e) {
    if (e instanceof KeyOperationError) throw new CardError(SW.WRONG_PARAMETERS_IN_DATA, e.message);
    throw e;
  }
  throw new CardError(SW.WRONG_PARAMETERS_IN_DATA, `${request.kind} is not an operation of this key`);
}
