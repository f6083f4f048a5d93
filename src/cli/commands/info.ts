/** `cacard info`: what card the options describe (no secrets printed). */
import "reflect-metadata"; // @peculiar/x509 v2 needs it loaded first
import { X509Certificate } from "@peculiar/x509";
import { toHex } from "../../core/bytes.js";
import { describeAlgorithm, type KeyAlgorithm } from "../../core/token/types.js";
import type { Command } from "../command.js";
import { CARD_OPTIONS_HELP, cardFromOptions, cardOptionSpec } from "../card-options.js";
import { EXIT_OK } from "../errors.js";
import { parseCommandArgs } from "../parse-args.js";

function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** What unlocks the store's keys, named for its kind. */
export function storeSecretName(kind: string): string {
  switch (kind) {
    case "pkcs11":
      return "the token's user PIN";
    case "pem":
      return "the key password";
    default:
      return "the DB password";
  }
}

/** `cacard info --json`: one object, stable field names. */
export interface InfoJson {
  readonly atr: string;
  readonly serial: string;
  readonly personality: string;
  readonly compressedCertificates: boolean;
  readonly keyStore: { readonly kind: string; readonly location: string };
  readonly login: {
    readonly pinRequired: boolean;
    /** What the PIN is: "the DB password", "the key password", "the token's user PIN", "the card PIN (--pin-file)"; null without a PIN. */
    readonly pin: string | null;
    readonly passwordFileVerified: boolean;
  };
  readonly certificates: readonly {
    readonly slot: number;
    readonly nickname: string;
    readonly subject: string;
    readonly algorithm: KeyAlgorithm;
    readonly key: string;
    readonly privateKey: boolean;
    readonly issuer: string;
    readonly serialNumber: string;
    readonly notBefore: string;
    readonly notAfter: string;
  }[];
}

export const command: Command = {
  name: "info",
  summary: "show the card's ATR, serial, key store and certificates",
  help: `Usage: cacard info [card options] [--json]

Prints the ATR, the card serial (SHA-256 of certificate 0, as libcacard), the
key store and, per PKI slot, the nickname, subject, key algorithm and size, issuer,
certificate serial number and validity. With --json, the same as one JSON object.
\`cacard list\` shows every certificate of the store, used or not.

  --json                one JSON object (fields: atr, serial, personality,
                        compressedCertificates, keyStore, login, certificates)

${CARD_OPTIONS_HELP}
`,
  async run(argv, io) {
    const { values } = parseCommandArgs("info", argv, { ...cardOptionSpec, json: { type: "boolean" } });
    const card = await cardFromOptions(values, {}, undefined, { deferKeyDecryption: false });
    const store = card.keyStore;
    const pinName = values["pin-file"] ? "the card PIN (--pin-file)" : storeSecretName(store.kind);
    const verified = values["password-file"] !== undefined;
    const certificates = store.credentials.map((c, i) => {
      const cert = new X509Certificate(c.certificate);
      return {
        slot: i,
        nickname: c.label,
        subject: c.subject,
        algorithm: c.algorithm,
        key: describeAlgorithm(c.algorithm),
        privateKey: c.hasPrivateKey,
        issuer: cert.issuer,
        serialNumber: cert.serialNumber,
        notBefore: day(cert.notBefore),
        notAfter: day(cert.notAfter),
      };
    });
    if (values.json) {
      const info: InfoJson = {
        atr: toHex(card.atr),
        serial: toHex(card.serial),
        personality: values.personality ?? "cac",
        compressedCertificates: values["compress-certificates"] === true,
        keyStore: { kind: store.kind, location: store.location },
        login: { pinRequired: store.loginRequired, pin: store.loginRequired ? pinName : null, passwordFileVerified: verified },
        certificates,
      };
      io.stdout.write(JSON.stringify(info, null, 2) + "\n");
    } else {
      const login = store.loginRequired
        ? verified
          ? `PIN required (${pinName}; password file verified)`
          : `PIN required (${pinName})`
        : "no PIN needed (any PIN is accepted)";
      const out = [
        `ATR:       ${toHex(card.atr)}`,
        `Serial:    ${toHex(card.serial)}`,
        `Key store: ${store.kind} ${store.location}`,
        `Login:     ${login}`,
        ...certificates.flatMap((c) => [
          `PKI ${c.slot}:     ${c.nickname}  ${c.subject}  ${c.key}${c.privateKey ? "" : "  (no private key)"}`,
          `           issuer ${c.issuer}, serial ${c.serialNumber}, valid ${c.notBefore} to ${c.notAfter}`,
        ]),
      ];
      io.stdout.write(out.join("\n") + "\n");
    }
    await store.close?.(); // a PKCS#11 module is finalized, its thread ended
    return EXIT_OK;
  },
};
