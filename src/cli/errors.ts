/** CLI failures: a usage error exits 2, anything else 1; both print one line. */
export class UsageError extends Error {
  readonly code = "CLI_USAGE";
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
