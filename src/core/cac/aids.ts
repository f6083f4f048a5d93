/** AIDs and object IDs of the libcacard CAC card (libcacard cac.c, cac-aca.c). */

/** GSC-IS registered application provider id of DoD CAC applets. */
export const CAC_RID = Uint8Array.of(0xa0, 0x00, 0x00, 0x00, 0x79);
/** RID used by the CCC and the ACF. */
export const GSC_RID = Uint8Array.of(0xa0, 0x00, 0x00, 0x01, 0x16);

export const MAX_PKI_APPLETS = 10;

function aid(rid: Uint8Array, hi: number, lo: number): Uint8Array {
  return Uint8Array.of(...rid, hi, lo);
}

export const AID = {
  pki: (i: number) => aid(CAC_RID, 0x01, i),
  ACA: aid(CAC_RID, 0x03, 0x00),
  CCC: aid(GSC_RID, 0xdb, 0x00),
  ACF: aid(GSC_RID, 0x30, 0x00),
  PERSON_INSTANCE: aid(CAC_RID, 0x02, 0x00),
  PERSONNEL: aid(CAC_RID, 0x02, 0x01),
  GENERIC_02FB: aid(CAC_RID, 0x02, 0xfb),
  PKI_CERTIFICATE_02FE: aid(CAC_RID, 0x02, 0xfe),
  PKI_CREDENTIAL_02FD: aid(CAC_RID, 0x02, 0xfd),
  EMPTY_02F0: aid(CAC_RID, 0x02, 0xf0),
  EMPTY_02F1: aid(CAC_RID, 0x02, 0xf1),
  EMPTY_02F2: aid(CAC_RID, 0x02, 0xf2),
  GENERIC_1201: aid(CAC_RID, 0x12, 0x01),
  GENERIC_1202: aid(CAC_RID, 0x12, 0x02),
  GP_CARD_MANAGER: Uint8Array.of(0xa0, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00),
  MS_PNP: Uint8Array.of(0xa0, 0x00, 0x00, 0x03, 0x97, 0x43, 0x49, 0x44, 0x5f, 0x01, 0x00),
} as const;
