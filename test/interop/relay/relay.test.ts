/**
 * `cacard relay` against a real pcscd and real QEMU, without hardware: cards
 * served by `cacard vpcd` sit in a private pcscd (vsmartcard's vpcd reader
 * driver) and the relay takes them into guest-less QEMU ccid-card-passthru
 * (relay.sh, in fresh namespaces). Checked: reader listing and matching,
 * the relayed ATR accepted by QEMU, the host card removed and inserted
 * (CardRemove, ATR), pcscd restarted under the relay, and two relays on two
 * readers. APDUs through a guest: relay-guest.test.ts. ~25 s.
 *
 * Skips when the tools are missing, unless CI=true, where that is a failure.
 * CACARD_KEEP_INTEROP=1 keeps the output directory.
 */
import { expect, it } from "vitest";
import { resolve } from "node:path";
import { scenarioSuite } from "../lib/scenario-suite.js";

const VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
const CAC_ATR = "3B7A18000073667465206364313434";

scenarioSuite(
  {
    title: "cacard relay: pcscd card into guest-less QEMU ccid-card-passthru",
    prerequisites: {
      tools: ["pcscd", "qemu-system-x86_64", "ip", "timeout", "pgrep"],
      files: [VPCD_DRIVER, "/usr/lib/x86_64-linux-gnu/libpcsclite.so.1", resolve(__dirname, "../../../node_modules/koffi")],
      namespaces: true,
    },
    needs: "pcscd, vsmartcard-vpcd, libpcsclite1, koffi, qemu-system-x86 and root namespaces",
    scenario: resolve(__dirname, "relay.sh"),
    prefix: "cacard-relay",
    limitMs: 150_000,
    summary: (s) => {
      const t = (k: string) => Number(s.r.note(k));
      return (
        `[relay] ${(s.run.durationMs / 1000).toFixed(1)} s; first ATR in QEMU ${(t("relay1_card") - t("relay1_started")).toFixed(2)} s after start; ` +
        `card back ${(t("relay1_back") - t("pcscd_restarted")).toFixed(2)} s after pcscd restarted`
      );
    },
  },
  (s) => {
    const log = (name: string) => s.r.file(`${name}.log`);
    const lines = (name: string) => log(name).split("\n");

    it("--list prints both readers with their card; a wrong --reader is a usage error naming the readers", () => {
      s.ok("list");
      expect(s.r.out("list")).toBe(`Virtual PCD 00 00: card atr=${CAC_ATR}\nVirtual PCD 00 01: card atr=${CAC_ATR}\n`);
      expect(s.r.rc("ambiguous")).toBe(2);
      expect(s.r.err("ambiguous")).toMatch(/"Virtual PCD" matches 2 readers: "Virtual PCD 00 00", "Virtual PCD 00 01"/);
      expect(s.r.rc("unknown")).toBe(2);
      expect(s.r.err("unknown")).toMatch(/no reader matches "YubiKey"; readers: "Virtual PCD 00 00", "Virtual PCD 00 01"/);
    });

    it("QEMU takes the real card's ATR (VSC_Error SUCCESS), from a relay with a bigger thread pool", () => {
      const l = lines("relay1");
      const atr = l.findIndex((x) => x === `cacard relay: tx ATR reader=0 15 bytes`);
      expect(atr, log("relay1")).toBeGreaterThan(0);
      expect(l.slice(atr).some((x) => /rx Error reader=0 code=0/.test(x))).toBe(true);
      expect(l).toContain(`cacard relay: host card present atr=${CAC_ATR} protocol=T=0`);
      expect(l).toContain(`cacard relay: card inserted reader=0 atr=${CAC_ATR}`);
      expect(s.r.note("relay1_threadpool")).toBe("UV_THREADPOOL_SIZE=8");
    });

    it("the host card removed and inserted becomes CardRemove and a new ATR", () => {
      const l = lines("relay1");
      const absent = l.indexOf("cacard relay: host card absent");
      expect(absent, log("relay1")).toBeGreaterThan(0);
      const removed = l.findIndex((x, i) => i > absent && x === "cacard relay: card removed reader=0");
      expect(removed).toBeGreaterThan(absent);
      expect(l.slice(absent, removed).some((x) => /tx CardRemove reader=0/.test(x))).toBe(true);
      const again = l.findIndex((x, i) => i > removed && x.startsWith("cacard relay: card inserted reader=0"));
      expect(again).toBeGreaterThan(removed);
    });

    it("pcscd restarted under the relay: the card leaves and comes back, the relay keeps running", () => {
      const l = lines("relay1");
      const gone = l.findIndex((x) => /host reader gone "Virtual PCD 00 00" code=PCSC_NO_SERVICE/.test(x));
      expect(gone, log("relay1")).toBeGreaterThan(0);
      const inserted = l.filter((x) => x.startsWith("cacard relay: card inserted reader=0")).length;
      expect(inserted).toBe(3);
      expect(l.slice(gone).some((x) => x === 'cacard relay: host reader "Virtual PCD 00 00"')).toBe(true);
      // One QEMU connection throughout: the VSCard side never noticed more than a card leaving.
      expect(l.filter((x) => /^cacard relay: connected /.test(x))).toHaveLength(1);
      expect(log("relay1")).not.toMatch(/protocol error|Error:|at .*\.js:\d+/);
    });

    it("two relays on two readers, each into its own QEMU; both stop cleanly on SIGTERM", () => {
      expect(lines("relay2")).toContain(`cacard relay: card inserted reader=0 atr=${CAC_ATR}`);
      expect(log("relay2")).toMatch(/host reader "Virtual PCD 00 01"/);
      s.ok("list_after");
      // relay 2 holds its card exclusively; relay 1 shares its card.
      expect(s.r.out("list_after")).toMatch(/^Virtual PCD 00 01: card atr=\w+ \(held exclusively\)$/m);
      expect(s.r.out("list_after")).toMatch(/^Virtual PCD 00 00: card atr=\w+( \(in use\))?$/m);
      expect(s.r.note("relay1_exit")).toBe("0");
      expect(s.r.note("relay2_exit")).toBe("0");
      expect(lines("relay1")).toContain("cacard relay: stopped");
    });
  },
);
