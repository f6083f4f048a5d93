/**
 * The QEMU command-line fragment and libvirt <smartcard> element that match a
 * cacard vscard invocation. Pure string building, shared by `cacard qemu-args`
 * and `cacard libvirt-xml`.
 *
 * Direction is mirrored: `cacard vscard --connect` means QEMU listens
 * (server=on, libvirt source mode='bind'); `cacard vscard --listen` means QEMU
 * connects (server=off with reconnect, libvirt mode='connect').
 */
import { CacardError } from "../core/errors.js";
import type { Endpoint } from "../backends/vscard/address.js";

export type CacardMode = "connect" | "listen";
/** USB controller for usb-ccid. UHCI is the default: QEMU 7.2's usb-ccid under xHCI mishandles 54-byte responses. */
export type UsbController = "uhci" | "xhci" | "none";

/** A setup QEMU would refuse (TLS on a unix socket). */
export class QemuConfigError extends CacardError {
  constructor(message: string) {
    super("QEMU_CONFIG", message);
  }
}

export const CHARDEV_ID = "ccid0";
export const TLS_OBJECT_ID = "ccid0-tls";
/** Seconds between QEMU's attempts to reach a listening cacard (server=off). */
export const QEMU_RECONNECT_SECONDS = 2;

export interface PassthruConfig {
  readonly mode: CacardMode;
  readonly endpoint: Endpoint;
  /** QEMU's tls-creds-x509 directory (its own role's files must be there). */
  readonly tlsDir?: string;
  readonly verifyPeer?: boolean;
  /** Secret id of QEMU's key passphrase (tls-creds-x509 passwordid=). */
  readonly passwordId?: string;
  /** `secret,...` texts to repeat as -object (for passwordid). */
  readonly secretObjects?: readonly string[];
  readonly controller?: UsbController;
  readonly chardevId?: string;
}

/** Escapes a QemuOpts value: a comma is written twice. */
export function qemuOptValue(value: string): string {
  return value.replace(/,/g, ",,");
}

function wildcardToLoopback(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "::1";
  return host;
}

/** QEMU's argument list (each element one argv entry). */
export function qemuArgs(config: PassthruConfig): string[] {
  const id = config.chardevId ?? CHARDEV_ID;
  const args: string[] = [];
  for (const s of config.secretObjects ?? []) args.push("-object", s);
  const useTls = config.tlsDir !== undefined;
  if (useTls) {
    if (config.endpoint.kind !== "tcp") throw new QemuConfigError("TLS needs a TCP chardev (QEMU refuses tls-creds on unix sockets)");
    const parts = [
      "tls-creds-x509",
      `id=${TLS_OBJECT_ID}`,
      `dir=${qemuOptValue(config.tlsDir as string)}`,
      // QEMU's role is the opposite of ours.
      `endpoint=${config.mode === "connect" ? "server" : "client"}`,
      `verify-peer=${config.verifyPeer === false ? "off" : "on"}`,
    ];
    if (config.passwordId) parts.push(`passwordid=${qemuOptValue(config.passwordId)}`);
    args.push("-object", parts.join(","));
  }
  const chardev = ["socket", `id=${id}`];
  if (config.endpoint.kind === "unix") {
    chardev.push(`path=${qemuOptValue(config.endpoint.path)}`);
  } else {
    chardev.push(`host=${qemuOptValue(wildcardToLoopback(config.endpoint.host))}`, `port=${config.endpoint.port}`);
  }
  if (config.mode === "connect") chardev.push("server=on", "wait=off");
  else chardev.push("server=off", `reconnect=${QEMU_RECONNECT_SECONDS}`);
  if (config.endpoint.kind === "tcp") chardev.push("nodelay=on");
  if (useTls) chardev.push(`tls-creds=${TLS_OBJECT_ID}`);
  args.push("-chardev", chardev.join(","));
  const controller = config.controller ?? "uhci";
  if (controller === "uhci") {
    args.push("-device", "ich9-usb-uhci1,id=cacard-uhci", "-device", "usb-ccid,id=cacard-ccid,bus=cacard-uhci.0");
  } else if (controller === "xhci") {
    args.push("-device", "qemu-xhci,id=cacard-xhci", "-device", "usb-ccid,id=cacard-ccid,bus=cacard-xhci.0");
  } else {
    args.push("-device", "usb-ccid,id=cacard-ccid");
  }
  args.push("-device", `ccid-card-passthru,chardev=${id}`);
  return args;
}

/** POSIX shell quoting of one word. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

function xmlAttr(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/'/g, "&apos;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * libvirt's <smartcard mode='passthrough'> for the same setup. libvirt takes
 * chardev TLS settings (certificate directory, verify, key secret) from
 * qemu.conf (chardev_tls_x509_cert_dir etc.), not from the domain XML; only
 * tls='yes' goes on the source element.
 */
export function libvirtXml(config: PassthruConfig, indent = "  "): string {
  const i1 = indent;
  const lines: string[] = [];
  const sourceMode = config.mode === "connect" ? "bind" : "connect";
  const tlsAttr = config.tlsDir !== undefined ? " tls='yes'" : "";
  if (config.endpoint.kind === "unix") {
    if (tlsAttr) throw new QemuConfigError("TLS needs a TCP chardev");
    lines.push("<smartcard mode='passthrough' type='unix'>");
    lines.push(`${i1}<source mode='${sourceMode}' path='${xmlAttr(config.endpoint.path)}'/>`);
  } else {
    const host = xmlAttr(wildcardToLoopback(config.endpoint.host));
    lines.push("<smartcard mode='passthrough' type='tcp'>");
    const source = `<source mode='${sourceMode}' host='${host}' service='${config.endpoint.port}'${tlsAttr}`;
    if (sourceMode === "connect") {
      lines.push(`${i1}${source}>`);
      lines.push(`${i1}${i1}<reconnect enabled='yes' timeout='${QEMU_RECONNECT_SECONDS}'/>`);
      lines.push(`${i1}</source>`);
    } else {
      lines.push(`${i1}${source}/>`);
    }
    lines.push(`${i1}<protocol type='raw'/>`);
  }
  lines.push(`${i1}<address type='ccid' controller='0' slot='0'/>`);
  lines.push("</smartcard>");
  return lines.join("\n") + "\n";
}
