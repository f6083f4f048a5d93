/**
 * One stable, machine-readable line per VscardEvent, as `cacard vscard`
 * prints them on stderr (prefixed with "cacard vscard: "). Shape:
 * `<event words> key=value ...`; values never contain spaces unless quoted
 * with double quotes. Scripts should match on the leading words:
 *
 *   listening on ADDR                        (--listen)
 *   connecting to ADDR
 *   connect failed ADDR reason="..."
 *   connected ADDR tls=off|"TLSv1.3 CIPHER"
 *   host init version=N caps=C[,C...]
 *   host init ignored count=N                (QEMU's 2nd Init; normal)
 *   no host init after MS ms; going on
 *   reader ID attached name="..."
 *   reader refused name="..." code=N reason="..."
 *   reader ID detached name="..."
 *   card inserted reader=ID atr=HEX          (the host accepted the ATR: ready)
 *   card rejected reader=ID code=N           (the host refused the ATR)
 *   card removed reader=ID
 *   disconnected ADDR reason="..."
 *   retrying in MS ms attempt=N
 *   rejected connection ADDR reason="..."    (--listen: TLS failure, or busy)
 *   warning: ...
 *   protocol error: ...
 *   key store: KIND LOCATION, N certificate(s): NICK, ...   (cacard vscard, at start)
 *   note: no --db: serving the public sample keys ...      (cacard vscard, at start)
 *   stopped
 */
import { toHex } from "../core/bytes.js";
import type { VscardEvent } from "../backends/vscard/session.js";

function q(text: string): string {
  return `"${text.replace(/["\\]/g, (c) => "\\" + c).replace(/\n/g, " ")}"`;
}

/** The line for an event, or null for the ones only shown with --debug. */
export function formatEvent(event: VscardEvent, debug = false): string | null {
  switch (event.type) {
    case "listening":
      return `listening on ${event.address}`;
    case "connecting":
      return `connecting to ${event.address}`;
    case "connect-failed":
      return `connect failed ${event.address} reason=${q(event.reason)}`;
    case "connected":
      return `connected ${event.address} tls=${event.tls === null ? "off" : q(event.tls)}`;
    case "host-init":
      return `host init version=${event.version} caps=${event.capabilities.join(",")}`;
    case "host-init-ignored":
      return debug ? `host init ignored count=${event.count}` : null;
    case "no-host-init":
      return `no host init after ${event.waitedMs} ms; going on`;
    case "reader-attached":
      return `reader ${event.id} attached name=${q(event.reader)}`;
    case "reader-refused":
      return `reader refused name=${q(event.reader)} code=${event.code} reason=${q(event.why)}`;
    case "reader-detached":
      return `reader ${event.id} detached name=${q(event.reader)}`;
    case "card-inserted":
      return `card inserted reader=${event.id} atr=${toHex(event.atr)}`;
    case "atr-rejected":
      return `card rejected reader=${event.id} code=${event.code}`;
    case "card-removed":
      return `card removed reader=${event.id}`;
    case "apdu":
      return debug
        ? `apdu reader=${event.id} > ${toHex(event.command)} < ${event.response === null ? "error" : toHex(event.response)}`
        : null;
    case "message":
      return debug ? `${event.direction} ${event.text}` : null;
    case "warning":
      return `warning: ${event.message}`;
    case "protocol-error":
      return `protocol error: ${event.message}`;
    case "disconnected":
      return `disconnected ${event.address} reason=${q(event.reason)}`;
    case "retry":
      return `retrying in ${event.delayMs} ms attempt=${event.attempt}`;
    case "rejected-connection":
      return `rejected connection ${event.address} reason=${q(event.reason)}`;
    case "stopped":
      return "stopped";
  }
}
