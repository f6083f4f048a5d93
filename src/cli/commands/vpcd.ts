/**
 * `cacard vpcd`: serve one or more cards to pcscd through vsmartcard's vpcd
 * driver. Card i connects to HOST:PORT+i; SIGUSR1 removes and SIGUSR2
 * inserts the cards; `--control stdin` adds line commands.
 */
import { WarningLimiter } from "../../util/rate-limit.js";
import { createInterface, type Interface } from "node:readline";
import { parseArgs } from "node:util";
import type { Command, CliIo } from "../command.js";
import { EXIT_OK, UsageError } from "../errors.js";
import { quickAckSupport } from "../../backends/vpcd/quick-ack.js";
import {
  CARD_OPTIONS_HELP,
  cardOptionSpec,
  keyStoreFromOptions,
  personalityCardOptions,
  personalityOptions,
  personalityWarnings,
  pinOptions,
  stderrWarn,
  type CardOptionValues,
} from "../card-options.js";
import { followTokenPresence } from "../token-presence.js";
import { cardSerial } from "../../core/cac/cac-card.js";
import { createCard, type CreateCardOptions } from "../../core/create-card.js";
import type { VirtualCard } from "../../core/card/card.js";
import { toHex } from "../../core/bytes.js";
import {
  MAX_CARDS,
  VPCD_DEFAULT_HOST,
  VPCD_DEFAULT_PORT,
  VpcdCardSet,
  cardIdentity,
  type VpcdCardSlot,
} from "../../backends/vpcd/index.js";
import { CONTROL_HELP, ControlSyntaxError, parseControlLine } from "../vpcd-control.js";

const HELP = `Usage: cacard vpcd [card options] [--host HOST] [--port PORT] [--cards N]
                   [--serial-salt TEXT] [--control stdin] [--no-quickack]
                   [--verbose] [--trace]

Connects virtual CAC cards to pcscd through vsmartcard's vpcd reader driver
(Debian package vsmartcard-vpcd). vpcd listens inside pcscd; each card is one
TCP connection to it. Runs until SIGINT or SIGTERM.

${CARD_OPTIONS_HELP}

vpcd options:
  --host HOST           where vpcd listens (default ${VPCD_DEFAULT_HOST})
  --port PORT           vpcd port of the first card (default ${VPCD_DEFAULT_PORT},
                        reader "Virtual PCD 00 00"; 35964 is "Virtual PCD 00 01")
  --cards N             serve N cards (1-${MAX_CARDS}) on ports PORT..PORT+N-1, each
                        with its own key store instance and a distinct serial
  --serial-salt TEXT    mix TEXT into every card's serial, so that cards from
                        the same database in different processes differ too
                        (default: card 0 keeps libcacard's serial)
  --control stdin       read commands from stdin: remove [i], insert [i],
                        status, help (no index = every card); replies on stderr
  --no-quickack         do not set TCP_QUICKACK on the vpcd connections. By
                        default it is set after every read (when the optional
                        native helper was built), which saves the ~40 ms delayed
                        ACK that every APDU through vpcd otherwise waits for
  --verbose             log every connection attempt and retry to stderr
  --trace               log every APDU exchange to stderr (PINs blanked)

Signals: SIGUSR1 removes every card, SIGUSR2 inserts them again
(like virt_cacard -r / -i). A removed card closes its connection, which
pcscd reports as "Card Removed"; inserting reconnects.

With --pkcs11, pulling the token out removes the card from its reader, and
putting it back inserts it again (libvirt host mode; docs/host-mode.md).

Examples:
  cacard vpcd --db certs-sample/nssdb --cards 2
  pkcs11-tool -L        # Virtual PCD 00 00 and 00 01, token label "CAC II"
  cacard vpcd --pkcs11 /usr/lib/softhsm/libsofthsm2.so --token mytoken`;

const KEEP_ALIVE_MS = 1 << 30;

const options = {
  ...cardOptionSpec,
  host: { type: "string" },
  port: { type: "string" },
  cards: { type: "string" },
  "serial-salt": { type: "string" },
  control: { type: "string" },
  "no-quickack": { type: "boolean" },
  verbose: { type: "boolean" },
  trace: { type: "boolean" },
} as const;

function parseIntOption(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} ${value}: expected a whole number from ${min} to ${max}`);
  }
  return n;
}

export interface VpcdSettings {
  readonly host: string;
  readonly port: number;
  readonly cards: number;
  readonly salt: string | undefined;
  readonly controlStdin: boolean;
  readonly quickAck: boolean;
  readonly verbose: boolean;
  readonly trace: boolean;
}

/** Checks the vpcd-specific options (pure; card options are checked when the cards are built). */
export function vpcdSettings(values: {
  host?: string;
  port?: string;
  cards?: string;
  "serial-salt"?: string;
  control?: string;
  "no-quickack"?: boolean;
  verbose?: boolean;
  trace?: boolean;
}): VpcdSettings {
  const host = values.host ?? VPCD_DEFAULT_HOST;
  if (host.trim() === "") throw new UsageError("--host: empty host name");
  const port = parseIntOption("port", values.port, VPCD_DEFAULT_PORT, 1, 0xffff);
  const cards = parseIntOption("cards", values.cards, 1, 1, MAX_CARDS);
  if (port + cards - 1 > 0xffff) throw new UsageError(`--port ${port} --cards ${cards}: ports beyond 65535`);
  if (values.control !== undefined && values.control !== "stdin") {
    throw new UsageError(`--control ${values.control}: the only control channel is 'stdin'`);
  }
  return {
    host,
    port,
    cards,
    salt: values["serial-salt"],
    controlStdin: values.control === "stdin",
    quickAck: values["no-quickack"] !== true,
    verbose: values.verbose === true,
    trace: values.trace === true,
  };
}

/**
 * Card `index` on its own key store instance (no shared login state between
 * cards). `reopen`: a PKCS#11 token that came back after removal.
 */
async function buildCard(
  values: CardOptionValues,
  settings: VpcdSettings,
  index: number,
  reopen = false,
): Promise<VirtualCard> {
  const pin = pinOptions(values);
  const choice = personalityOptions(values);
  try {
    const store = await keyStoreFromOptions(values, undefined, { reopen }, choice);
    const identity = cardIdentity(cardSerial(store), index, settings.salt);
    const warn = (message: string) => stderrWarn(`card ${index}: ${message}`);
    // Run-time warnings follow the guest's commands: rate-limited.
    const limiter = new WarningLimiter(warn);
    const cardOptions: CreateCardOptions = {
      serial: identity.serial,
      ...(identity.cccCardId ? { cccCardId: identity.cccCardId } : {}),
      ...pin,
      ...personalityCardOptions(choice),
      warn: (message) => limiter.warn("card warnings", message),
    };
    if (index === 0 && !reopen) personalityWarnings(store, choice).forEach(warn);
    return createCard(store, cardOptions);
  } finally {
    choice.cardPin?.fill(0);
  }
}

async function buildCards(values: CardOptionValues, settings: VpcdSettings): Promise<VirtualCard[]> {
  const cards: VirtualCard[] = [];
  try {
    for (let i = 0; i < settings.cards; i++) cards.push(await buildCard(values, settings, i));
  } catch (e) {
    await Promise.all(cards.map((c) => c.keyStore.close?.()));
    throw e;
  }
  return cards;
}

function describeIndices(verb: string, changed: number[], index: number | undefined): string[] {
  if (changed.length > 0) return changed.map((i) => `card ${i}: ${verb}`);
  return [index === undefined ? `no card changed (already ${verb})` : `card ${index}: already ${verb}`];
}

export const command: Command = {
  name: "vpcd",
  summary: "serve the card(s) to pcscd through vsmartcard's vpcd driver",
  help: HELP,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const settings = vpcdSettings(values);
    const say = (line: string) => io.stderr.write(`cacard vpcd: ${line}\n`);

    const cards = await buildCards(values, settings);
    if (io.signal.aborted) {
      await Promise.all(cards.map((c) => c.keyStore.close?.()));
      return EXIT_OK;
    }

    const attach = ({ index, client }: VpcdCardSlot) => {
      const tag = `card ${index}`;
      let outage = false;
      client.on("connected", () => {
        outage = false;
        say(`${tag}: connected to vpcd at ${client.endpoint}`);
      });
      // A vpcd that drops us after each frame must not buy a line each time.
      const drops = new WarningLimiter(say);
      client.on("disconnected", (reason) => {
        const failedConnect = reason.startsWith("connect failed");
        if (settings.verbose || !failedConnect) drops.warn("disconnections", `${tag}: disconnected (${reason})`);
        else if (!outage) say(`${tag}: vpcd at ${client.endpoint} not reachable (${reason}); retrying`);
        if (failedConnect) outage = true;
      });
      if (settings.verbose) {
        client.on("connecting", (attempt) => say(`${tag}: connecting to ${client.endpoint} (attempt ${attempt})`));
        client.on("retry", (ms) => say(`${tag}: retry in ${ms} ms`));
      }
      if (settings.trace) {
        client.on("control", (_code, name) => say(`${tag}: ${name}`));
        client.on("apdu", (command, response) => say(`${tag}: > ${toHex(command)}  < ${toHex(response)}`));
      }
    };

    const set = new VpcdCardSet(cards, {
      host: settings.host,
      basePort: settings.port,
      onClient: attach,
      log: settings.verbose ? (m) => say(m) : undefined,
      quickAck: settings.quickAck,
    });
    if (settings.quickAck) {
      const support = quickAckSupport();
      say(support.set ? "TCP_QUICKACK on (no delayed ACKs from vpcd's split writes)" : `TCP_QUICKACK off: ${support.why}; each APDU may wait ~40 ms (docs/vpcd.md)`);
    }
    for (const slot of set.slots) {
      const card = cards[slot.index];
      say(
        `card ${slot.index}: ${card.keyStore.credentials.length} certificate(s), serial ${toHex(card.serial.subarray(0, 8))}…, vpcd ${slot.client.endpoint}`,
      );
    }

    // Host mode: the token pulled out removes its card, the token back inserts it.
    const unfollow = values.pkcs11 === undefined
      ? []
      : set.slots.map((slot) =>
          followTokenPresence({
            reader: slot.reader,
            card: cards[slot.index],
            rebuild: () => buildCard(values, settings, slot.index, true),
            say: (line) => say(`card ${slot.index}: ${line}`),
          }),
        );

    const onRemoveSignal = () => describeIndices("removed", set.remove(), undefined).forEach(say);
    const onInsertSignal = () => describeIndices("inserted", set.insert(), undefined).forEach(say);
    process.on("SIGUSR1", onRemoveSignal);
    process.on("SIGUSR2", onInsertSignal);

    let rl: Interface | null = null;
    if (settings.controlStdin) {
      rl = createInterface({ input: io.stdin, crlfDelay: Infinity, terminal: false });
      rl.on("line", (line) => {
        try {
          const cmd = parseControlLine(line, set.slots.length);
          switch (cmd.op) {
            case "none":
              return;
            case "help":
              say(CONTROL_HELP);
              return;
            case "status":
              set.status().forEach(say);
              return;
            case "remove":
              describeIndices("removed", set.remove(cmd.index), cmd.index).forEach(say);
              return;
            case "insert":
              describeIndices("inserted", set.insert(cmd.index), cmd.index).forEach(say);
              return;
          }
        } catch (e) {
          if (e instanceof ControlSyntaxError) say(`control: ${e.message}`);
          else throw e;
        }
      });
      rl.on("close", () => {
        if (!io.signal.aborted) say("control: end of stdin; signals still work");
      });
    }

    set.start();
    // Signal handlers do not keep Node alive; with every card removed and stdin closed
    // nothing else would, and the process must wait for SIGUSR2 or SIGTERM.
    const keepAlive = setInterval(() => {}, KEEP_ALIVE_MS);
    try {
      await new Promise<void>((resolve) => {
        if (io.signal.aborted) resolve();
        else io.signal.addEventListener("abort", () => resolve(), { once: true });
      });
    } finally {
      clearInterval(keepAlive);
      process.off("SIGUSR1", onRemoveSignal);
      process.off("SIGUSR2", onInsertSignal);
      rl?.close();
      if (settings.controlStdin) io.stdin.pause();
      await set.stop();
      await Promise.all(unfollow.map((stop) => stop()));
    }
    say("stopped");
    return EXIT_OK;
  },
};
