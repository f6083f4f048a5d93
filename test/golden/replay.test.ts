/**
 * Replays the golden transcripts recorded from Debian's libcacard 2.8.0
 * (test/vectors/*.txt, see its README) through the TypeScript card on the
 * same certs-sample databases, in libcacard-strict mode, byte for byte.
 */
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { openKeyStore } from "../../src/tokens/open.js";
import { createCacCard } from "../../src/core/cac/cac-card.js";
import { fromHex, toHex } from "../../src/core/bytes.js";
import { parseTranscript } from "./transcript.js";

const ROOT = resolve(__dirname, "../..");
const VECTORS = join(ROOT, "test/vectors");
const files = readdirSync(VECTORS).filter((f) => f.endsWith(".txt")).sort();

describe("golden transcripts from libcacard 2.8.0", () => {
  it("there are transcripts to replay", () => {
    expect(files.length).toBeGreaterThan(10);
  });

  for (const file of files) {
    it(file, async () => {
      const t = parseTranscript(readFileSync(join(VECTORS, file), "utf8"));
      const store = await openKeyStore({
        db: join(ROOT, "certs-sample", t.db),
        nicknames: t.certs,
        skipMissing: true, // certs-missing.txt: libcacard skips unknown nicknames
      });
      const card = createCacCard(store, { libcacardStrict: true });
      let atr = await card.powerOn();
      let checked = 0;
      for (const step of t.steps) {
        if (step.kind === "reset") {
          await card.powerOff();
          atr = await card.powerOn();
        } else if (step.kind === "atr") {
          expect(toHex(atr), `${file}:${step.line} ${step.title}`).toBe(step.expected);
        } else {
          const got = toHex(await card.transmit(fromHex(step.command)));
          expect(got, `${file}:${step.line} ${step.title}\n>> ${step.command}`).toBe(step.expected);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(0);
    });
  }
});
