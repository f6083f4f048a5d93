/** --personality, --piv-slots and --pin-file: checked before any key store opens, one line each. */
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { cardFromOptions, personalityOptions } from "../../src/cli/card-options.js";
import { fromHex, toHex } from "../../src/core/bytes.js";

const dir = mkdtempSync(join(tmpdir(), "cacard-piv-options-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const DB_PW = resolve(__dirname, "../../certs-sample/nssdb-pw");

describe("personality options", () => {
  it("default cac; piv and cac+piv accepted; anything else refused", () => {
    expect(personalityOptions({}).personality).toBe("cac");
    expect(personalityOptions({ personality: "cac+piv" }).personality).toBe("cac+piv");
    expect(() => personalityOptions({ personality: "gids" })).toThrow(/--personality gids: expected one of cac, piv, cac\+piv/);
  });

  it("--piv-slots needs a PIV personality and known slots", () => {
    expect(personalityOptions({ personality: "piv", "piv-slots": "9e,9a" }).pivSlots).toEqual([0x9e, 0x9a]);
    expect(() => personalityOptions({ "piv-slots": "9a" })).toThrow(/only with --personality piv/);
    expect(() => personalityOptions({ personality: "piv", "piv-slots": "9f" })).toThrow(/unknown PIV slot '9f'/);
  });

  it("a PIV card PIN outside 6-8 characters is refused; a CAC one is not", () => {
    expect(() => personalityOptions({ personality: "piv", "pin-file": file("short", "12345\n") })).toThrow(
      /--pin-file .*short: a PIV PIN has 6 to 8 characters, this one has 5/,
    );
    expect(() => personalityOptions({ personality: "piv", "pin-file": file("long", "123456789\n") })).toThrow(/has 9/);
    expect(personalityOptions({ "pin-file": file("cac", "1234\n") }).cardPin).toEqual(new TextEncoder().encode("1234"));
  });

  it("without --pin-file, a DB password that cannot be a PIV PIN is refused at start", async () => {
    await expect(
      cardFromOptions({ personality: "piv", db: DB_PW, "password-file": file("pw10", "1234567890\n") }),
    ).rejects.toThrow(/the DB password is the PIV PIN here, but a PIV PIN has 6 to 8 characters, this one has 10/);
  });

  it("--pin-file on a DB with a password needs --password-file", async () => {
    await expect(cardFromOptions({ personality: "piv", db: DB_PW, "pin-file": file("pin", "123456\n") })).rejects.toThrow(
      /--pin-file: the key store has a password; give it with --password-file/,
    );
  });

  it("--pin-file: the card PIN opens the keys, the DB password does not", async () => {
    const card = await cardFromOptions(
      { personality: "piv", db: DB_PW, "password-file": file("pw", "12345678\n"), "pin-file": file("pin6", "246810\n") },
      { warn: () => {} },
    );
    await card.powerOn();
    const tx = async (hex: string) => toHex(await card.transmit(fromHex(hex)));
    expect(await tx("0020008008" + "3132333435363738")).toBe("63C2");
    expect(await tx("0020008008" + "323436383130FFFF")).toBe("9000");
  });
});
