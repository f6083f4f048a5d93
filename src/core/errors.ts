/**
 * The one base of every host-side fault cacard raises (a bad key store, a
 * broken frame, a wrong option). `code` is stable: callers branch on it, never
 * on the message, which is for people and may change.
 *
 * Card-level refusals are not host faults: applets throw CardError, which the
 * card turns into a status word (src/core/iso7816/card-error.ts).
 */
export class CacardError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { readonly cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}
