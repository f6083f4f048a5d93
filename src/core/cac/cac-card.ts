/**
 * Assembles a CAC card the way libcacard's cac_card_init + gp_card_init +
 * msft_card_init do (cac.c, gp.c, msft.c): PKI applets in credential order, ACA, CCC, the
 * placeholder applets, ACF, Person Instance / Personnel, GP and MS PnP.
 */
import { resolveCompressor, type CertificateCompressor } from "./certificate-compression.js";
import { VirtualCard, type CardOptions } from "../card/card.js";
import type { Applet } from "../card/applet.js";
import { platformProvider, type Platform } from "../platform.js";
import { KeyStoreError, type Token } from "../token/types.js";
import { AID, MAX_PKI_APPLETS } from "./aids.js";
import { AcaApplet } from "./aca.js";
import { CccApplet } from "./ccc.js";
import { GpApplet } from "./gp.js";
import { MsftApplet } from "./msft.js";
import { PkiApplet, type PkiAppletOptions } from "./pki.js";
import { EmptyApplet, PassthroughApplet } from "./placeholder.js";
import { SIMPLETLV_MAX_LENGTH } from "./simpletlv.js";

/** The PKI value buffer holds the certificate and a 1-byte CertInfo under a 16-bit length. */
export const MAX_CERTIFICATE_BYTES = SIMPLETLV_MAX_LENGTH - 1;

const oid = (hi: number, lo: number) => Uint8Array.of(hi, lo);

export function cacApplets(keyStore: Token, cccCardId?: Uint8Array, pki: PkiAppletOptions = {}): Applet[] {
  const n = keyStore.credentials.length;
  if (n > MAX_PKI_APPLETS) {
    throw new KeyStoreError("KEYSTORE_TOO_MANY", `a CAC holds at most ${MAX_PKI_APPLETS} certificates, got ${n}`);
  }
  for (const c of keyStore.credentials) {
    if (c.certificate.length > MAX_CERTIFICATE_BYTES) {
      throw new KeyStoreError(
        "KEYSTORE_UNSUPPORTED",
        `certificate ${JSON.stringify(c.label)} is ${c.certificate.length} bytes; a CAC buffer holds at most ${MAX_CERTIFICATE_BYTES}`,
      );
    }
  }
  return [
    ...keyStore.credentials.map((c, i) => new PkiApplet(i, c, pki)),
    new AcaApplet(n),
    new CccApplet(n, cccCardId),
    new EmptyApplet(AID.EMPTY_02F0, "02F0", []),
    new EmptyApplet(AID.EMPTY_02F1, "02F1", []),
    new EmptyApplet(AID.EMPTY_02F2, "02F2", []),
    new EmptyApplet(AID.GENERIC_02FB, "02FB", [oid(0x02, 0xfb)]),
    new EmptyApplet(AID.PKI_CERTIFICATE_02FE, "PKI Certificate", [oid(0x02, 0xfe)]),
    new EmptyApplet(AID.PKI_CREDENTIAL_02FD, "PKI Credential", [oid(0x02, 0xfd)]),
    new PassthroughApplet(AID.PERSON_INSTANCE, "Person Instance", oid(0x02, 0x00)),
    new PassthroughApplet(AID.PERSONNEL, "Personnel", oid(0x02, 0x01)),
    new EmptyApplet(AID.GENERIC_1201, "1201", [oid(0x12, 0x01)]),
    new EmptyApplet(AID.GENERIC_1202, "1202", [oid(0x12, 0x02)]),
    new EmptyApplet(AID.ACF, "ACF", [oid(0x30, 0x00), oid(0x60, 0x10), oid(0x60, 0x30), oid(0x90, 0x00)]),
    new GpApplet(),
    new MsftApplet(),
  ];
}

/** libcacard vcard_emul_create_serial: SHA-256 of certificate 0's DER. */
export function cardSerial(keyStore: Token, platform: Platform = platformProvider.get()): Uint8Array {
  const first = keyStore.credentials[0];
  if (!first) return new Uint8Array(0);
  return platform.sha256(first.certificate);
}

export type CacCardOptions = { -readonly [K in keyof Omit<CardOptions, "applets" | "keyStore">]?: CardOptions[K] } & {
  /**
   * The 14-byte card id in the CCC card identifier (tag F0), which OpenSC
   * reports as the token serial. Default: libcacard's static id, the same on
   * every card; give each card of a multi-card setup its own.
   */
  cccCardId?: Uint8Array;
  /**
   * Serve certificates zlib-compressed (CertInfo 01), as issued CACs do;
   * CoolKey needs it. Default false: plain DER, libcacard's bytes.
   */
  compressCertificates?: boolean | CertificateCompressor;
};

export function createCacCard(keyStore: Token, options: CacCardOptions = {}): VirtualCard {
  const { cccCardId, compressCertificates, ...cardOptions } = options;
  return new VirtualCard({
    serial: cardSerial(keyStore, options.platform),
    ...cardOptions,
    applets: cacApplets(keyStore, cccCardId, { compressCertificate: resolveCompressor(compressCertificates) }),
    keyStore,
  });
}
