/**
 * `--control stdin` (`cacard vpcd`, `cacard vscard`): the line commands
 * (`remove [i]`, `insert [i]`, `status`, `quit`, `help`) that insert and
 * remove cards at run time.
 */
import { CacardError } from "../core/errors.js";

export type ControlCommand =
  | { readonly op: "remove" | "insert"; readonly index: number | undefined }
  | { readonly op: "status" | "help" | "quit" }
  | { readonly op: "none" };

/** A control line that is not a command; reported, and the next line is read. */
export class ControlSyntaxError extends CacardError {
  constructor(message: string) {
    super("CLI_CONTROL_SYNTAX", message);
  }
}

export const CONTROL_HELP = "commands: remove [i], insert [i], status, quit, help (no index = every card)";

/** Parses one control line. Blank lines and `#` comments are "none". */
export function parseControlLine(line: string, cardCount: number): ControlCommand {
  const words = line.replace(/#.*/, "").trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return { op: "none" };
  const [verb, arg, ...extra] = words;
  const op = verb.toLowerCase();
  if (extra.length > 0) throw new ControlSyntaxError(`too many arguments: ${line.trim()}`);
  switch (op) {
    case "remove":
    case "insert": {
      if (arg === undefined) return { op, index: undefined };
      if (!/^\d+$/.test(arg)) throw new ControlSyntaxError(`${op}: '${arg}' is not a card index`);
      const index = Number(arg);
      if (index >= cardCount) {
        throw new ControlSyntaxError(`${op}: no card ${index} (cards are 0..${cardCount - 1})`);
      }
      return { op, index };
    }
    case "exit":
      if (arg !== undefined) throw new ControlSyntaxError(`${op} takes no argument`);
      return { op: "quit" };
    case "status":
    case "help":
    case "quit":
      if (arg !== undefined) throw new ControlSyntaxError(`${op} takes no argument`);
      return { op };
    default:
      throw new ControlSyntaxError(`unknown command '${verb}' (${CONTROL_HELP})`);
  }
}
