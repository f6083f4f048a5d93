import { describe, expect, it } from "vitest";
import { findExecutable, interopGate } from "./namespace.js";
import { apduStats, loggedApdus } from "./pcscd-log.js";

describe("interop gate", () => {
  it("skips locally and fails in CI when a tool is missing", () => {
    const req = { tools: ["sh", "cacard-no-such-tool"] };
    expect(interopGate(req, {})).toMatchObject({ skip: true, fail: false, missing: ["cacard-no-such-tool"] });
    expect(interopGate(req, { CI: "true" })).toMatchObject({ skip: false, fail: true });
    expect(interopGate({ tools: ["sh"] }, { CI: "true" })).toMatchObject({ skip: false, fail: false, reason: "" });
  });

  it("finds executables on PATH and by absolute path", () => {
    expect(findExecutable("sh")).toMatch(/\/sh$/);
    expect(findExecutable("/bin/sh")).toBe("/bin/sh");
    expect(findExecutable("/nonexistent/tool")).toBeNull();
  });
});

describe("pcscd log reading", () => {
  it("measures APDU round trips from the relative timestamps", () => {
    const log = [
      "00000010 winscard.c:1596:SCardTransmit() Send Protocol: T=0",
      "00000002 APDU: 00 A4 04 00 07 62 76 01 FF 00 00 00 ",
      "00045637 SW: 6A 82 ",
      "00000023 winscard.c:1649:SCardTransmit() UnrefReader() count was: 2",
      "00000002 APDU: 00 84 00 00 08 ",
      "00040000 SW: 01 02 03 04 05 06 07 08 90 00 ",
    ].join("\n");
    const stats = apduStats(log);
    expect(stats.count).toBe(2);
    expect(stats.latenciesMs).toEqual([45.637, 40]);
    expect(stats.maxMs).toBeCloseTo(45.637);
    expect(loggedApdus(log)).toEqual(["00A4040007627601FF000000", "0084000008"]);
  });
});
