/**
 * `cacard apdu`: hex APDUs on stdin, one per line; each response (data + SW)
 * as one line of uppercase hex on stdout. Lines starting with `!` are
 * directives: `!reset` power-cycles the card (prints nothing), `!atr` prints
 * the ATR. This is also the line protocol of test/harness/cacard-ref, the
 * libcacard reference runner.
 *
 * Streaming and throughput: every complete line already read is answered
 * before more input is read, and the answers to one read go out in one
 * write. A lone line (an interactive user, a test driving it line by line) is
 * answered as soon as it arrives; a file replays without a system call or an
 * event-loop turn per line.
 */
import type { Readable } from "node:stream";
import { toHex } from "../../core/bytes.js";
import type { VirtualCard } from "../../core/card/card.js";
import type { Command, CliIo } from "../command.js";
import { CARD_OPTIONS_HELP, cardFromOptions, cardOptionSpec } from "../card-options.js";
import { EXIT_FAILURE, EXIT_OK } from "../errors.js";
import { CacardError } from "../../core/errors.js";
import { parseCommandArgs } from "../parse-args.js";

const NEWLINE = 0x0a;

/** A line of input the command cannot use; exit 1 after the answers before it. */
export class ApduInputError extends CacardError {
  constructor(message: string) {
    super("CLI_APDU_INPUT", message);
  }
}

export const command: Command = {
  name: "apdu",
  summary: "send hex APDUs from stdin to the card, print responses",
  help: `Usage: cacard apdu [card options] [--libcacard-strict]

Reads one hex APDU per line from stdin (spaces and colons allowed; blank lines
and everything from a # to the end of the line are skipped) and writes each
response, data followed by SW1 SW2, as one line of uppercase hex. Directives:
!reset power-cycles the card, !atr prints the ATR.

Exit status: 0 at the end of the input; 1 for a line that is not an APDU or a
directive (one line on stderr naming it, after the answers to the lines
before it) or a key store that cannot be opened; 2 for bad options.

  --libcacard-strict    answer exactly as libcacard 2.8 (no GET CHALLENGE)

${CARD_OPTIONS_HELP}
`,
  async run(argv, io) {
    const { values } = parseCommandArgs("apdu", argv, { ...cardOptionSpec, "libcacard-strict": { type: "boolean" } });
    const card = await cardFromOptions(values, { libcacardStrict: values["libcacard-strict"] === true });
    await card.powerOn();
    try {
      await replay(card, io);
    } catch (e) {
      if (!(e instanceof ApduInputError)) throw e;
      io.stderr.write(`cacard apdu: ${e.message}\n`);
      return EXIT_FAILURE;
    }
    return EXIT_OK;
  },
};

/** Answers the lines of io.stdin until its end (or SIGINT/SIGTERM). */
async function replay(card: VirtualCard, io: CliIo): Promise<void> {
  const input: Readable = io.stdin;
  const onAbort = () => input.destroy();
  io.signal.addEventListener("abort", onAbort, { once: true });
  const replayer = new LineReplayer(card);
  let partial: Buffer | null = null;
  try {
    for await (const chunk of input as AsyncIterable<Buffer | string>) {
      let bytes = typeof chunk === "string" ? Buffer.from(chunk, "latin1") : chunk;
      if (bytes.lastIndexOf(NEWLINE) < 0) {
        partial = partial === null ? Buffer.from(bytes) : Buffer.concat([partial, bytes]);
        continue;
      }
      if (partial !== null) {
        bytes = Buffer.concat([partial, bytes]);
        partial = null;
      }
      const limit = bytes.lastIndexOf(NEWLINE) + 1;
      if (limit < bytes.length) partial = Buffer.from(bytes.subarray(limit));
      await replayer.answer(bytes, limit, io);
    }
  } catch (e) {
    // SIGINT/SIGTERM destroyed stdin: stop reading, exit normally.
    if (io.signal.aborted && (e as NodeJS.ErrnoException).code === "ERR_STREAM_PREMATURE_CLOSE") return;
    throw e;
  } finally {
    io.signal.removeEventListener("abort", onAbort);
  }
  if (partial !== null && !io.signal.aborted) await replayer.answer(partial, partial.length, io);
}

const HASH = 0x23;
const BANG = 0x21;
const COLON = 0x3a;
const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
/** ASCII codes of the uppercase hex digits of every byte value, high digit first. */
const HEX_DIGITS = Buffer.from("0123456789ABCDEF", "latin1");

/** 0-15 for an ASCII hex digit, -1 for anything else. */
const HEX_VALUE = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX_VALUE[0x30 + c] = c;
for (let c = 0; c < 6; c++) HEX_VALUE[0x41 + c] = HEX_VALUE[0x61 + c] = 10 + c;

/**
 * The per-line work, on the input bytes themselves: no string per line, and
 * the answers' hex written straight into one output buffer per read.
 */
class LineReplayer {
  lineNumber = 0;
  #out = Buffer.allocUnsafe(1 << 16);
  #used = 0;

  constructor(private readonly card: VirtualCard) {}

  /**
   * Answers the lines in bytes[0, limit) (each ends at a newline or at limit)
   * and writes the answers in one go; on a bad line, writes the answers
   * before it and throws ApduInputError.
   */
  async answer(bytes: Buffer, limit: number, io: CliIo): Promise<void> {
    this.#out = Buffer.allocUnsafe(Math.max(1 << 12, limit * 2));
    this.#used = 0;
    try {
      let start = 0;
      while (start < limit) {
        let stop = bytes.indexOf(NEWLINE, start);
        if (stop < 0 || stop > limit) stop = limit;
        this.lineNumber++;
        const now = this.#line(bytes, start, stop);
        const response = now instanceof Promise ? await now : now;
        if (response !== null) this.#emit(response);
        start = stop + 1;
      }
    } finally {
      if (this.#used > 0 && !io.stdout.write(this.#out.subarray(0, this.#used))) {
        await new Promise((resolve) => io.stdout.once("drain", resolve));
      }
    }
  }

  #emit(response: Uint8Array | string): void {
    const needed = typeof response === "string" ? response.length + 1 : response.length * 2 + 1;
    if (this.#used + needed > this.#out.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.#out.length * 2, this.#used + needed));
      this.#out.copy(grown, 0, 0, this.#used);
      this.#out = grown;
    }
    const out = this.#out;
    let at = this.#used;
    if (typeof response === "string") {
      at += out.write(response, at, "latin1");
    } else {
      for (let i = 0; i < response.length; i++) {
        const b = response[i];
        out[at++] = HEX_DIGITS[b >> 4];
        out[at++] = HEX_DIGITS[b & 0x0f];
      }
    }
    out[at++] = NEWLINE;
    this.#used = at;
  }

  /** One line's answer (bytes, a string for !atr, or a promise of bytes), or null when it prints nothing. */
  #line(bytes: Buffer, start: number, stop: number): Uint8Array | string | Promise<Uint8Array | null> | null {
    let i = start;
    while (i < stop && isBlank(bytes[i])) i++;
    if (i === stop || bytes[i] === HASH) return null;
    if (bytes[i] === BANG) return this.#directive(bytes.toString("latin1", i, stop));
    const command = new Uint8Array((stop - i) >> 1);
    let n = 0;
    let high = -1;
    for (; i < stop; i++) {
      const c = bytes[i];
      const v = HEX_VALUE[c];
      if (v >= 0) {
        if (high < 0) high = v;
        else {
          command[n++] = (high << 4) | v;
          high = -1;
        }
      } else if (c === HASH) {
        break;
      } else if (!isBlank(c) && c !== COLON) {
        throw new ApduInputError(`line ${this.lineNumber}: not a hex string`);
      }
    }
    if (high >= 0) throw new ApduInputError(`line ${this.lineNumber}: odd number of hex digits`);
    return this.card.answer(n === command.length ? command : command.subarray(0, n));
  }

  #directive(text: string): string | Promise<null> | null {
    const hash = text.indexOf("#");
    const line = (hash < 0 ? text : text.slice(0, hash)).trim();
    if (line === "!reset") return this.card.powerOff().then(() => this.card.powerOn()).then(() => null);
    if (line === "!atr") return toHex(this.card.atr);
    throw new ApduInputError(`line ${this.lineNumber}: unknown directive '${line.split(/\s/)[0]}' (!reset, !atr)`);
  }
}

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB || c === CR || c === 0x0b || c === 0x0c;
}
