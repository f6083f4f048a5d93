/** CLI failures: a usage error exits 2, anything else 1; both print one line. */
import { CacardError } from "../core/errors.js";

export class UsageError extends CacardError {
  constructor(message: string) {
    super("CLI_USAGE", message);
  }
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
