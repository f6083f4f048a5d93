/**
 * `cacard web`: serves the browser card (dist/web, built by src/web/build.mjs)
 * on loopback. The page holds the keys and talks to the VM's WebSocket
 * chardev itself; this server only hands out static files and never sees a
 * key, a PIN or an APDU.
 *
 * Loopback only, and only for a Host header naming loopback: a page from
 * another origin that rebinds its DNS name to 127.0.0.1 (DNS rebinding)
 * gets 421 instead of the page. Chromium also needs the page on loopback to
 * reach a ws://127.0.0.1 chardev at all (Local Network Access).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Command } from "../command.js";
import { EXIT_FAILURE, EXIT_OK, UsageError } from "../errors.js";

export const DEFAULT_WEB_PORT = 35990;

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".pem": "application/x-pem-file",
  ".key": "application/x-pem-file",
};

/** Sent with every answer: no caching of a page that holds keys, no framing by other sites, no referrer. */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "Cache-Control": "no-store",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Content-Security-Policy":
    "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

const HELP = `Usage: cacard web [--port P]

Serves the browser card on http://127.0.0.1:P/ (default port ${DEFAULT_WEB_PORT}).
Open it, pick certificate and key files (or the sample card), give the
WebSocket address of the VM's chardev and connect. The keys stay in the page;
this server only serves its files. QEMU side (see docs/browser.md):

  -chardev socket,id=ccid0,host=127.0.0.1,port=5959,server=on,wait=off,websocket=on
  -device usb-ccid -device ccid-card-passthru,chardev=ccid0

Options:
  --port P       TCP port on 127.0.0.1 (0 picks a free one)
  --ws URL       prefill the chardev address (printed page URL carries it)
`;

/** dist/web, looked for upward from this module (bundled into dist/cli, or compiled into dist/src/cli). */
export function findWebRoot(from = dirname(fileURLToPath(import.meta.url))): string | null {
  for (let dir = from; ; dir = dirname(dir)) {
    for (const candidate of [join(dir, "web"), join(dir, "dist", "web")]) {
      if (existsSync(join(candidate, "index.html")) && existsSync(join(candidate, "cacard-page.js"))) return candidate;
    }
    if (dirname(dir) === dir) return null;
  }
}

/** Every file under root, by URL path ("/index.html"); nothing else is ever served. */
function listFiles(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else files.set("/" + relative(root, full).split(sep).join("/"), full);
    }
  };
  walk(root);
  return files;
}

/** True for a Host header that names loopback (with or without the port). */
export function isLoopbackHost(host: string | undefined, port: number): boolean {
  if (host === undefined) return false;
  const allowed = ["127.0.0.1", "localhost", "[::1]"];
  return allowed.some((h) => host === h || host === `${h}:${port}`);
}

export function webHandler(root: string, port: () => number): (req: IncomingMessage, res: ServerResponse) => void {
  const files = listFiles(root);
  return (req, res) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    if (!isLoopbackHost(req.headers.host, port())) {
      res.writeHead(421, { "Content-Type": "text/plain" }).end("cacard web answers loopback names only\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { Allow: "GET, HEAD" }).end();
      return;
    }
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    const file = files.get(path === "/" ? "/index.html" : path);
    if (file === undefined) {
      res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
      return;
    }
    const body = readFileSync(file);
    res.writeHead(200, { "Content-Type": TYPES[extname(file)] ?? "application/octet-stream", "Content-Length": body.length });
    res.end(req.method === "HEAD" ? undefined : body);
  };
}

export const command: Command = {
  name: "web",
  summary: "serve the browser card (a card in a web page, for QEMU's WebSocket chardev)",
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { port: { type: "string" }, ws: { type: "string" } },
      allowPositionals: true,
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const port = values.port === undefined ? DEFAULT_WEB_PORT : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port ${values.port}: not a TCP port`);
    const root = findWebRoot();
    if (root === null) {
      io.stderr.write("cacard web: the browser build (dist/web) is missing: run npm run build\n");
      return EXIT_FAILURE;
    }
    let bound = port;
    const server = createServer(webHandler(root, () => bound));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: "127.0.0.1", port }, () => resolve());
    }).catch((e: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot listen on 127.0.0.1:${port}: ${e.code ?? e.message}`);
    });
    bound = (server.address() as { port: number }).port;
    const query = values.ws ? `?ws=${encodeURIComponent(values.ws)}` : "";
    io.stdout.write(`cacard web: serving http://127.0.0.1:${bound}/${query}\n`);
    await new Promise<void>((resolve) => {
      if (io.signal.aborted) resolve();
      else io.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    return EXIT_OK;
  },
};
