/**
 * Option parsing for every command: node:util's parseArgs, with the
 * project's own one-line errors instead of node's text, old spellings kept as
 * aliases of the current ones, and no positional arguments.
 *
 * Errors (UsageError, exit 2), as `cacard CMD: ...`:
 *   unknown option '--x' (see cacard CMD --help)   [+ "; did you mean --y?"]
 *   --db needs a value (--db VALUE or --db=VALUE)
 *   --trace takes no value
 *   unexpected argument 'x'
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./errors.js";

type Options = NonNullable<ParseArgsConfig["options"]>;
/** What parseArgs returns for these options (values only; no positionals are allowed). */
export type ParsedOptions<T extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; allowPositionals: false; strict: true }>
>;

/**
 * An old spelling and what it stands for: the argv words it is replaced by
 * (e.g. --stdin-commands → --control stdin). Aliases are not in --help.
 */
export type Aliases = Readonly<Record<string, readonly string[]>>;

/** Spellings that were renamed so that every command says the same thing. */
export const COMMON_ALIASES: Aliases = {
  "--debug": ["--verbose"],
  "--stdin-commands": ["--control", "stdin"],
};

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const here = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = here;
    }
  }
  return row[b.length];
}

/** How far off a typo may be to be suggested. */
const SUGGEST_MAX_DISTANCE = 2;

function suggestion(name: string, options: Options, aliases: Aliases): string {
  const known = [...Object.keys(options).map((o) => `--${o}`), ...Object.keys(aliases)];
  let best: string | undefined;
  let bestDistance = SUGGEST_MAX_DISTANCE + 1;
  for (const candidate of known) {
    const d = distance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best === undefined ? "" : `; did you mean ${best}?`;
}

/** Replaces aliases (also in --alias=value form) by their current spelling. */
export function expandAliases(argv: readonly string[], aliases: Aliases): string[] {
  const out: string[] = [];
  for (const word of argv) {
    const [name, ...rest] = word.split("=");
    const target = aliases[name];
    if (target === undefined) out.push(word);
    else if (rest.length === 0) out.push(...target);
    else out.push(`${target[0]}=${rest.join("=")}`);
  }
  return out;
}

/**
 * Checks argv against `options` in the project's words, then parses it.
 * `command` names the command in the "see --help" hint.
 */
export function parseCommandArgs<T extends Options>(
  command: string,
  argv: readonly string[],
  options: T,
  aliases: Aliases = COMMON_ALIASES,
): ParsedOptions<T> {
  const args = expandAliases(argv, aliases);
  for (let i = 0; i < args.length; i++) {
    const word = args[i];
    if (word === "--") {
      if (i + 1 < args.length) throw new UsageError(`unexpected argument '${args[i + 1]}'`);
      break;
    }
    if (!word.startsWith("-") || word === "-") throw new UsageError(`unexpected argument '${word}'`);
    const eq = word.indexOf("=");
    const name = eq < 0 ? word : word.slice(0, eq);
    const spec = name.startsWith("--") ? options[name.slice(2)] : undefined;
    if (spec === undefined) {
      throw new UsageError(`unknown option '${name}' (see cacard ${command} --help)${suggestion(name, options, aliases)}`);
    }
    if (spec.type === "boolean") {
      if (eq >= 0) throw new UsageError(`${name} takes no value`);
      continue;
    }
    if (eq >= 0) continue;
    const value = args[i + 1];
    if (value === undefined || (value.startsWith("--") && value.length > 2)) {
      throw new UsageError(`${name} needs a value (${name} VALUE or ${name}=VALUE)`);
    }
    i++;
  }
  return parseArgs({ args, options, allowPositionals: false as const, strict: true as const });
}
