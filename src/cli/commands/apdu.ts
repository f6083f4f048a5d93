/**
 * `cacard apdu`: hex APDUs on stdin, one per line; each response (data + SW)
 * as one line of uppercase hex on stdout, written before the next line is
 * read. Lines starting with `!` are directives: `!reset` power-cycles the card
 * (prints nothing), `!atr` prints the ATR. This is also the line protocol of
 * test/harness/cacard-ref, the libcacard reference runner.
 */
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { fromHex, HexFormatError, toHex } from "../../core/bytes.js";
import type { Command } from "../command.js";
import { CARD_OPTIONS_HELP, cardFromOptions, cardOptionSpec } from "../card-options.js";
import { EXIT_FAILURE, EXIT_OK, UsageError } from "../errors.js";

export const command: Command = {
  name: "apdu",
  summary: "send hex APDUs from stdin to the card, print responses",
  help: `Usage: cacard apdu [card options] [--libcacard-strict]

Reads one hex APDU per line from stdin (spaces and colons allowed; blank lines
and lines starting with # are skipped) and writes each response, data followed
by SW1 SW2, as one line of uppercase hex. Directives: !reset power-cycles the
card, !atr prints the ATR.

  --libcacard-strict    answer exactly as libcacard 2.8 (no GET CHALLENGE)

${CARD_OPTIONS_HELP}
`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...cardOptionSpec, "libcacard-strict": { type: "boolean" } },
      allowPositionals: true,
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const card = await cardFromOptions(values, { libcacardStrict: values["libcacard-strict"] === true });
    await card.powerOn();
    const lines = createInterface({ input: io.stdin, crlfDelay: Infinity });
    // SIGINT/SIGTERM: stop reading and exit normally.
    io.signal.addEventListener("abort", () => lines.close(), { once: true });
    let lineNumber = 0;
    for await (const raw of lines) {
      lineNumber++;
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) continue;
      if (line.startsWith("!")) {
        if (line === "!reset") {
          await card.powerOff();
          await card.powerOn();
        } else if (line === "!atr") io.stdout.write(toHex(card.atr) + "\n");
        else throw new UsageError(`line ${lineNumber}: unknown directive '${line.split(/\s/)[0]}'`);
        continue;
      }
      let command: Uint8Array;
      try {
        command = fromHex(line);
      } catch (e) {
        if (!(e instanceof HexFormatError)) throw e;
        io.stderr.write(`cacard apdu: line ${lineNumber}: ${e.message}\n`);
        return EXIT_FAILURE;
      }
      io.stdout.write(toHex(await card.transmit(command)) + "\n");
    }
    return EXIT_OK;
  },
};
