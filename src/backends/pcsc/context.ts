/**
 * One PC/SC context (SCardEstablishContext … SCardReleaseContext).
 *
 * pcsc-lite serialises everything on a context behind one mutex, and
 * SCardGetStatusChange holds it for its whole wait. So the relay uses two:
 * one for card I/O (PcscCard) and one for waiting (ReaderMonitor), never
 * sharing a context between them.
 *
 * The object also keeps the context for as long as a card handle made from
 * it lives: a handle whose context was released answers
 * SCARD_E_INVALID_HANDLE.
 */
import { RELAY_ERROR_CODE, RelayError } from "./errors.js";
import { pcscLibrary, type PcscLibrary } from "./library.js";

export class PcscContext {
  #released = false;

  private constructor(
    readonly library: PcscLibrary,
    readonly id: number,
  ) {}

  /** Opens a context; PCSC_NO_SERVICE when pcscd is not running. */
  static async establish(library: PcscLibrary = pcscLibrary()): Promise<PcscContext> {
    return new PcscContext(library, await library.establishContext());
  }

  get released(): boolean {
    return this.#released;
  }

  /** The context number, or RELAY_CLOSED after release. */
  get handle(): number {
    if (this.#released) throw new RelayError(RELAY_ERROR_CODE.CLOSED, "PC/SC context already released");
    return this.id;
  }

  /** False once pcscd has gone away (its socket closed) or after release. */
  isValid(): boolean {
    return !this.#released && this.library.isValidContext(this.id);
  }

  listReaders(): Promise<string[]> {
    return this.library.listReaders(this.handle);
  }

  /** Interrupts a pending getStatusChange on this context. */
  cancel(): void {
    if (!this.#released) this.library.cancel(this.id);
  }

  /** Idempotent; also fine after pcscd died (pcsc-lite then only frees its local state). */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.library.releaseContext(this.id);
  }
}
