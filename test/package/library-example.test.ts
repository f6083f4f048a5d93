/**
 * The README's library example, run as a user would: `npm pack`, the tarball
 * installed into a fresh project, the program compiled by `tsc --strict`
 * against the published declarations (with only the runtime dependencies
 * installed, and no skipLibCheck) and run. The docs cannot rot.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = resolve(__dirname, "../..");
const README = join(REPO, "README.md");
const START = "<!-- library-example: start -->";
const END = "<!-- library-example: end -->";
/** npm pack + install can be slow on a cold cache. */
const INSTALL_TIMEOUT_MS = 240_000;

function exampleProgram(): string {
  const text = readFileSync(README, "utf8");
  const block = text.slice(text.indexOf(START) + START.length, text.indexOf(END));
  const match = /```ts\n([\s\S]*?)```/.exec(block);
  if (match === null) throw new Error("README has no library example between its markers");
  return match[1];
}

describe("the README library example against the packed tarball", () => {
  let dir: string;
  let tarball: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "cacard-pack-"));
    const packed = execFileSync("npm", ["pack", "--silent", "--ignore-scripts", "--pack-destination", dir], { cwd: REPO, encoding: "utf8" });
    tarball = join(dir, packed.trim().split("\n").pop()!);
    const project = join(dir, "project");
    execFileSync("mkdir", ["-p", project]);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "uses-cacard", private: true, type: "module" }));
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--ignore-scripts", tarball], {
      cwd: project,
      stdio: "pipe",
      timeout: INSTALL_TIMEOUT_MS,
    });
  }, INSTALL_TIMEOUT_MS + 60_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("ships LICENSE and docs, and no source map pointing at a file it does not ship", () => {
    const listing = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).split("\n");
    expect(listing).toContain("package/LICENSE");
    expect(listing.some((f) => f.startsWith("package/docs/"))).toBe(true);
    expect(listing.filter((f) => f.endsWith(".map"))).toEqual([]);
    for (const f of listing.filter((f) => f.endsWith(".js"))) expect(f).not.toMatch(/^package\/(src|test|bench)\//);
  });

  it("compiles with tsc --strict against the published types and signs", () => {
    const project = join(dir, "project");
    writeFileSync(join(project, "main.ts"), exampleProgram());
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          skipLibCheck: false,
          outDir: "out",
          // Node's types come from this repository's dev dependencies; the
          // project itself has only what the tarball depends on at run time.
          typeRoots: [join(REPO, "node_modules/@types")],
          types: ["node"],
        },
        files: ["main.ts"],
      }),
    );
    const deps = readdirSync(join(project, "node_modules")).sort();
    expect(deps).not.toContain("typescript");
    execFileSync(join(REPO, "node_modules/.bin/tsc"), ["-p", project], { cwd: project, stdio: "pipe" });
    const out = execFileSync(process.execPath, [join(project, "out/main.js")], { cwd: project, encoding: "utf8", timeout: 60_000 });
    expect(out).toMatch(/^ATR {6}3B7A18/m);
    expect(out).toMatch(/^SELECT {3}610D$/m);
    expect(out).toMatch(/^RESPONSE 6F0B8407A0000000790100A5009000$/m);
    expect(out).toMatch(/^VERIFY {3}9000$/m);
    expect(out).toMatch(/^SIGN {5}6100 9000 256-byte signature$/m);
    expect(out).toMatch(/^verified: true$/m);
  });
});
