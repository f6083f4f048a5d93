/**
 * PC/SC backend: a card in one of the host's PC/SC readers, as a SmartCard in
 * a VirtualReader, for `cacard relay` (pcsc-lite through koffi, loaded only
 * when a relay is opened).
 */
export * from "./constants.js";
export * from "./errors.js";
export { pcscLibrary, loadPcscLibrary, splitMultiString, PCSCLITE_SONAME, type PcscLibrary, type ReaderStateEntry, type ConnectResult, type CardStatus } from "./library.js";
export * from "./context.js";
export * from "./readers.js";
export * from "./transaction-policy.js";
export * from "./atr-check.js";
export * from "./pcsc-card.js";
export * from "./reader-monitor.js";
export * from "./relayed-reader.js";
