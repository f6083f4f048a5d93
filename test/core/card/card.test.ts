/**
 * The card core and CAC applets against libcacard 2.8's behaviour, byte for
 * byte (libcacard cac.c, card_7816.c). Bytes that do not depend on the certificates are
 * compared literally; the rest is derived from the sample certificates.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { constants, createHash, publicEncrypt } from "node:crypto";
import { createCacCard } from "../../../src/core/cac/cac-card.js";
import type { VirtualCard } from "../../../src/core/card/card.js";
import { fromHex, toHex } from "../../../src/core/bytes.js";
import { memoryStore, sampleCertificate, samplePublicKey } from "../../helpers/memory-store.js";

const AIDS = {
  CCC: "A000000116DB00",
  ACA: "A0000000790300",
  PKI0: "A0000000790100",
  PKI1: "A0000000790101",
  PKI2: "A0000000790102",
  GP: "A0000000030000",
  MSFT: "A0000003974349445F0100",
  E02FB: "A00000007902FB",
  E02F0: "A00000007902F0",
  ACF: "A0000001163000",
  P0200: "A0000000790200",
};

let card: VirtualCard;
const tx = async (hex: string) => toHex(await card.transmit(fromHex(hex)));
const select = (aid: string) => tx(`00A40400${(aid.length / 2).toString(16).padStart(2, "0")}${aid}00`);

beforeEach(async () => {
  card = createCacCard(memoryStore());
  await card.powerOn();
});

describe("ATR and serial", () => {
  it("reports the official CAC ATR", async () => {
    expect(toHex(await card.powerOn())).toBe("3B7A18000073667465206364313434");
  });
  it("serial is SHA-256 of certificate 0", async () => {
    expect(toHex(card.serial)).toBe(toHex(createHash("sha256").update(sampleCertificate("cert1")).digest()));
  });
});

describe("SELECT and the response-length rule", () => {
  it("case 3 gives 61 0D, GET RESPONSE gives the FCI stub", async () => {
    expect(await tx("00A4040007A000000116DB00")).toBe("610D");
    expect(await tx("00C000000D")).toBe("6F0B8407A000000116DB00A5009000");
    expect(await tx("00C000000D")).toBe("6A88");
  });
  it("GET RESPONSE in 5-byte pieces", async () => {
    await tx("00A4040007A000000116DB00");
    expect(await tx("00C0000005")).toBe("6F0B8407A06108");
    expect(await tx("00C0000005")).toBe("00000116DB6103");
    expect(await tx("00C0000005")).toBe("00A5009000");
  });
  it("GET RESPONSE without Le answers 61xx again and keeps the data", async () => {
    await tx("00A4040007A000000116DB00");
    expect(await tx("00C00000")).toBe("610D");
    expect(await tx("00C000000D")).toBe("6F0B8407A000000116DB00A5009000");
  });
  it("another command drops the pending response", async () => {
    await tx("00A4040007A000000116DB00");
    await tx("80560100");
    await tx("00A4040007A000000116DB00");
    expect(await tx("0020000000")).toBe("9000");
    expect(await tx("00C0000000")).toBe("6A88");
  });
  it("every applet answers SELECT with its FCI", async () => {
    expect(await select(AIDS.GP)).toBe("6F198408A000000003000000A50D9F6E061291518101009F6501FF9000");
    expect(await select(AIDS.MSFT)).toBe("6F0F840BA0000003974349445F0100A5009000");
    expect(await tx(`00A404000B${AIDS.MSFT}`)).toBe("6111");
    expect(await tx(`00A4040007${AIDS.GP}`)).toBe("611B");
    for (const aid of ["A0000000790101", "A0000000790102", AIDS.ACA, AIDS.E02FB, "A00000007902FE", "A00000007902FD",
      "A0000000790201", "A0000000791201", "A0000000791202", AIDS.E02F0, "A00000007902F1", "A00000007902F2", AIDS.ACF]) {
      expect(await select(aid)).toBe(`6F0B8407${aid}A5009000`);
    }
  });
  it("unknown, partial and absent AIDs give 6A82 and deselect the channel", async () => {
    await select(AIDS.CCC);
    expect(await select("A0000000790103")).toBe("6A82"); // PKI3: only three certificates
    expect(await tx("8056010000")).toBe("6900"); // nothing selected any more
    expect(await tx("00A4040005A000000079")).toBe("6A82");
    expect(await tx("00A40400")).toBe("6A82");
    expect(await tx("00A4040000")).toBe("6A82");
    expect(await tx("00A40400000100")).toBe("6A82");
  });
  it("P1 other than 04 is 6A81, P2 is ignored", async () => {
    expect(await tx("00A40000023F00")).toBe("6A81");
    expect(await tx("00A4080002 3F00")).toBe("6A81");
    expect(await tx(`00A4040C07${AIDS.CCC}00`)).toBe("6F0B8407A000000116DB00A5009000");
  });
  it("class byte handling", async () => {
    for (const cla of ["10", "E0", "FF"]) expect(await tx(`${cla}A4040007${AIDS.CCC}00`)).toBe("6900");
    expect(await tx(`0CA4040007${AIDS.CCC}00`)).toBe("6882");
    expect(await tx(`80A4040007${AIDS.CCC}00`)).toBe("6F0B8407A000000116DB00A5009000");
    expect(await tx(`B0A4040007${AIDS.CCC}00`)).toBe("6F0B8407A000000116DB00A5009000");
    // applets ignore CLA
    for (const cla of ["00", "10", "0C", "FF"]) expect(await tx(`${cla}56010017`)).toMatch(/9000$/);
  });
  it("channel 1 works without MANAGE CHANNEL; channels 2 and 3 look like SM", async () => {
    await select(AIDS.CCC);
    expect(await tx(`01A4040007${AIDS.PKI0}00`)).toBe(`6F0B8407${AIDS.PKI0}A5009000`);
    expect(await tx("8156010000")).toBe("6C20");
    expect(await tx("8056010000")).toBe("6C17"); // channel 0 still on the CCC
    expect(await tx(`02A4040007${AIDS.PKI0}00`)).toBe("6882");
    expect(await tx(`03A4040007${AIDS.PKI0}00`)).toBe("6882");
  });
});

describe("GET PROPERTIES", () => {
  it("PKI 0: 6C20 then the 32-byte short list", async () => {
    const cert = sampleCertificate("cert1");
    await select(AIDS.PKI0);
    expect(await tx("8056010000")).toBe("6C20");
    expect(await tx("80560100FF")).toBe("6C20");
    expect(await tx("80560100")).toBe("6120");
    const v = cert.length + 3; // 2-byte prefix + CertInfo
    const le = (n: number) => toHex(Uint8Array.of(n & 0xff, n >> 8));
    const short = `01051002060203400101511441020100420500${le(12)}${le(v)}430406200101260101`;
    expect(await tx("8056010020")).toBe(`${short}9000`);
    expect(await tx("805640002C")).toBe(`${short}3901003A07A00000007903009000`);
    expect(await tx("8056020002010100")).toBe("6C0E");
    expect(await tx("805602000201010E")).toBe("0105100206020301051002060203" + "9000");
    expect(await tx("805602000201400A")).toBe("01051002060203400101" + "9000");
  });
  it("CCC (three certificates)", async () => {
    await select(AIDS.CCC);
    expect(await tx("8056010000")).toBe("6C17");
    expect(await tx("8056010017")).toBe("01051002060203400101500B4102DB0042050036000C019000");
    expect(await tx("8056400000")).toBe("6C23");
  });
  it("placeholders, ACF and passthrough applets", async () => {
    await select(AIDS.E02FB);
    expect(await tx("805601001A")).toBe("01051002060203400101500E410202FB42050160006000260101" + "9000");
    await select(AIDS.E02F0);
    expect(await tx("805601000A")).toBe("010510020602034001009000");
    await select(AIDS.ACF);
    expect(await tx("8056010000")).toBe("6C4A");
    expect(await tx("805601004A")).toBe(
      "01051002060203400104" +
        "500E4102300042050160006000260101500E4102601042050160006000260101" +
        "500E4102603042050160006000260101500E4102900042050160006000260101" +
        "9000",
    );
    await select(AIDS.P0200);
    expect(await tx("805601001A")).toBe("01051002060203400101500E41020200420500600060002601019000");
  });
  it("errors (libcacard test invalid-properties-apdu)", async () => {
    await select(AIDS.CCC);
    expect(await tx("8056000000")).toBe("6A86");
    expect(await tx("80560100020000")).toBe("6984");
    expect(await tx("8056010100")).toBe("6A86");
    expect(await tx("8056020000")).toBe("6984");
    expect(await tx("80560200020 0FF".replace(" ", ""))).toBe("6A88");
    expect(await tx("8056880000")).toBe("6A86");
  });
});

describe("READ BUFFER", () => {
  it("CCC tag buffer has 14 CardURLs for three certificates", async () => {
    await select(AIDS.CCC);
    expect(await tx("8052000002010202")).toBe("34009000");
    const tags = await tx("80520002020134 34".replace(" ", ""));
    expect(tags).toBe("F015F101F201" + "F310".repeat(14) + "F401F501F611F700FA00FB00FC00FD00FE00" + "9000");
  });
  it("CCC value buffer, byte for byte", async () => {
    await select(AIDS.CCC);
    expect(await tx("8052000002020202")).toBe("0A019000");
    const a = (await tx("80520002020280 80".replace(" ", ""))).slice(0, -4);
    const b = (await tx("805200820202 8A8A".replace(" ", ""))).slice(0, -4);
    expect(a + b).toBe(
      "A000000079030240705072360E000058BD002C19B52121" +
        "A0000000790102FB02FB000000000000A0000000790102FE02FE000000000000" +
        "A0000000790102FD02FD000000000000A0000000790102000200000000000000" +
        "A0000000790102010201000000000000A0000001160130003000000000000000" +
        "A0000001160160103000000000000000A0000001160160303000000000000000" +
        "A0000001160190003000000000000000A0000000790112011201000000000000" +
        "A0000000790112021202000000000000A0000000790401000100000000000000" +
        "A0000000790401010101000000000000A0000000790401020102000000000000" +
        "001007A0000000790300000000000000000000",
    );
  });
  it("PKI: tag buffer and the certificate in the value buffer", async () => {
    const cert = sampleCertificate("cert2");
    await select(AIDS.PKI1);
    const len = cert.length;
    expect(await tx("8052000002010C0C")).toBe(`0A00710170FF${toHex(Uint8Array.of(len & 0xff, len >> 8))}7200FE009000`);
    let value = "";
    const total = len + 3;
    for (let off = 0; off < total; off += 255) {
      const n = Math.min(255, total - off);
      const h = (x: number) => x.toString(16).padStart(2, "0").toUpperCase();
      value += (await tx(`8052${h(off >> 8)}${h(off & 0xff)}0202${h(n)}${h(n)}`)).slice(0, -4);
    }
    expect(value).toBe(toHex(Uint8Array.of((len + 1) & 0xff, (len + 1) >> 8, 0)) + toHex(cert));
  });
  it("length rule, end of file and errors (libcacard test invalid-read-buffer)", async () => {
    await select(AIDS.CCC);
    expect(await tx("80520000020102")).toBe("6102");
    expect(await tx("8052000002010201")).toBe("6102");
    expect(await tx("8052003602010A0A")).toBe("9000"); // offset == length: empty
    for (const aid of [AIDS.CCC, AIDS.PKI0, AIDS.P0200, AIDS.E02FB]) {
      await select(aid);
      expect(await tx("0052000000")).toBe("6984");
      expect(await tx("00520000040102030400")).toBe("6984");
      expect(await tx("0052000002060200")).toBe("6984");
      expect(await tx("0052080802010200")).toBe("6A86");
      expect(await tx("0052080802020200")).toBe("6A86");
    }
    await select(AIDS.ACA);
    expect(await tx("8052000002010202")).toBe("6D00");
  });
  it("placeholder and soft passthrough buffers are empty", async () => {
    for (const aid of [AIDS.E02FB, AIDS.P0200, AIDS.ACF]) {
      await select(aid);
      expect(await tx("8052000002010202")).toBe("00009000");
      expect(await tx("8052000002020202")).toBe("00009000");
    }
  });
});

describe("SELECT object ID", () => {
  it("known OIDs give 9000, others 6A82, wrong Lc 6984", async () => {
    await select(AIDS.CCC);
    expect(await tx("00A4020002DB00")).toBe("9000");
    expect(await tx("00A4020002DBDB")).toBe("6A82");
    expect(await tx("00A4020000")).toBe("6984");
    expect(await tx("00A4020007A000000079010000")).toBe("6984");
    await select(AIDS.ACF);
    expect(await tx("00A40200023000")).toBe("9000");
    expect(await tx("00A40200029000")).toBe("9000");
    expect(await tx("00A40200029090")).toBe("6A82");
    await select(AIDS.E02F0);
    expect(await tx("00A402000202F0")).toBe("6A82");
  });
});

describe("GP and MS PnP", () => {
  it("GET DATA CPLC carries the card serial", async () => {
    await select(AIDS.GP);
    const serial = toHex(card.serial.subarray(0, 6));
    expect(await tx("00CA9F7F00")).toBe(
      `9F7F2A00050045D00140210101074F${serial}47927205167372051674720500000A4000000000000929BB9000`,
    );
    expect(await tx("00CA9F7F")).toBe("612D");
    expect(await tx("00CA006600")).toBe(
      "6631732F06072A864886FC6B01600C060A2A864886FC6B02020201630906072A864886FC6B03640B06092A864886FC6B0403109000",
    );
    expect(await tx("00CA123400")).toBe("6A88");
    expect(await tx("00B0000000")).toBe("6900");
  });
  it("MS PnP GET DATA 7F68 switches Windows compat: VERIFY status 63C3", async () => {
    card = createCacCard(memoryStore({ password: "12345678" }));
    expect(await tx("0020000000")).toBe("6A88");
    await select(AIDS.MSFT);
    expect(await tx("00CA7F6800")).toBe("301D02010016044D53465430120410E280E9D25188874F81D64F254E38001D9000");
    expect(await tx("0020000000")).toBe("63C3");
    expect(await tx("00CA7F6900")).toBe("6A88");
    expect(await tx("0084000008")).toMatch(/^[0-9A-F]{16}9000$/);
  });
});

describe("VERIFY", () => {
  it("passwordless store: status 9000, any PIN accepted", async () => {
    expect(await tx("0020000000")).toBe("9000");
    expect(await tx("00200000")).toBe("9000");
    expect(await tx("0020000006313233343536")).toBe("9000");
    expect(await tx("0020000008FFFFFFFFFFFFFFFF")).toBe("9000");
    expect(await tx("0020010000")).toBe("6A00");
    expect(await tx("0020000100")).toBe("6A00");
  });
  it("password store: PIN = password, FF stripped, login lost on reset", async () => {
    card = createCacCard(memoryStore({ password: "12345678" }));
    await card.powerOn();
    expect(await tx("0020000000")).toBe("6A88");
    await select(AIDS.PKI0);
    const block = "00" + "01" + "FF".repeat(202) + "00" + "3031300D060960864801650304020105000420" + "11".repeat(32);
    expect(await tx(`80420000000100${block}`)).toBe("6985");
    expect(await tx("00200000083131313131313131")).toBe("6985");
    expect(await tx("0020000000")).toBe("6A88");
    expect(await tx("00200000083132333435363738")).toBe("9000");
    expect(await tx("0020000000")).toBe("9000");
    expect(await tx(`80420000000100${block}0000`)).toMatch(/^[0-9A-F]{512}9000$/);
    expect(await tx("00200000083131313131313131")).toBe("6985"); // wrong PIN logs out
    expect(await tx("0020000000")).toBe("6A88");
    expect(await tx("0020000008313233343536373 8".replace(" ", ""))).toBe("9000");
    await card.powerOff();
    await card.powerOn();
    expect(await tx("0020000000")).toBe("6A88");
    expect(await tx("0020000008FFFFFFFFFFFFFFFF")).toBe("6985");
    expect(await tx("002000000A3132333435363738FFFF")).toBe("9000");
    // works whatever is selected, but needs an ISO class
    await select(AIDS.GP);
    expect(await tx("0020000000")).toBe("9000");
    expect(await tx("1020000000")).toBe("6900");
  });
  it("opt-in retry counter: 63Cx then 6983", async () => {
    card = createCacCard(memoryStore({ password: "12345678" }), { pinPolicy: { maxTries: 3 } });
    expect(await tx("0020000000")).toBe("63C3");
    expect(await tx("00200000083131313131313131")).toBe("63C2");
    expect(await tx("0020000000")).toBe("63C2");
    expect(await tx("00200000083132333435363738")).toBe("9000");
    await card.powerOn();
    expect(await tx("0020000000")).toBe("63C3");
    for (const left of ["63C2", "63C1", "6983"]) expect(await tx("00200000083131313131313131")).toBe(left);
    expect(await tx("00200000083132333435363738")).toBe("6983");
    expect(await tx("0020000000")).toBe("6983");
  });
});

describe("SIGN/DECRYPT", () => {
  const digestInfo = "3031300D060960864801650304020105000420" + "AB".repeat(32);
  const block = "0001" + "FF".repeat(256 - 3 - digestInfo.length / 2) + "00" + digestInfo;
  const expected = (nick: string, hex: string) =>
    // raw RSA inverse: the public operation on the signature gives the block back
    toHex(publicEncrypt({ key: samplePublicKey(nick), padding: constants.RSA_NO_PADDING }, fromHex(hex)));

  it("single extended APDU, no Le: 61 00 then GET RESPONSE", async () => {
    await select(AIDS.PKI0);
    expect(await tx(`80420000000100${block}`)).toBe("6100");
    const sig = await tx("00C0000000");
    expect(sig.slice(-4)).toBe("9000");
    expect(expected("cert1", sig.slice(0, -4))).toBe(block);
  });
  it("OpenSC chaining: 240 + 16 with Le FF", async () => {
    await select(AIDS.PKI2);
    expect(await tx(`80428000F0${block.slice(0, 480)}`)).toBe("9000");
    expect(await tx(`8042000010${block.slice(480)}FF`)).toBe("6100");
    const sig = (await tx("00C0000000")).slice(0, -4);
    expect(expected("cert3", sig)).toBe(block);
  });
  it("chaining with a 71-byte first part and extended Le", async () => {
    await select(AIDS.PKI1);
    expect(await tx(`8042800047${block.slice(0, 142)}`)).toBe("9000");
    const rest = block.slice(142);
    const r = await tx(`80420000B9${rest}00`); // short Le 00 = 256: the data comes directly
    expect(r.slice(-4)).toBe("9000");
    expect(expected("cert2", r.slice(0, -4))).toBe(block);
  });
  it("decipher: the raw block comes back", async () => {
    const pt = Buffer.from("1234567890\n");
    const padded = Buffer.concat([Buffer.from([0, 2]), Buffer.alloc(256 - 3 - pt.length, 0x5a), Buffer.from([0]), pt]);
    const ct = publicEncrypt({ key: samplePublicKey("cert1"), padding: constants.RSA_NO_PADDING }, padded);
    await select(AIDS.PKI0);
    expect(await tx(`80420000000100${toHex(ct)}0000`)).toBe(toHex(padded) + "9000");
  });
  it("errors: length, operand, P1/P2, re-SELECT clears, UPDATE BUFFER", async () => {
    await select(AIDS.PKI0);
    expect(await tx(`80420000FF${block.slice(2)}`)).toBe("6984");
    expect(await tx(`80420000000100${"FF".repeat(256)}`)).toBe("6984");
    expect(await tx(`8042000100`)).toBe("6A86");
    expect(await tx(`8042100000`)).toBe("6A86");
    expect(await tx(`80428000F0${block.slice(0, 480)}`)).toBe("9000");
    await select(AIDS.PKI0); // clears the chained data
    expect(await tx(`8042000010${block.slice(480)}`)).toBe("6984");
    expect(await tx("0058000000")).toBe("6985");
    await select(AIDS.CCC);
    expect(await tx("0058000000")).toBe("6900");
    expect(await tx(`80420000000100${block}`)).toBe("6D00");
  });
});

describe("unsupported instructions", () => {
  const INS = ["04", "0E", "10", "22", "24", "2C", "36", "4C", "70", "82", "88", "B0", "B2", "C2", "CA", "D0", "D2", "D6", "DA", "DC", "E2", "FF"];
  it("6D00 on CAC applets, 6900 with nothing, GP or MSFT selected", async () => {
    for (const ins of INS) expect(await tx(`00${ins}000000`), `no applet ${ins}`).toBe("6900");
    for (const aid of [AIDS.PKI0, AIDS.CCC, AIDS.E02FB, AIDS.ACF, AIDS.P0200]) {
      await select(aid);
      for (const ins of INS) expect(await tx(`00${ins}000000`), `${aid} ${ins}`).toBe("6D00");
    }
    await select(AIDS.ACA);
    expect(await tx("0036000000")).toBe("6D00");
    for (const aid of [AIDS.GP, AIDS.MSFT]) {
      await select(aid);
      for (const ins of INS.filter((i) => i !== "CA")) expect(await tx(`00${ins}000000`), `${aid} ${ins}`).toBe("6900");
    }
  });
  it("GET CHALLENGE: random bytes (a cacard extension), libcacard-strict keeps 6D00/6900", async () => {
    const a = await tx("0084000008");
    const b = await tx("0084000008");
    expect(a).toMatch(/^[0-9A-F]{16}9000$/);
    expect(a).not.toBe(b);
    expect(await tx("0084000000")).toMatch(/^[0-9A-F]{512}9000$/);
    expect(await tx("00840000")).toBe("6700");
    expect(await tx("0084010008")).toBe("6A86");
    expect(await tx("1084000008")).toBe("6900");
    card = createCacCard(memoryStore(), { libcacardStrict: true });
    expect(await tx("0084000008")).toBe("6900");
    await select(AIDS.PKI0);
    expect(await tx("0084000008")).toBe("6D00");
  });
});

describe("power cycle", () => {
  it("clears selections and the pending response", async () => {
    await select(AIDS.CCC);
    await tx("80560100");
    await card.powerOff();
    await card.powerOn();
    expect(await tx("00C0000000")).toBe("6A88");
    expect(await tx("8056010000")).toBe("6900");
  });
});

describe("other certificate counts", () => {
  it("one certificate: CCC lists one PKI CardURL and only PKI 0 exists", async () => {
    card = createCacCard(memoryStore({ nicknames: ["cert2"] }));
    await select(AIDS.CCC);
    expect(await tx("8052000002010202")).toBe("30009000");
    expect(await tx("8052000002020202")).toBe("EA009000");
    expect(await select(AIDS.PKI1)).toBe("6A82");
    expect(toHex(card.serial)).toBe(toHex(createHash("sha256").update(sampleCertificate("cert2")).digest()));
  });
});

describe("host faults never escape transmit", () => {
  it("a key store that throws gives 6985 at VERIFY and 6F00 elsewhere, with a warning", async () => {
    const warnings: string[] = [];
    const base = memoryStore({ password: "12345678" });
    const broken = {
      ...base,
      login: () => {
        throw new Error("key for cert1 does not match its certificate");
      },
    };
    card = createCacCard(broken, { warn: (m) => warnings.push(m) });
    expect(await tx("00200000083132333435363738")).toBe("6985");
    expect(warnings.join()).toMatch(/login failed/);
    const unpw = { ...memoryStore(), login: () => { throw new Error("boom"); } };
    card = createCacCard(unpw, { warn: (m) => warnings.push(m) });
    await select(AIDS.PKI0);
    expect(await tx(`80420000000100${"00".repeat(256)}`)).toBe("6F00");
    expect(warnings.join()).toMatch(/6F00: boom/);
    expect(warnings.join()).not.toMatch(/3132333435363738|12345678/);
  });
});

describe("card identity for multi-card setups", () => {
  it("the CCC card id (OpenSC's token serial) can be set per card; default is libcacard's", async () => {
    const id = Uint8Array.from({ length: 14 }, (_, i) => i + 1);
    card = createCacCard(memoryStore(), { cccCardId: id, serial: new Uint8Array(32).fill(0xab) });
    await select(AIDS.CCC);
    expect(await tx("8052000202020707")).toBe("A0000000790302" + "9000");
    expect(await tx("805200090202 0E0E".replace(" ", ""))).toBe(toHex(id) + "9000");
    await select(AIDS.GP);
    expect((await tx("00CA9F7F00")).slice(30, 42)).toBe("ABABABABABAB");
    expect(() => createCacCard(memoryStore(), { cccCardId: new Uint8Array(3) })).toThrow(RangeError);
  });
});

describe("card assembly limits", () => {
  it("a certificate too large for a CAC buffer is refused, naming it", async () => {
    const base = memoryStore({ nicknames: ["cert1"] });
    const huge = { ...base, credentials: [{ ...base.credentials[0], label: "huge", certificate: new Uint8Array(65_535) }] };
    expect(() => createCacCard(huge)).toThrow(/"huge" is 65535 bytes/);
    const fits = { ...base, credentials: [{ ...base.credentials[0], certificate: new Uint8Array(65_534) }] };
    expect(() => createCacCard(fits)).not.toThrow();
  });
  it("more than ten certificates are refused", async () => {
    const base = memoryStore({ nicknames: ["cert1"] });
    const many = { ...base, credentials: Array.from({ length: 11 }, () => base.credentials[0]) };
    expect(() => createCacCard(many)).toThrow(/at most 10/);
  });
});

describe("answer(): the synchronous hot path of transmit()", () => {
  it("answers a CAC SELECT synchronously, a SIGN with a promise, and keeps the order while one is pending", async () => {
    const c = createCacCard(memoryStore());
    await c.powerOn();
    const select = c.answer(fromHex("00A4040007A0000000790100"));
    expect(select).toBeInstanceOf(Uint8Array);
    expect(toHex(select as Uint8Array)).toBe("610D");
    // A 256-byte operand below the modulus: the token's key answers asynchronously.
    const operand = new Uint8Array(256).fill(0x11);
    operand[0] = 0x00;
    const sign = c.answer(fromHex("80420000" + "FF" + toHex(operand.subarray(0, 255))));
    const chained = [c.answer(fromHex("80428000" + "01" + "00")), c.answer(fromHex("80420000" + "FF" + toHex(operand.subarray(1))))];
    expect(sign).toBeInstanceOf(Promise);
    // Queued behind the pending SIGN: a promise too, answered after it, in order.
    const after = c.answer(fromHex("00A4040007A0000000790100"));
    expect(after).toBeInstanceOf(Promise);
    const [s, c1, c2, a] = await Promise.all([sign, ...chained, after]);
    expect(toHex(s).slice(-4)).toBe("6984"); // 255 bytes is not the modulus length
    expect(toHex(c1)).toBe("9000");
    expect(toHex(c2)).toBe("6100"); // 256 result bytes wait for GET RESPONSE
    expect(toHex(a)).toBe("610D"); // ... and SELECT after it dropped them
    // Idle again: synchronous once more.
    expect(c.answer(fromHex("00A4040007A0000000790100"))).toBeInstanceOf(Uint8Array);
  });
});
