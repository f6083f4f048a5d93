/**
 * Builds the browser files into dist/web/ (run by `npm run build`):
 *  - cacard-page.js: the page `cacard web` serves (src/web/page/main.ts);
 *  - cacard-web.js: the embeddable module (src/web/index.ts, docs/browser.md);
 *  - index.html, cacard-page.css, and sample/: certs-sample/pem, the public test keys.
 * esbuild bundles with platform=browser: a node: import anywhere on the way
 * fails the build, which is the check that the browser path stays Node-free.
 */
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const out = join(root, "dist/web");

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "sample"), { recursive: true });
await build({
  entryPoints: {
    "cacard-page": join(root, "src/web/page/main.ts"),
    "cacard-web": join(root, "src/web/index.ts"),
  },
  outdir: out,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  sourcemap: true,
  legalComments: "linked",
  logLevel: "warning",
});
copyFileSync(join(root, "src/web/page/index.html"), join(out, "index.html"));
copyFileSync(join(root, "src/web/page/style.css"), join(out, "cacard-page.css"));
for (const name of readdirSync(join(root, "certs-sample/pem"))) {
  copyFileSync(join(root, "certs-sample/pem", name), join(out, "sample", name));
}
