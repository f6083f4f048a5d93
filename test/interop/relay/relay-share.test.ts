/**
 * `cacard relay` sharing its card with a host PC/SC application, through a
 * real pcscd (relay-share.sh, interleave.mjs): the guest's SELECT answered
 * 61xx, a host application's SELECT, then the guest's GET RESPONSE. The relay
 * holds a PC/SC transaction for the guest's exchange, so the host command
 * waits and the guest gets its own data; the control, the same interleaving
 * by a client without a transaction, shows the GET RESPONSE going to the
 * wrong applet's state (docs/relay.md, "Sharing the card with the host").
 *
 * Skips when the tools are missing, unless CI=true, where that is a failure.
 * CACARD_KEEP_INTEROP=1 keeps the output directory.
 */
import { expect, it } from "vitest";
import { resolve } from "node:path";
import { scenarioSuite } from "../lib/scenario-suite.js";

const VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
const CAC_ATR = "3B7A18000073667465206364313434";

interface Interleaving {
  selectSw: string;
  getResponse: string;
  gotCccFci: boolean;
  hostBeforeGetResponse: boolean;
  hostResponse: string;
  hostWaitedMs: number;
  hostAfterGuestMs: number;
}

scenarioSuite(
  {
    title: "cacard relay: a host application interleaving with the guest through pcscd",
    prerequisites: {
      tools: ["pcscd", "ip", "timeout"],
      files: [VPCD_DRIVER, "/usr/lib/x86_64-linux-gnu/libpcsclite.so.1", resolve(__dirname, "../../../node_modules/koffi")],
      namespaces: true,
    },
    needs: "pcscd, vsmartcard-vpcd, libpcsclite1, koffi and root namespaces",
    scenario: resolve(__dirname, "relay-share.sh"),
    prefix: "cacard-relay-share",
    limitMs: 120_000,
    summary: (s) => `[relay-share] ${(s.run.durationMs / 1000).toFixed(1)} s; ${s.r.file("interleave.json").trim()}`,
  },
  (s) => {
    const results = (): { atr?: string; relay?: Interleaving; control?: Interleaving; error?: string } => {
      const text = s.r.file("interleave.json").trim();
      expect(text, `interleave.mjs printed no results\n${s.r.file("interleave.log")}`).not.toBe("");
      return JSON.parse(text);
    };

    it("the relay hands the guest the card's ATR", () => {
      const r = results();
      expect(r.error, s.r.file("interleave.log") + s.r.file("relay.log")).toBeUndefined();
      expect(r.atr).toBe(CAC_ATR);
    });

    it("through the relay: the host's SELECT waits for the guest's GET RESPONSE, which gets the CCC's FCI", () => {
      const r = results().relay!;
      const log = `${JSON.stringify(r)}\n${s.r.file("relay.log")}`;
      expect(r.selectSw, log).toMatch(/^61/);
      expect(r.hostBeforeGetResponse, log).toBe(false);
      expect(r.gotCccFci, log).toBe(true);
      expect(r.getResponse, log).toBe("6F0B8407A000000116DB00A5009000");
      // The host application was answered after the guest, and not refused.
      expect(r.hostAfterGuestMs, log).toBeGreaterThanOrEqual(0);
      expect(r.hostResponse, log).toMatch(/^61|9000$/);
    });

    it("control: the same interleaving without a transaction corrupts the GET RESPONSE", () => {
      const r = results().control!;
      expect(r.selectSw).toMatch(/^61/);
      expect(r.hostBeforeGetResponse, JSON.stringify(r)).toBe(true);
      expect(r.gotCccFci, JSON.stringify(r)).toBe(false);
      // The guest's GET RESPONSE answered with the host's applet (the first PKI applet's FCI).
      expect(r.getResponse, JSON.stringify(r)).toContain("A0000000790100");
    });

    it("the relay and the card stop cleanly", () => {
      expect(s.r.note("interleave_exit")).toBe("0");
      expect(s.r.note("relay_exit")).toBe("0");
      expect(s.r.file("relay.log")).not.toMatch(/protocol error|Error:|at .*\.js:\d+/);
    });
  },
);
