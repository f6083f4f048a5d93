/** The pure PIV codecs: FASC-N, BER-TLV, DER signatures, PIN reference data, slot orders. */
import { describe, expect, it } from "vitest";
import { encodeFascn, type FascnFields } from "../../../src/core/piv/fascn.js";
import { parseTlvs, tlv } from "../../../src/core/piv/ber-tlv.js";
import { ecdsaSignatureToDer } from "../../../src/core/piv/ecdsa-der.js";
import { pivPinProblem, unpadPin } from "../../../src/core/piv/pin-format.js";
import { parseSlotOrder } from "../../../src/core/piv/slots.js";
import { ecdsaInput } from "../../../src/core/piv/general-authenticate.js";
import { fromHex, toHex } from "../../../src/core/bytes.js";
import { CardError } from "../../../src/core/iso7816/card-error.js";

const sw = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof CardError ? e.sw.toString(16).toUpperCase() : String(e);
  }
  return "none";
};

/** The non-federal test credential of yubico-piv-tool's CHUID template. */
const TEST_FASCN: FascnFields = {
  agencyCode: "9999",
  systemCode: "9999",
  credentialNumber: "999999",
  credentialSeries: "0",
  individualCredentialIssue: "1",
  personIdentifier: "0000000000",
  organizationalCategory: "3",
  organizationalIdentifier: "0000",
  personAssociationCategory: "1",
};

describe("FASC-N", () => {
  it("encodes the non-federal test credential as yubico-piv-tool's CHUID template does (lib/util.c)", () => {
    const fascn = encodeFascn(TEST_FASCN);
    expect(toHex(fascn)).toBe("D4E739DA739CED39CE739D836858210842108421C84210C3EB");
  });
  it("refuses a field of the wrong width", () => {
    expect(() =>
      encodeFascn({ ...TEST_FASCN, agencyCode: "999" }),
    ).toThrow(/agencyCode/);
  });
});

describe("BER-TLV", () => {
  it("writes short, 81 and 82 lengths and 2/3-byte tags", () => {
    expect(toHex(tlv(0x53, new Uint8Array(2)))).toBe("53020000");
    expect(toHex(tlv(0x53, new Uint8Array(0x80))).slice(0, 6)).toBe("538180");
    expect(toHex(tlv(0x53, new Uint8Array(0x100))).slice(0, 8)).toBe("53820100");
    expect(toHex(tlv(0x5fc102, new Uint8Array(1)))).toBe("5FC1020100");
    expect(toHex(tlv(0x5f2f, Uint8Array.of(0x40, 0)))).toBe("5F2F024000");
  });
  it("reads what it writes, and refuses truncation with 6A80", () => {
    const items = parseTlvs(fromHex("5C035FC1027C0482008100"));
    expect(items.map((i) => [i.tag, toHex(i.value)])).toEqual([
      [0x5c, "5FC102"],
      [0x7c, "82008100"],
    ]);
    expect(parseTlvs(fromHex("7F6100"))[0].tag).toBe(0x7f61);
    for (const bad of ["53", "5304000000", "5381", "53820001", "5F", "5FC1", "5383000001", "53FF"]) {
      expect(sw(() => parseTlvs(fromHex(bad.length % 2 ? bad + "0" : bad)))).toBe("6A80");
    }
  });
});

describe("ECDSA DER", () => {
  it("trims leading zeros and adds 00 before a set top bit", () => {
    const rs = new Uint8Array(64);
    rs[0] = 0x00;
    rs[1] = 0x7f;
    rs[32] = 0x80;
    expect(toHex(ecdsaSignatureToDer(rs)).slice(0, 10)).toBe("3044021F7F");
    expect(toHex(ecdsaSignatureToDer(rs))).toContain("022100800000");
  });
  it("digest to field size: truncate longer, left-pad shorter, refuse empty or over 64", () => {
    expect(toHex(ecdsaInput(Uint8Array.of(1, 2), 4))).toBe("00000102");
    expect(toHex(ecdsaInput(Uint8Array.of(1, 2, 3, 4, 5), 4))).toBe("01020304");
    expect(sw(() => ecdsaInput(new Uint8Array(0), 32))).toBe("6A80");
    expect(sw(() => ecdsaInput(new Uint8Array(65), 32))).toBe("6A80");
  });
});

describe("PIN reference data", () => {
  it("strips FF padding from 8 bytes; refuses other lengths, short PINs, padding inside", () => {
    expect(toHex(unpadPin(fromHex("313233343536FFFF")))).toBe("313233343536");
    expect(toHex(unpadPin(fromHex("3132333435363738")))).toBe("3132333435363738");
    expect(sw(() => unpadPin(fromHex("313233343536")))).toBe("6A80");
    expect(sw(() => unpadPin(fromHex("31323334FFFFFFFF")))).toBe("6A80");
    expect(sw(() => unpadPin(fromHex("313233FF34353637")))).toBe("6A80");
  });
  it("a card PIN for PIV has 6-8 characters", () => {
    expect(pivPinProblem(new TextEncoder().encode("123456"))).toBeNull();
    expect(pivPinProblem(new TextEncoder().encode("12345"))).toMatch(/6 to 8 characters, this one has 5/);
    expect(pivPinProblem(new TextEncoder().encode("123456789"))).toMatch(/has 9/);
  });
});

describe("slot order", () => {
  it("parses hex slot names and refuses unknown or repeated ones", () => {
    expect(parseSlotOrder("9e,9A")).toEqual([0x9e, 0x9a]);
    expect(() => parseSlotOrder("9b")).toThrow(/unknown PIV slot/);
    expect(() => parseSlotOrder("9a,9a")).toThrow(/twice/);
  });
});
