/**
 * The CAC card ATR libcacard 2.7+ reports (cac.c cac_get_atr): the ATR of an
 * official Oberthur/G&D CAC, which Windows minidrivers bind to.
 * TS=3B, T0=7A (TA1 TB1 TC1, 10 historical bytes), TA1=18 TB1=00 TC1=00,
 * historical "sfte cd144". T=0 only, so there is no TCK.
 */
export const CAC_ATR = Uint8Array.of(
  0x3b, 0x7a, 0x18, 0x00, 0x00, 0x73, 0x66, 0x74, 0x65, 0x20, 0x63, 0x64, 0x31, 0x34, 0x34,
);

/** QEMU's ccid-card-passthru rejects longer ATRs (VSC_ATR check). */
export const MAX_ATR_LENGTH = 40;
