/**
 * `cacard libvirt-xml`: the libvirt <smartcard mode='passthrough'> element
 * that pairs with a `cacard vscard` line (same options as qemu-args).
 */
import { libvirtXml } from "../qemu-config.js";
import type { Command } from "../command.js";
import { EXIT_OK, UsageError } from "../errors.js";
import { configFromArgv } from "./qemu-args.js";

const HELP = `Usage: cacard libvirt-xml (--connect [HOST:]PORT | --unix PATH | --listen [HOST:]PORT)
                          [--tls-dir DIR] [any other cacard vscard option, ignored]

Prints the <smartcard> element for a libvirt domain's <devices>, matching
\`cacard vscard\` with the same transport options:

  --connect   <source mode='bind' .../>     (libvirt's QEMU listens)
  --listen    <source mode='connect' ...>   (QEMU connects, reconnecting)
  --tls-dir   adds tls='yes'. libvirt reads the certificate directory from
              qemu.conf (chardev_tls_x509_cert_dir, default
              /etc/pki/libvirt-chardev; chardev_tls_x509_verify;
              chardev_tls_x509_secret_uuid for an encrypted key), not from the
              XML; a comment in the output says so.
`;

export const command: Command = {
  name: "libvirt-xml",
  summary: "print the libvirt <smartcard mode='passthrough'> element for cacard vscard",
  help: HELP,
  async run(argv, io) {
    const { config, values } = configFromArgv("libvirt-xml", argv, {});
    if (values.format !== undefined) throw new UsageError("--format is for qemu-args");
    if (values["qemu-tls-passwordid"] !== undefined) {
      throw new UsageError("--qemu-tls-passwordid is for qemu-args; libvirt takes chardev_tls_x509_secret_uuid in qemu.conf");
    }
    let out = "";
    if (config.tlsDir !== undefined) {
      const role = config.mode === "connect" ? "server" : "client";
      out +=
        `<!-- TLS: libvirt takes QEMU's ${role} certificates from qemu.conf: chardev_tls = 1 or tls='yes' below,\n` +
        `     chardev_tls_x509_cert_dir (ca-cert.pem, ${role}-cert.pem, ${role}-key.pem; default /etc/pki/libvirt-chardev),\n` +
        `     chardev_tls_x509_verify = ${config.verifyPeer === false ? 0 : 1}. cacard uses --tls-dir ${config.tlsDir}. -->\n`;
    }
    if (config.controller !== "none") {
      out += `<!-- usb-ccid is plugged into the first USB bus; on QEMU 7.2 prefer a UHCI controller (xHCI breaks 54-byte answers). -->\n`;
    }
    out += libvirtXml(config);
    io.stdout.write(out);
    return EXIT_OK;
  },
};
