/** Where a VSCard peer is (TCP or a unix socket): HOST:PORT parsing, printing, and the loopback rule. */
import net from "node:net";
import { CacardError } from "../../core/errors.js";

export type Endpoint = { kind: "tcp"; host: string; port: number } | { kind: "unix"; path: string };

export const DEFAULT_HOST = "127.0.0.1";

export class AddressError extends CacardError {
  constructor(message: string) {
    super("VSCARD_ADDRESS", message);
  }
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * "PORT", "HOST:PORT" or "[IPv6]:PORT". The host defaults to 127.0.0.1.
 * Port 0 is allowed only when `allowZero` (listening on a free port).
 */
export function parseHostPort(text: string, what: string, allowZero = false): HostPort {
  let host = DEFAULT_HOST;
  let portText = text;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(text);
  if (v6) {
    host = v6[1];
    portText = v6[2];
    if (net.isIPv6(host) === false) throw new AddressError(`${what} ${text}: '${host}' is not an IPv6 address`);
  } else if (text.includes(":")) {
    const i = text.lastIndexOf(":");
    host = text.slice(0, i);
    portText = text.slice(i + 1);
    if (host.includes(":")) throw new AddressError(`${what} ${text}: write IPv6 addresses as [ADDR]:PORT`);
    if (host === "") host = DEFAULT_HOST;
  }
  if (!/^\d{1,5}$/.test(portText)) throw new AddressError(`${what} ${text}: expected [HOST:]PORT`);
  const port = Number(portText);
  if (port > 65535 || (port === 0 && !allowZero)) {
    throw new AddressError(`${what} ${text}: port must be 1-65535${allowZero ? " (or 0 for any free port)" : ""}`);
  }
  return { host, port };
}

/** True for 127.0.0.0/8, ::1, ::ffff:127.x and "localhost". */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  if (net.isIPv4(h)) return h.startsWith("127.");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  return mapped !== null && mapped[1].startsWith("127.");
}

export function formatEndpoint(endpoint: Endpoint): string {
  if (endpoint.kind === "unix") return `unix:${endpoint.path}`;
  return endpoint.host.includes(":") ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}
