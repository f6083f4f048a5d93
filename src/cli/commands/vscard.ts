/**
 * `cacard vscard`: serve the card to QEMU's ccid-card-passthru over the
 * VSCard protocol (TCP, unix socket or TLS; we connect or we listen), with
 * one machine-readable status line per event on stderr.
 */
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { VirtualReader, type SmartCard } from "../../core/card/reader.js";
import type { VirtualCard } from "../../core/card/card.js";
import { AddressError, DEFAULT_HOST, formatEndpoint, isLoopback, parseHostPort, type Endpoint } from "../../backends/vscard/address.js";
import { VscardClient } from "../../backends/vscard/client.js";
import { VscardListener } from "../../backends/vscard/listener.js";
import { formatEvent } from "../vscard-events.js";
import { loadTlsDir, TlsConfigError, type TlsCredentials } from "../../backends/vscard/tls.js";
import { SecretError, SecretStore } from "../../secrets/secret.js";
import type { CliIo, Command } from "../command.js";
import { CARD_OPTIONS_HELP, cardFromOptions, cardOptionSpec, type CardOptionValues } from "../card-options.js";
import { followTokenPresence } from "../token-presence.js";
import { EXIT_FAILURE, EXIT_OK, UsageError } from "../errors.js";

export const DEFAULT_READER_NAME = "cacard";
const PREFIX = "cacard vscard: ";

/** The options of every command that talks VSCard to QEMU (`cacard vscard`, `cacard relay`). */
export const vscardTransportSpec = {
  connect: { type: "string" },
  unix: { type: "string" },
  listen: { type: "string" },
  "allow-remote": { type: "boolean" },
  "tls-dir": { type: "string" },
  "tls-verify-peer": { type: "string" },
  "tls-key-secret": { type: "string" },
  object: { type: "string", multiple: true },
  "reader-name": { type: "string" },
  "retry-initial-ms": { type: "string" },
  "retry-max-ms": { type: "string" },
  debug: { type: "boolean" },
} as const;

export const vscardOptionSpec = {
  ...vscardTransportSpec,
  "password-secret": { type: "string" },
  "no-card": { type: "boolean" },
  "stdin-commands": { type: "boolean" },
} as const;

/** Help for vscardTransportSpec (SECRETS_EXTRA: command-specific secret options). */
export function vscardTransportHelp(command: string, defaultReaderName: string, secretsExtra = ""): string {
  return `Transport (exactly one):
  --connect [HOST:]PORT  connect to QEMU's chardev socket (QEMU: server=on);
                         HOST defaults to ${DEFAULT_HOST}
  --unix PATH            connect to QEMU's unix-socket chardev (server=on)
  --listen [HOST:]PORT   listen; QEMU connects (QEMU: server=off). One host
                         at a time. Port 0 picks a free port (see the
                         "listening on" line)
  --allow-remote         allow --listen on an address other than loopback

TLS (TCP only; QEMU's tls-creds-x509 directory layout):
  --tls-dir DIR          ca-cert.pem (required), ca-crl.pem (optional),
                         client-cert.pem + client-key.pem (--connect),
                         server-cert.pem + server-key.pem (--listen)
  --tls-verify-peer yes|no  check the peer certificate against ca-cert.pem,
                         and the host name with --connect (default yes)
  --tls-key-secret ID    passphrase of an encrypted key file, from a secret

Secrets (QEMU's -object secret syntax, repeatable):
  --object secret,id=ID,file=FILE|data=TEXT[,format=raw|base64][,keyid=ID2,iv=B64]
${secretsExtra}
Connection:
  --reader-name NAME     reader name sent in ReaderAdd (default ${defaultReaderName})
  --retry-initial-ms MS  first reconnect delay (default 250)
  --retry-max-ms MS      reconnect delay cap (default 10000)
  --debug                also print every message and APDU (PINs masked)

Status lines on stderr (one per event, "cacard ${command}: " + one of):
  listening on ADDR | connecting to ADDR | connected ADDR tls=off|"..."
  host init version=2 caps=0 | reader 0 attached name="..."
  card inserted reader=0 atr=HEX   <- the card is usable by the guest
  card removed reader=0 | disconnected ADDR reason="..."
  retrying in MS ms attempt=N | connect failed ADDR reason="..." | stopped
  warning: ... | protocol error: ... | rejected connection ADDR reason="..."`;
}

const HELP = `Usage: cacard vscard (--connect [HOST:]PORT | --unix PATH | --listen [HOST:]PORT)
                     [transport, TLS, secret options] [card options]

Serves the card to QEMU's ccid-card-passthru device (VSCard protocol), like
libcacard's vscclient. Runs until SIGINT/SIGTERM; reconnects when QEMU goes.

${vscardTransportHelp(
  "vscard",
  DEFAULT_READER_NAME,
  `  --password-secret ID   the DB / key password from a secret (instead of
                         --password-file); it is also the PIN
`,
)}

Card in the reader:
  --no-card              start with an empty reader
  --stdin-commands       read commands from stdin: insert, remove, quit

${CARD_OPTIONS_HELP}
`;

/** Why listen() failed, once: "address already in use (EADDRINUSE)", not Node's message that repeats the code. */
function listenFailure(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case "EADDRINUSE":
      return "address already in use (EADDRINUSE); is another cacard or QEMU listening there?";
    case "EACCES":
      return "permission denied (EACCES)";
    case "EADDRNOTAVAIL":
      return "no such local address (EADDRNOTAVAIL)";
    default:
      return err.code ?? err.message;
  }
}

function yesNo(value: string | undefined, option: string): boolean {
  if (value === undefined) return true;
  const v = value.toLowerCase();
  if (["yes", "on", "true", "1"].includes(v)) return true;
  if (["no", "off", "false", "0"].includes(v)) return false;
  throw new UsageError(`--${option} ${value}: expected yes or no`);
}

function positiveMs(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 3_600_000) throw new UsageError(`--${option} ${value}: expected milliseconds (1-3600000)`);
  return n;
}

export interface VscardPlan {
  readonly mode: "connect" | "listen";
  readonly endpoint: Endpoint;
  readonly tlsDir?: string;
  readonly verifyPeer: boolean;
  readonly tlsKeySecret?: string;
  readonly objects: readonly string[];
  readonly passwordSecret?: string;
}

type Values = { [K in keyof typeof vscardOptionSpec]?: unknown } & CardOptionValues;

/**
 * The transport part of the options, checked (shared with qemu-args and
 * libvirt-xml so that all three accept the same words).
 */
export function planFromValues(values: Values): VscardPlan {
  const connect = values.connect as string | undefined;
  const unix = values.unix as string | undefined;
  const listen = values.listen as string | undefined;
  const given = [connect, unix, listen].filter((v) => v !== undefined).length;
  if (given !== 1) throw new UsageError("give exactly one of --connect [HOST:]PORT, --unix PATH or --listen [HOST:]PORT");
  const tlsDir = values["tls-dir"] as string | undefined;
  const verifyPeer = yesNo(values["tls-verify-peer"] as string | undefined, "tls-verify-peer");
  if (tlsDir === undefined) {
    if (values["tls-verify-peer"] !== undefined) throw new UsageError("--tls-verify-peer needs --tls-dir");
    if (values["tls-key-secret"] !== undefined) throw new UsageError("--tls-key-secret needs --tls-dir");
  }
  let endpoint: Endpoint;
  let mode: "connect" | "listen" = "connect";
  try {
    if (unix !== undefined) {
      if (unix === "") throw new UsageError("--unix needs a socket path");
      // QEMU refuses this too: "'tls_creds' option is incompatible with 'unix' address type".
      if (tlsDir !== undefined) throw new UsageError("--tls-dir cannot be used with --unix: TLS is only available over TCP");
      endpoint = { kind: "unix", path: unix };
    } else if (connect !== undefined) {
      endpoint = { kind: "tcp", ...parseHostPort(connect, "--connect") };
    } else {
      mode = "listen";
      endpoint = { kind: "tcp", ...parseHostPort(listen as string, "--listen", true) };
      if (!isLoopback(endpoint.host) && !values["allow-remote"]) {
        throw new UsageError(
          `--listen ${listen}: ${endpoint.host} is not a loopback address; add --allow-remote to accept connections from other machines`,
        );
      }
    }
  } catch (e) {
    if (e instanceof AddressError) throw new UsageError(e.message);
    throw e;
  }
  const passwordSecret = values["password-secret"] as string | undefined;
  if (passwordSecret !== undefined && values["password-file"] !== undefined) {
    throw new UsageError("--password-secret and --password-file are mutually exclusive");
  }
  return {
    mode,
    endpoint,
    verifyPeer,
    objects: (values.object as string[] | undefined) ?? [],
    ...(tlsDir !== undefined ? { tlsDir } : {}),
    ...(values["tls-key-secret"] !== undefined ? { tlsKeySecret: values["tls-key-secret"] as string } : {}),
    ...(passwordSecret !== undefined ? { passwordSecret } : {}),
  };
}

/** Loads --object secrets; syntax problems are usage errors, unreadable files plain errors. */
export function loadSecrets(objects: readonly string[], warn: (line: string) => void): SecretStore {
  try {
    const store = SecretStore.fromObjects(objects);
    for (const w of store.warnings) warn(`warning: ${w.message}`);
    return store;
  } catch (e) {
    if (e instanceof SecretError && e.code !== "SECRET_SOURCE") throw new UsageError(e.message);
    if (e instanceof SecretError && /one of file= or data=|not both/.test(e.message)) throw new UsageError(e.message);
    throw e;
  }
}

function secretOrUsage(store: SecretStore, id: string, option: string, utf8: true): string;
function secretOrUsage(store: SecretStore, id: string, option: string, utf8: false): Uint8Array;
function secretOrUsage(store: SecretStore, id: string, option: string, utf8: boolean): string | Uint8Array {
  if (!store.has(id)) throw new UsageError(`--${option} ${id}: no secret with that id (define it with --object secret,id=${id},...)`);
  try {
    return utf8 ? store.lookupUtf8(id) : store.lookup(id);
  } catch (e) {
    if (e instanceof SecretError) throw new UsageError(`--${option} ${id}: ${e.message}`);
    throw e;
  }
}

async function buildCard(values: CardOptionValues, password: Uint8Array | undefined): Promise<VirtualCard> {
  return cardFromOptions(values, {}, password);
}

function watchStdin(io: CliIo, reader: VirtualReader, stop: () => void, say: (line: string) => void): () => void {
  const rl = createInterface({ input: io.stdin, crlfDelay: Infinity });
  rl.on("line", (raw) => {
    const cmd = raw.trim().toLowerCase();
    if (cmd === "") return;
    if (cmd === "insert") {
      if (!reader.insert()) say("warning: insert: a card is already in (or there is none to insert)");
    } else if (cmd === "remove") {
      if (!reader.remove()) say("warning: remove: the reader is already empty");
    } else if (cmd === "quit" || cmd === "exit") {
      stop();
    } else {
      say(`warning: unknown command '${cmd}' (insert, remove, quit)`);
    }
  });
  return () => {
    rl.close();
    io.stdin.pause();
  };
}

/** What a VSCard command serves, made once the secrets are loaded. */
export interface VscardServed {
  readonly readers: readonly VirtualReader[];
  /** Called with a function that stops serving; returns the clean-up to run afterwards. */
  readonly onStart?: (stop: () => void) => () => void | Promise<void>;
}

export interface ServeVscardOptions {
  readonly values: { [K in keyof typeof vscardTransportSpec]?: unknown } & CardOptionValues & { "password-secret"?: unknown };
  readonly io: CliIo;
  /** "cacard vscard: ", the start of every status line. */
  readonly prefix: string;
  /** Builds what to serve (the card, or the relayed reader) once the secrets are known. */
  readonly serve: (secrets: SecretStore, say: (line: string) => void) => Promise<VscardServed>;
}

/**
 * The VSCard half of a command: checks the transport options, loads secrets
 * and TLS credentials, then connects to (or listens for) QEMU and serves the
 * readers until the command is stopped. Returns the exit code.
 */
export async function serveVscard(options: ServeVscardOptions): Promise<number> {
  const { values, io, prefix } = options;
  const plan = planFromValues(values);
  const say = (line: string) => io.stderr.write(prefix + line + "\n");
  const initialMs = positiveMs(values["retry-initial-ms"] as string | undefined, "retry-initial-ms");
  const maxMs = positiveMs(values["retry-max-ms"] as string | undefined, "retry-max-ms");
  const debug = values.debug === true;

  const secrets = loadSecrets(plan.objects, say);
  let tlsCreds: TlsCredentials | undefined;
  try {
    if (plan.tlsDir !== undefined) {
      const passphrase = plan.tlsKeySecret ? secretOrUsage(secrets, plan.tlsKeySecret, "tls-key-secret", true) : undefined;
      try {
        tlsCreds = loadTlsDir({
          dir: plan.tlsDir,
          role: plan.mode === "connect" ? "client" : "server",
          verifyPeer: plan.verifyPeer,
          ...(passphrase !== undefined ? { keyPassphrase: passphrase } : {}),
        });
      } catch (e) {
        if (e instanceof TlsConfigError) {
          io.stderr.write(`${prefix}${e.message}\n`);
          return EXIT_FAILURE;
        }
        throw e;
      }
      if (!plan.verifyPeer) say("warning: --tls-verify-peer=no: the peer is not authenticated; anyone who can reach the port can talk to the card");
    } else if (plan.endpoint.kind === "tcp" && !isLoopback(plan.endpoint.host)) {
      say(`warning: talking to ${plan.endpoint.host} without TLS: APDUs, including the PIN, cross the network in clear`);
    }
    const served = await options.serve(secrets, say);

    const controller = new AbortController();
    const stop = () => controller.abort();
    if (io.signal.aborted) stop();
    else io.signal.addEventListener("abort", stop, { once: true });
    const cleanUp = served.onStart?.(stop) ?? (() => undefined);
    const onEvent = (event: Parameters<typeof formatEvent>[0]) => {
      const line = formatEvent(event, debug);
      if (line !== null) say(line);
    };
    const common = {
      readers: served.readers,
      endpoint: plan.endpoint,
      signal: controller.signal,
      onEvent,
      // Per-message and per-APDU events only when --debug prints them.
      traceEvents: debug,
      ...(tlsCreds ? { tls: tlsCreds } : {}),
    };
    try {
      if (plan.mode === "connect") {
        await new VscardClient({
          ...common,
          backoff: { ...(initialMs ? { initialMs } : {}), ...(maxMs ? { maxMs } : {}) },
        }).run();
      } else {
        try {
          await new VscardListener(common).run();
        } catch (e) {
          say(`error: cannot listen on ${formatEndpoint(plan.endpoint)}: ${listenFailure(e)}`);
          return EXIT_FAILURE;
        }
      }
    } finally {
      io.signal.removeEventListener("abort", stop);
      await cleanUp();
    }
    return EXIT_OK;
  } finally {
    secrets.clear();
  }
}

export const command: Command = {
  name: "vscard",
  summary: "serve the card to QEMU's ccid-card-passthru (VSCard, TCP/unix/TLS)",
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...cardOptionSpec, ...vscardOptionSpec },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    return serveVscard({
      values,
      io,
      prefix: PREFIX,
      serve: async (secrets, say) => {
        const passwordSecret = values["password-secret"];
        const password = passwordSecret ? secretOrUsage(secrets, passwordSecret, "password-secret", false) : undefined;
        const card = await buildCard(values, password);
        const reader = new VirtualReader(values["reader-name"] ?? DEFAULT_READER_NAME, card);
        if (values["no-card"]) reader.remove();
        return {
          readers: [reader],
          onStart: (stop) => {
            const unwatch = values["stdin-commands"] ? watchStdin(io, reader, stop, say) : () => undefined;
            // Host mode: the token pulled out removes the card, the token back
            // inserts a new card on the reopened token.
            const unfollow =
              values.pkcs11 === undefined
                ? async () => undefined
                : followTokenPresence({
                    reader,
                    card,
                    rebuild: () => cardFromOptions(values, {}, undefined, { reopen: true }),
                    say,
                  });
            return async () => {
              unwatch();
              await unfollow();
            };
          },
        };
      },
    });
  },
};
