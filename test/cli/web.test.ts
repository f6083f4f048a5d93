/**
 * `cacard web` (the built CLI): serves dist/web on 127.0.0.1, answers only
 * loopback Host names, serves nothing outside dist/web, and stops on SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { request } from "node:http";
import { BUILT_CLI, REPO_ROOT, killAll, startProc, type Proc } from "../interop/qemu/harness.js";
import { isLoopbackHost } from "../../src/cli/commands/web.js";
import { join } from "node:path";

function get(port: number, path: string, host = `127.0.0.1:${port}`, method = "GET"): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method, headers: { host }, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end();
  });
}

describe("cacard web", () => {
  let web: Proc;
  let port = 0;
  beforeAll(async () => {
    expect(existsSync(join(REPO_ROOT, "dist/web/index.html")), "run npm run build first").toBe(true);
    web = startProc("cacard-web", process.execPath, [BUILT_CLI, "web", "--port", "0", "--ws", "ws://127.0.0.1:5959/"], 60_000);
    const at = await web.waitLine(/serving http:\/\/127\.0\.0\.1:(\d+)\//);
    expect(web.lines[at]).toContain("?ws=ws%3A%2F%2F127.0.0.1%3A5959%2F");
    port = Number(/:(\d+)\//.exec(web.lines[at])![1]);
  });
  afterAll(killAll);

  it("serves the page, its script and the sample card with no-store and a CSP", async () => {
    const page = await get(port, "/");
    expect(page.status).toBe(200);
    expect(page.body).toContain("cacard-page.js");
    expect(page.headers["cache-control"]).toBe("no-store");
    expect(page.headers["content-security-policy"]).toMatch(/frame-ancestors 'none'/);
    expect((await get(port, "/cacard-page.js")).headers["content-type"]).toMatch(/text\/javascript/);
    expect((await get(port, "/sample/cert1.pem")).body).toMatch(/BEGIN CERTIFICATE/);
    expect((await get(port, "/cacard-web.js")).status).toBe(200);
  });

  it("answers 421 to other Host names (DNS rebinding), 404 outside dist/web, 405 to POST", async () => {
    expect((await get(port, "/", "attacker.example")).status).toBe(421);
    expect((await get(port, "/", `localhost:${port}`)).status).toBe(200);
    expect((await get(port, "/../package.json")).status).toBe(404);
    expect((await get(port, "/%2e%2e/package.json")).status).toBe(404);
    expect((await get(port, "/", undefined, "POST")).status).toBe(405);
    expect(isLoopbackHost("127.0.0.1.attacker.example", 80)).toBe(false);
  });

  it("stops on SIGTERM with exit 0", async () => {
    await web.kill(5000);
    expect(web.exited).toBe(0);
  });

  it("refuses a bad port", async () => {
    const p = startProc("cacard-web", process.execPath, [BUILT_CLI, "web", "--port", "70000"], 30_000);
    await p.waitExit();
    expect(p.exited).toBe(2);
    expect(p.output).toMatch(/not a TCP port/);
  });
});
