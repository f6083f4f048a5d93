/**
 * `cacard demo`: an annotated session against the emulated card, doing what
 * OpenSC's CAC driver does: select the CCC, read the certificates, VERIFY,
 * sign, and check the signature against the certificate.
 */
import { createHash, constants, publicDecrypt, X509Certificate } from "node:crypto";
import { parseCommandArgs } from "../parse-args.js";
import "reflect-metadata"; // @peculiar/x509 v2 needs it loaded first
import * as x509 from "@peculiar/x509";
import { AID } from "../../core/cac/aids.js";
import { CacClient } from "../../client/cac-client.js";
import { pkcs1SignatureBlock, sha256DigestInfo } from "../../client/pkcs1.js";
import { bytesEqual, toHex } from "../../core/bytes.js";
import type { Command } from "../command.js";
import { CARD_OPTIONS_HELP, cardFromOptions, cardOptionSpec, readPasswordFile } from "../card-options.js";
import { EXIT_FAILURE, EXIT_OK, UsageError } from "../errors.js";

/** The PIN the demo presents when no password file is given (any PIN opens a passwordless DB). */
const DEMO_PIN = "12345678";

export const command: Command = {
  name: "demo",
  summary: "an annotated session: read certificates, VERIFY, sign, check",
  help: `Usage: cacard demo [card options]

Runs a short session against the emulated card and explains each step:
SELECT the CCC and read it, read every certificate from its PKI applet,
VERIFY the PIN, sign with PKI 0 and verify the signature with its certificate.
The PIN presented is the one in --pin-file, else the --password-file password,
else ${DEMO_PIN}. Exit status 1 when the card refuses it or the signature does
not verify.

${CARD_OPTIONS_HELP}
`,
  async run(argv, io) {
    const { values } = parseCommandArgs("demo", argv, cardOptionSpec);
    if (values.personality === "piv") {
      throw new UsageError("demo drives the CAC applets: use --personality cac (the default) or cac+piv");
    }
    const say = (s: string) => io.stdout.write(s + "\n");
    const card = await cardFromOptions(values);
    const client = new CacClient(card);

    say(`# Power on. ATR ${toHex(await card.powerOn())} (the official CAC ATR libcacard reports).`);
    say(`# Key store: ${card.keyStore.kind} ${card.keyStore.location}`);

    await client.select(AID.CCC);
    const cccValues = await client.readBuffer(2);
    say(`# SELECT the CCC ${toHex(AID.CCC)}: OpenSC identifies a CAC by it.`);
    say(`#   its value buffer is ${cccValues.length} bytes; card id ${toHex(cccValues.subarray(0, 21))}`);

    const certs: x509.X509Certificate[] = [];
    for (let i = 0; i < card.keyStore.credentials.length; i++) {
      const der = await client.readCertificate(i);
      const cert = new x509.X509Certificate(der);
      certs.push(cert);
      say(`# PKI ${i} (${toHex(AID.pki(i))}): READ BUFFER → ${der.length}-byte certificate ${cert.subject}`);
    }

    const pinSource = values["pin-file"] ? "--pin-file" : values["password-file"] ? "--password-file" : null;
    const pin =
      pinSource === null ? new TextEncoder().encode(DEMO_PIN) : readPasswordFile(values[pinSource === "--pin-file" ? "pin-file" : "password-file"]!, pinSource);
    const verifySw = await client.verify(pin);
    pin.fill(0);
    say(`# VERIFY (PIN padded with FF to 8 bytes) → ${verifySw.toString(16).toUpperCase()}`);
    if (verifySw !== 0x9000) {
      const hint =
        pinSource === null
          ? `the demo presented ${DEMO_PIN}; give the PIN with --password-file (the DB password) or --pin-file`
          : `the PIN in ${pinSource} is not the card's`;
      say(`# The card refused the PIN (${verifySw.toString(16).toUpperCase()}): ${hint}.`);
      io.stderr.write(`cacard demo: VERIFY refused (SW ${verifySw.toString(16).toUpperCase()})\n`);
      return EXIT_FAILURE;
    }

    const message = Buffer.from("cacard demo: data to sign\n");
    const digest = createHash("sha256").update(message).digest();
    const publicKey = new X509Certificate(Buffer.from(certs[0].rawData)).publicKey;
    const modulusBytes = Math.ceil((publicKey.asymmetricKeyDetails?.modulusLength ?? 2048) / 8);
    await client.select(AID.pki(0));
    const before = client.exchanges;
    const digestInfo = sha256DigestInfo(digest);
    const signature = await client.rsaPrivate(pkcs1SignatureBlock(digestInfo, modulusBytes));
    say(
      `# SIGN with PKI 0: ${modulusBytes}-byte PKCS#1 v1.5 block sent in ${client.exchanges - before} APDUs ` +
        `(chained 80 42 80 00, GET RESPONSE) → ${signature.length}-byte signature`,
    );

    // Check with the certificate's public key: undo the RSA and compare the digest.
    const recovered = publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
    const good = bytesEqual(new Uint8Array(recovered), digestInfo);
    say(`# Signature checked against ${certs[0].subject}: ${good ? "valid" : "INVALID"}`);
    say(`# ${client.exchanges} APDUs in all.`);
    return good ? EXIT_OK : EXIT_FAILURE;
  },
};
