/**
 * `cacard qemu-args`: the QEMU options that pair with a `cacard vscard` line.
 * Takes the same options as `cacard vscard` (card options are accepted and
 * ignored), so the two commands can be written with the same arguments.
 */
import { parseCommandArgs } from "../parse-args.js";
import { qemuArgs, shellQuote, type PassthruConfig, type UsbController } from "../qemu-config.js";
import { parseSecretObject, SecretError, type SecretSpec } from "../../secrets/secret.js";
import type { Command } from "../command.js";
import { cardOptionSpec } from "../card-options.js";
import { EXIT_OK, UsageError } from "../errors.js";
import { planFromValues, vscardOptionSpec } from "./vscard.js";

export const qemuOptionSpec = {
  controller: { type: "string" },
  "qemu-tls-dir": { type: "string" },
  "qemu-tls-passwordid": { type: "string" },
  format: { type: "string" },
} as const;

const HELP = `Usage: cacard qemu-args (--connect [HOST:]PORT | --unix PATH | --listen [HOST:]PORT)
                        [--tls-dir DIR] [--tls-verify-peer yes|no] [QEMU options]
                        [any other cacard vscard option, ignored]

Prints the QEMU options for a ccid-card-passthru device that talks to
\`cacard vscard\` run with the same transport options:

  cacard vscard --connect 127.0.0.1:35971   pairs with
  -chardev socket,id=ccid0,host=127.0.0.1,port=35971,server=on,wait=off,nodelay=on

--listen gives a QEMU chardev with server=off,reconnect=2 (QEMU connects).
--tls-dir adds -object tls-creds-x509 with QEMU's endpoint (the opposite of
ours); the same directory can hold both sides' files.

QEMU options:
  --controller uhci|xhci|none  USB controller for usb-ccid (default uhci:
                         QEMU 7.2's usb-ccid under xHCI corrupts 54-byte
                         responses; none = use the VM's own USB bus)
  --qemu-tls-dir DIR     QEMU's credentials directory, if not --tls-dir
  --qemu-tls-passwordid ID  QEMU's key is encrypted: adds passwordid=ID and
                         repeats the --object secret definitions it needs
  --format shell|args|json  shell: quoted, one option per line with \\
                         (default); args: one argument per line; json: array
`;

function secretChain(objects: readonly string[], id: string): string[] {
  const specs = new Map<string, { text: string; spec: SecretSpec }>();
  for (const text of objects) {
    try {
      const spec = parseSecretObject(text);
      specs.set(spec.id, { text, spec });
    } catch (e) {
      if (e instanceof SecretError) throw new UsageError(e.message);
      throw e;
    }
  }
  const out: string[] = [];
  let cur: string | undefined = id;
  const seen = new Set<string>();
  while (cur !== undefined) {
    const entry = specs.get(cur);
    if (!entry) throw new UsageError(`--qemu-tls-passwordid: no --object secret,id=${cur},... given`);
    if (seen.has(cur)) throw new UsageError(`secret '${cur}': keyid loop`);
    seen.add(cur);
    out.unshift(entry.text); // a key must be defined before the secret it decrypts
    cur = entry.spec.keyid;
  }
  return out;
}

/** Groups an argv into "-opt value" pairs for display. */
function pairs(args: readonly string[]): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < args.length; i += 2) out.push(args.slice(i, i + 2));
  return out;
}

export function formatArgs(args: readonly string[], format: string): string {
  switch (format) {
    case "shell":
      return pairs(args).map((p) => p.map(shellQuote).join(" ")).join(" \\\n") + "\n";
    case "args":
      return args.join("\n") + "\n";
    case "json":
      return JSON.stringify(args) + "\n";
    default:
      throw new UsageError(`--format ${format}: expected shell, args or json`);
  }
}

export function configFromArgv(name: string, argv: string[], extra: Record<string, { type: "string" | "boolean" }>) {
  const { values } = parseCommandArgs(name, argv, { ...cardOptionSpec, ...vscardOptionSpec, ...qemuOptionSpec, ...extra });
  const plan = planFromValues(values);
  const controller = (values.controller ?? "uhci") as string;
  if (!["uhci", "xhci", "none"].includes(controller)) {
    throw new UsageError(`--controller ${controller}: expected uhci, xhci or none`);
  }
  const tlsDir = (values["qemu-tls-dir"] as string | undefined) ?? plan.tlsDir;
  if (values["qemu-tls-dir"] !== undefined && plan.tlsDir === undefined) {
    throw new UsageError("--qemu-tls-dir needs --tls-dir (cacard's side of the TLS connection)");
  }
  const passwordId = values["qemu-tls-passwordid"] as string | undefined;
  if (passwordId !== undefined && tlsDir === undefined) throw new UsageError("--qemu-tls-passwordid needs --tls-dir");
  const config: PassthruConfig = {
    mode: plan.mode,
    endpoint: plan.endpoint,
    verifyPeer: plan.verifyPeer,
    controller: controller as UsbController,
    ...(tlsDir !== undefined ? { tlsDir } : {}),
    ...(passwordId !== undefined ? { passwordId, secretObjects: secretChain(plan.objects, passwordId) } : {}),
  };
  return { config, values };
}

export const command: Command = {
  name: "qemu-args",
  summary: "print the QEMU options (usb-ccid, chardev, TLS) matching a cacard vscard line",
  help: HELP,
  async run(argv, io) {
    const { config, values } = configFromArgv("qemu-args", argv, {});
    io.stdout.write(formatArgs(qemuArgs(config), (values.format as string | undefined) ?? "shell"));
    return EXIT_OK;
  },
};
