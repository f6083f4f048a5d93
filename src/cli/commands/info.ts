/** `cacard info`: what card the options describe (no secrets printed). */
import { parseArgs } from "node:util";
import "reflect-metadata"; // @peculiar/x509 v2 needs it loaded first
import { X509Certificate } from "@peculiar/x509";
import { toHex } from "../../core/bytes.js";
import { describeAlgorithm } from "../../core/token/types.js";
import type { Command } from "../command.js";
import { CARD_OPTIONS_HELP, cardFromOptions, cardOptionSpec } from "../card-options.js";
import { EXIT_OK, UsageError } from "../errors.js";

function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}

export const command: Command = {
  name: "info",
  summary: "show the card's ATR, serial, key store and certificates",
  help: `Usage: cacard info [card options]

Prints the ATR, the card serial (SHA-256 of certificate 0, as libcacard), the
key store and, per PKI slot, the nickname, subject, key algorithm and size, issuer,
certificate serial number and validity.

${CARD_OPTIONS_HELP}
`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({ args: argv, options: cardOptionSpec, allowPositionals: true });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const card = await cardFromOptions(values, {}, undefined, { deferKeyDecryption: false });
    const store = card.keyStore;
    const secret = store.kind === "pkcs11" ? "the token's user PIN" : "the DB password";
    const login = store.loginRequired
      ? values["password-file"]
        ? `PIN required (${secret}; password file verified)`
        : `PIN required (${secret})`
      : "no PIN needed (any PIN is accepted)";
    const out = [
      `ATR:       ${toHex(card.atr)}`,
      `Serial:    ${toHex(card.serial)}`,
      `Key store: ${store.kind} ${store.location}`,
      `Login:     ${login}`,
      ...store.credentials.flatMap((c, i) => {
        const cert = new X509Certificate(c.certificate);
        return [
          `PKI ${i}:     ${c.label}  ${c.subject}  ${describeAlgorithm(c.algorithm)}`,
          `           issuer ${cert.issuer}, serial ${cert.serialNumber}, valid ${day(cert.notBefore)} to ${day(cert.notAfter)}`,
        ];
      }),
    ];
    io.stdout.write(out.join("\n") + "\n");
    await store.close?.(); // a PKCS#11 module is finalized, its thread ended
    return EXIT_OK;
  },
};
