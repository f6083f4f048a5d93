/**
 * `cacard relay`: a card in one of the host's PC/SC readers, served to QEMU's
 * ccid-card-passthru like `cacard vscard` serves the emulated card (same
 * transport, TLS and secret options, same status lines), plus one line per
 * event of the host reader. `cacard relay --list` prints the readers.
 */
import { parseCommandArgs } from "../parse-args.js";
import { toHex } from "../../core/bytes.js";
import { CacardError } from "../../core/errors.js";
import type { ReaderInfo } from "../../backends/pcsc/readers.js";
import type { RelayEvent } from "../../backends/pcsc/relayed-reader.js";
import type { CliIo, Command } from "../command.js";
import { EXIT_FAILURE, EXIT_OK, UsageError } from "../errors.js";
import { watchParent } from "../thread-pool.js";
import { serveVscard, vscardTransportHelp, vscardTransportSpec } from "./vscard.js";

const PREFIX = "cacard relay: ";
/** SCARD_PROTOCOL_T0 / _T1 (pcsclite.h); kept here so --help needs no PC/SC code. */
const PROTOCOLS: Record<string, number> = { t0: 0x1, t1: 0x2, any: 0x3 };
const MAX_EXCHANGE_TIMEOUT_MS = 600_000;

export const relayOptionSpec = {
  reader: { type: "string" },
  list: { type: "boolean" },
  exclusive: { type: "boolean" },
  protocol: { type: "string" },
  "exchange-timeout-ms": { type: "string" },
  "reset-on-exit": { type: "boolean" },
} as const;

const HELP = `Usage: cacard relay --reader NAME (--connect [HOST:]PORT | --unix PATH | --listen [HOST:]PORT)
                    [relay options] [transport, TLS, secret options]
       cacard relay --list

Relays a card in one of this machine's PC/SC readers (pcscd) to QEMU's
ccid-card-passthru device: the guest sees the real card's ATR and its
answers, byte for byte. The host keeps the reader; a card pulled out and
pushed back, a reader unplugged and plugged in again, or pcscd restarting
show up in the guest as the card leaving and coming back.
Needs libpcsclite.so.1 (Debian: libpcsclite1) and the npm package koffi.

Relay:
  --list                 print the readers and whether a card is in each
  --reader NAME          the reader: its exact name or a part of it that
                         matches one reader only (case does not matter)
  --exclusive            take the card for the guest alone; host
                         applications cannot use it while the relay runs
                         (default: shared, each guest exchange in a PC/SC
                         transaction so that host applications cannot
                         interleave)
  --protocol t0|t1|any   protocols offered to the card (default any); QEMU's
                         reader speaks T=0, so prefer t0 for a card that
                         offers both
  --exchange-timeout-ms MS  give up on one guest command after MS (default
                         60000); the guest gets an error for it
  --reset-on-exit        reset the card when the relay stops (drops a PIN the
                         guest verified); default: leave it as it is

${vscardTransportHelp("relay", "the --reader value")}
`;

function describeReader(r: ReaderInfo): string {
  if (!r.cardPresent) return `${r.name}: empty`;
  const flags = r.exclusive ? " (held exclusively)" : r.inUse ? " (in use)" : "";
  return `${r.name}: card atr=${toHex(r.atr).toUpperCase()}${flags}`;
}

function formatRelayEvent(event: RelayEvent): string {
  switch (event.type) {
    case "reader-found":
      return `host reader "${event.reader}"`;
    case "reader-gone":
      return `host reader gone${event.reader ? ` "${event.reader}"` : ""} code=${event.code} (${event.message}); waiting for it`;
    case "card-present":
      return `host card present atr=${toHex(event.atr).toUpperCase()} protocol=${event.protocol}`;
    case "card-absent":
      return "host card absent";
    case "card-refused":
      return `warning: not relaying the card in "${event.reader}": ${event.why}`;
    case "card-reset":
      return "host card was reset by another application; the guest sees it removed and inserted";
    case "warning":
      return `warning: ${event.message}`;
  }
}

function exchangeTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_EXCHANGE_TIMEOUT_MS) {
    throw new UsageError(`--exchange-timeout-ms ${value}: expected milliseconds (1-${MAX_EXCHANGE_TIMEOUT_MS})`);
  }
  return n;
}

/** One line for a PC/SC failure before serving (koffi or libpcsclite missing, pcscd down). */
function pcscFailure(io: CliIo, e: unknown): number {
  if (e instanceof CacardError && e.code.startsWith("RELAY_READER")) throw new UsageError(e.message);
  if (e instanceof CacardError && e.code.startsWith("PCSC_")) {
    const why = e.code === "PCSC_NO_SERVICE" ? `pcscd is not running (${e.message})` : e.message;
    io.stderr.write(`${PREFIX}${why}\n`);
    return EXIT_FAILURE;
  }
  throw e;
}

export const command: Command = {
  name: "relay",
  summary: "relay a card in a host PC/SC reader to QEMU's ccid-card-passthru",
  help: HELP,
  async run(argv, io) {
    const { values } = parseCommandArgs("relay", argv, { ...vscardTransportSpec, ...relayOptionSpec });
    // Loaded here: every other command (and --help) runs without koffi.
    const pcsc = await import("../../backends/pcsc/index.js");

    if (values.list) {
      if (values.reader !== undefined) throw new UsageError("--list takes no --reader");
      let readers: ReaderInfo[];
      try {
        readers = await pcsc.listReaders();
      } catch (e) {
        return pcscFailure(io, e);
      }
      for (const r of readers) io.stdout.write(describeReader(r) + "\n");
      if (readers.length === 0) io.stderr.write(`${PREFIX}no readers\n`);
      return EXIT_OK;
    }

    const query = values.reader;
    if (query === undefined || query === "") {
      throw new UsageError("give the reader with --reader NAME (cacard relay --list prints them); the relay never picks one by itself");
    }
    const protocol = (values.protocol ?? "any").toLowerCase();
    if (!Object.hasOwn(PROTOCOLS, protocol)) throw new UsageError(`--protocol ${values.protocol}: expected t0, t1 or any`);
    const timeoutMs = exchangeTimeout(values["exchange-timeout-ms"]);

    // A typo should fail now, not wait forever; a pcscd that is not up yet is waited for.
    let readerName = query;
    try {
      readerName = pcsc.matchReader((await pcsc.listReaders()).map((r) => r.name), query);
    } catch (e) {
      if (!(e instanceof CacardError && e.code === pcsc.PCSC_ERROR_CODE.NO_SERVICE)) return pcscFailure(io, e);
      io.stderr.write(`${PREFIX}pcscd is not running; waiting for it\n`);
    }

    return serveVscard({
      values,
      io,
      prefix: PREFIX,
      serve: async (_secrets, say) => {
        const relayed = new pcsc.RelayedReader({
          query,
          name: values["reader-name"] ?? readerName,
          share: values.exclusive ? "exclusive" : "shared",
          protocols: PROTOCOLS[protocol],
          closeDisposition: values["reset-on-exit"] ? "reset" : "leave",
          ...(timeoutMs !== undefined ? { exchangeTimeoutMs: timeoutMs } : {}),
          onEvent: (event) => say(formatRelayEvent(event)),
        });
        return {
          readers: [relayed.reader],
          onStart: (stop) => {
            relayed.start();
            const unwatch = watchParent(stop);
            return async () => {
              unwatch();
              await relayed.close();
            };
          },
        };
      },
    });
  },
};
