/**
 * `cacard list`: every certificate in the key store the card options name
 * (not only the ones the card would use), with its nickname, subject, key
 * algorithm and size, and whether the private key is there. No password is
 * needed; nothing secret is read.
 */
import { parseArgs } from "node:util";
import { describeAlgorithm } from "../../core/token/types.js";
import type { Command } from "../command.js";
import { cardOptionSpec, sampleDbPath, type CardOptionValues } from "../card-options.js";
import { EXIT_OK, UsageError } from "../errors.js";
import { parseCommandArgs } from "../parse-args.js";
import { listKeyStore, type ListedCertificate } from "../../tokens/list.js";

const HELP = `Usage: cacard list [--db DIR | --pkcs11 MODULE [--token LABEL]] [--json]

Lists every certificate in the NSS database, PEM directory or PKCS#11 token:
its nickname (what --cert takes), subject, key algorithm and size, and
whether its private key is there. A card uses the ones --cert names
(default cert1 cert2 cert3). No password is needed.

  --db DIR              NSS database directory (also sql:DIR) or PEM directory;
                        default: certs-sample/nssdb
  --pkcs11 MODULE       a PKCS#11 module (.so): list a token's certificates
  --token LABEL         with --pkcs11: the token (default: the first holding a
                        certificate with a key pair)
  --password-file FILE  with --pkcs11: the token PIN, to find private keys that
                        have no public-key object
  --json                one JSON object instead of the table
`;

interface Listing {
  readonly kind: string;
  readonly location: string;
  readonly certificates: readonly ListedCertificate[];
}

async function listFromOptions(values: CardOptionValues): Promise<Listing> {
  if (values.pkcs11 === undefined) {
    if (values.token !== undefined) throw new UsageError("--token LABEL names a PKCS#11 token: it needs --pkcs11 MODULE");
    return listKeyStore(values.db ?? sampleDbPath());
  }
  if (values.db !== undefined) throw new UsageError("--db and --pkcs11 are two different key stores: give one");
  const { openPkcs11Token } = await import("../../tokens/pkcs11/index.js");
  const { readPasswordFile } = await import("../card-options.js");
  const pin = values["password-file"] ? readPasswordFile(values["password-file"]) : undefined;
  try {
    const token = await openPkcs11Token({
      module: values.pkcs11,
      ...(values.token !== undefined ? { tokenLabel: values.token } : {}),
      ...(pin ? { pin } : {}),
      includeKeylessCertificates: true,
    });
    try {
      return { kind: token.kind, location: token.location, certificates: token.credentials };
    } finally {
      await token.close?.();
    }
  } finally {
    pin?.fill(0);
  }
}

function table(listing: Listing): string {
  const rows = listing.certificates.map((c) => [c.label, describeAlgorithm(c.algorithm), c.hasPrivateKey ? "yes" : "no", c.subject]);
  const head = ["NICKNAME", "KEY", "PRIVATE KEY", "SUBJECT"];
  const widths = head.slice(0, 3).map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]) : cell)).join("  ").trimEnd();
  const title = `${listing.kind} ${listing.location}: ${listing.certificates.length} certificate(s)`;
  return [title, line(head), ...rows.map(line)].join("\n") + "\n";
}

export const command: Command = {
  name: "list",
  summary: "list every certificate in the key store (nickname, subject, key, private key?)",
  help: HELP,
  async run(argv, io) {
    const { values } = parseCommandArgs("list", argv, { ...cardOptionSpec, json: { type: "boolean" } });
    const listing = await listFromOptions(values);
    if (values.json) {
      const certificates = listing.certificates.map((c) => ({
        nickname: c.label,
        subject: c.subject,
        algorithm: c.algorithm,
        key: describeAlgorithm(c.algorithm),
        privateKey: c.hasPrivateKey,
      }));
      io.stdout.write(JSON.stringify({ kind: listing.kind, location: listing.location, certificates }, null, 2) + "\n");
    } else {
      io.stdout.write(table(listing));
    }
    return EXIT_OK;
  },
};
