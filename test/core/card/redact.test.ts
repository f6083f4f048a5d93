/**
 * Issue 16 item 3: PINs in traces. Every PIN-carrying command is blanked by
 * INS, whatever the applet, the personality, the class byte or the answer
 * (a card that answers 6D00 was still sent the PIN). The paths that print
 * traces (apdu --trace, vscard --debug, vpcd --trace) all go through
 * redactPins; they are covered end to end in test/cli/cli.test.ts,
 * test/backends/vscard/cli.test.ts and test/backends/vpcd/cli.test.ts.
 */
import { describe, expect, it } from "vitest";
import { redactPins } from "../../../src/core/card/card.js";
import { PIN_INS } from "../../../src/core/iso7816/ins.js";
import { createCard, PERSONALITIES } from "../../../src/core/create-card.js";
import { fromHex, toHex } from "../../../src/core/bytes.js";
import { memoryStore } from "../../helpers/memory-store.js";

/** "12345678" and "87654321" as the bytes a guest would send. */
const PIN = "3132333435363738";
const PUK = "3837363534333231";
const SECRET = /3132333435363738|3837363534333231|31323334|38373635/;

/** Each PIN command with the shapes a guest sends (ISO 7816-4 §11.5; SP 800-73-4 Part 2 §3.2). */
const SHAPES: Array<[string, string]> = [
  ["VERIFY", `00200080 08 ${PIN}`],
  ["VERIFY with Le", `00200080 08 ${PIN} 00`],
  ["VERIFY odd INS (21)", `00210080 0A 5308${PIN}`],
  ["VERIFY chained (CLA 10)", `10200080 04 31323334`],
  ["VERIFY proprietary class (80)", `80200080 08 ${PIN}`],
  ["VERIFY extended length", `00200080 000008 ${PIN}`],
  ["VERIFY malformed length", `00200080 20 ${PIN}`],
  ["VERIFY 'case 2E' of PIN bytes", `00200080 00 3132`],
  ["CHANGE REFERENCE DATA (old + new)", `00240080 10 ${PIN}${PUK}`],
  ["CHANGE REFERENCE DATA odd (25)", `00250080 10 ${PIN}${PUK}`],
  ["DISABLE VERIFICATION REQUIREMENT (26)", `00260080 08 ${PIN}`],
  ["ENABLE VERIFICATION REQUIREMENT (28)", `00280080 08 ${PIN}`],
  ["RESET RETRY COUNTER (PUK + new)", `002C0080 10 ${PUK}${PIN}`],
  ["RESET RETRY COUNTER odd (2D)", `002D0080 10 ${PUK}${PIN}`],
];

describe("redactPins", () => {
  it.each(SHAPES)("%s: keeps the header, blanks everything after P3", (_what, hex) => {
    const command = fromHex(hex.replace(/\s/g, ""));
    const out = redactPins(command);
    expect(toHex(out.subarray(0, 5))).toBe(toHex(command.subarray(0, 5)));
    expect(out.subarray(5).every((b) => b === 0x2a)).toBe(true);
    expect(toHex(out)).not.toMatch(SECRET);
    // the caller's bytes are untouched (the card still gets the PIN)
    expect(toHex(command)).toBe(hex.replace(/\s/g, "").toUpperCase());
  });

  it("covers VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER (even and odd)", () => {
    for (const ins of [0x20, 0x21, 0x24, 0x25, 0x2c, 0x2d]) expect(PIN_INS.has(ins), ins.toString(16)).toBe(true);
  });

  it("leaves other commands alone (SELECT, GET DATA, SIGN)", () => {
    for (const hex of ["00A4040007A000000116DB00", "00CB3FFF055C035FC10200", "80420000 04 01020304".replace(/\s/g, "")]) {
      const command = fromHex(hex);
      expect(redactPins(command)).toBe(command);
    }
  });
});

describe("the card's trace blanks every PIN command, whatever the personality or answer", () => {
  it.each(PERSONALITIES)("%s", async (personality) => {
    const lines: string[] = [];
    const card = createCard(memoryStore({ password: "12345678" }), {
      personality,
      trace: (command, response) => lines.push(`>> ${toHex(command)} << ${toHex(response)}`),
    });
    await card.powerOn();
    // In the CAC applet, the PIV applet (when there is one) and with nothing selected.
    const selects = ["00A4040007A000000079030000", "00A4040009A0000003080000100000"];
    const answers = new Set<string>();
    for (const select of [null, ...selects]) {
      if (select) await card.transmit(fromHex(select));
      for (const [, hex] of SHAPES) {
        const response = await card.transmit(fromHex(hex.replace(/\s/g, "")));
        answers.add(toHex(response.subarray(-2)));
      }
    }
    expect(lines.length).toBeGreaterThan(SHAPES.length * 2);
    for (const line of lines) expect(line).not.toMatch(SECRET);
    // The card answered some of them with "not supported": still blanked.
    expect([...answers].some((sw) => sw === "6D00" || sw === "6E00" || sw === "6A81" || sw === "6900")).toBe(true);
  });
});
