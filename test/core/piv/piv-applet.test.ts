/**
 * The PIV application instruction by instruction (SP 800-73-4 Part 2 §3),
 * with the negative cases a real PIV card answers, through the card's
 * transmit boundary.
 */
import { describe, expect, it } from "vitest";
import { constants, createHash, diffieHellman, createPublicKey, publicEncrypt, verify } from "node:crypto";
import { p256, p384 } from "@noble/curves/nist.js";
import { createCard, type CreateCardOptions } from "../../../src/core/create-card.js";
import { withCardPin } from "../../../src/core/token/card-pin.js";
import { fromHex, toHex } from "../../../src/core/bytes.js";
import type { VirtualCard } from "../../../src/core/card/card.js";
import type { Token } from "../../../src/core/token/types.js";
import { keyObject, pivStore, publicKeyOf, type KeySpec } from "./piv-store.js";

const PIN = "123456";
const pinRef = (pin: string) => toHex(Buffer.concat([Buffer.from(pin), Buffer.alloc(8 - pin.length, 0xff)]));
const VERIFY = `0020008008${pinRef(PIN)}`;
const lc = (hex: string) => (hex.length / 2).toString(16).padStart(2, "0").toUpperCase();

async function pivCard(specs: KeySpec[] = ["rsa1", "p256", "p256", "p384"], options: CreateCardOptions = {}, token?: Token) {
  const card = createCard(token ?? pivStore(specs, PIN), { personality: "piv", ...options });
  await card.powerOn();
  const tx = async (hex: string) => toHex(await card.transmit(fromHex(hex)));
  return { card, tx };
}

/** 7C { 82 00, <tag> L input } for GENERAL AUTHENTICATE. */
function template(tag: number, input: Uint8Array): string {
  const len = (n: number) => (n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff]);
  const inner = Buffer.from([0x82, 0x00, tag, ...len(input.length), ...input]);
  return toHex(Buffer.from([0x7c, ...len(inner.length), ...inner]));
}

/** Sends data with command chaining in 255-byte blocks, as OpenSC and yubico-piv-tool do. */
async function chained(card: VirtualCard, header: string, data: string): Promise<string> {
  const bytes = fromHex(data);
  let answer = "";
  for (let at = 0; at < bytes.length; at += 255) {
    const block = bytes.subarray(at, at + 255);
    const last = at + 255 >= bytes.length;
    const cla = last ? "00" : "10";
    answer = toHex(await card.transmit(fromHex(`${cla}${header}${lc(toHex(block))}${toHex(block)}${last ? "00" : ""}`)));
    if (!last) expect(answer).toBe("9000");
  }
  return answer;
}

/** Collects 61xx continuation with GET RESPONSE; returns data and final SW. */
async function collect(card: VirtualCard, first: string): Promise<{ data: string; sw: string }> {
  let data = first.slice(0, -4);
  let sw = first.slice(-4);
  while (sw.startsWith("61")) {
    const next = toHex(await card.transmit(fromHex(`00C00000${sw.slice(2)}`)));
    data += next.slice(0, -4);
    sw = next.slice(-4);
  }
  return { data, sw };
}

describe("ATR and selection", () => {
  it("answers the PIV-only ATR, offering T=0 and T=1", async () => {
    const { card } = await pivCard();
    expect(toHex(await card.reset())).toBe("3B9B18800180F9A00000030800001000C0");
  });

  it("SELECT by the full, 9-byte and 5-byte AID answers the application property template", async () => {
    const { tx } = await pivCard();
    const full = await tx("00A404000BA000000308000010000100");
    expect(full.slice(0, 4 + 26 + 18)).toBe("61" + full.slice(2, 4) + "4F0BA000000308000010000100" + "7907" + "4F05A000000308");
    expect(full).toContain("500A" + toHex(Buffer.from("cacard PIV")));
    expect(full).toMatch(/AC..(8001..)+060100/);
    expect(full.endsWith("9000")).toBe(true);
    // No Le at all (yubico-piv-tool): the data still comes back, not 61xx alone.
    expect(await tx("00A4040009A00000030800001000")).toBe(full);
    expect(await tx("00A4040005A000000308")).toBe(full);
  });

  it("lists the algorithms of the keys in the template (RSA-2048, P-256, P-384)", async () => {
    const { tx } = await pivCard();
    expect(await tx("00A4040005A000000308")).toContain("AC0C800107800111800114060100");
  });

  it("a 4-byte prefix is not the PIV AID (6A82)", async () => {
    const { card } = await pivCard();
    const tx = async (hex: string) => toHex(await card.transmit(fromHex(hex)));
    expect(await tx("00A4040004A0000003")).toBe("6A82");
  });

  it("an unknown AID answers 6A82 and leaves PIV selected (yubico-piv-tool's OTP probe)", async () => {
    const { tx } = await pivCard();
    await tx("00A4040005A000000308");
    expect(await tx("00A4040008A000000527200101")).toBe("6A82");
    expect(await tx("00CB3FFF035C017E00")).toMatch(/^7E12.*9000$/);
  });

  it("PIV is selected after reset: the Discovery probe works before any SELECT", async () => {
    const { tx } = await pivCard();
    expect(await tx("00CB3FFF035C017E00")).toBe("7E124F0BA0000003080000100001005F2F0240009000");
  });

  it("selecting another applet ends the PIN status; re-selecting PIV keeps it", async () => {
    const { tx } = await pivCard();
    expect(await tx(VERIFY)).toBe("9000");
    expect(await tx("00A4040005A000000308")).toMatch(/9000$/);
    expect(await tx("00200080")).toBe("9000");
    expect(await tx("00A404000BA0000003974349445F0100")).toMatch(/9000$|^61/);
    expect(await tx("00A4040005A000000308")).toMatch(/9000$/);
    expect(await tx("00200080")).toBe("63C3");
  });
});

describe("GET DATA", () => {
  it("CHUID: FASC-N with agency 9999, a v4 GUID from the serial, expiry, empty signature", async () => {
    const { tx } = await pivCard();
    const chuid = await tx("00CB3FFF055C035FC10200");
    // SS 9999 FS 9999 FS: agency code 9999 (non-federal), which OpenSC checks in these bytes.
    expect(chuid).toMatch(/^533B3019D4E739DA739C.{38}3410.{32}350832303939313233313E00FE009000$/);
    const guid = chuid.slice(62, 94);
    expect(guid[12]).toBe("4");
    expect("89AB").toContain(guid[16]);
  });

  it("CHUID and CCC are stable for a serial and differ between serials", async () => {
    const read = async (serial?: Uint8Array) => {
      const { tx } = await pivCard(undefined, serial ? { serial } : {});
      return [await tx("00CB3FFF055C035FC10200"), await tx("00CB3FFF055C035FC10700")];
    };
    const a = await read();
    expect(await read()).toEqual(a);
    const b = await read(new Uint8Array(32).fill(7));
    expect(b[0]).not.toBe(a[0]);
    expect(b[1]).not.toBe(a[1]);
  });

  it("CCC of a PIV-only card: data model 10, no CAC card URLs", async () => {
    const { tx } = await pivCard();
    const ccc = await tx("00CB3FFF055C035FC10700");
    expect(ccc).toMatch(/^5333F015A000000116FF02.{28}F10121F20121F300F40100F50110F600F700FA00FB00FC00FD00FE009000$/);
  });

  it("Key History counts no retired keys", async () => {
    const { tx } = await pivCard();
    expect(await tx("00CB3FFF055C035FC10C00")).toBe("5308C10100C20100FE009000");
  });

  it("certificate objects 9A/9C/9D/9E in credential order: 53 { 70 cert, 71 00, FE 00 }", async () => {
    const { card, tx } = await pivCard();
    const first = await tx("00CB3FFF055C035FC10500");
    expect(first.slice(-4)).toMatch(/^61/);
    const { data, sw } = await collect(card, first);
    expect(sw).toBe("9000");
    const cert = data.slice(data.indexOf("70") + 8, -10);
    expect(data).toMatch(/^538202..708202/);
    expect(data.endsWith("710100FE00")).toBe(true);
    expect(cert.length).toBeGreaterThan(1000);
    expect(await tx("00CB3FFF055C035FC10A00")).toBe("530C70053003020101710100FE009000");
    expect(await tx("00CB3FFF055C035FC10B00")).toBe("530C70053003020102710100FE009000");
    expect(await tx("00CB3FFF055C035FC10100")).toBe("530C70053003020103710100FE009000");
  });

  it("an empty slot's certificate is absent (6A82)", async () => {
    const { tx } = await pivCard(["rsa1"]);
    expect(await tx("00CB3FFF055C035FC10A00")).toBe("6A82");
  });

  it("Le 08 gives 8 bytes and 61xx; a new command drops the rest (OpenSC 0.23's double read)", async () => {
    const { tx } = await pivCard();
    expect(await tx("00CB3FFF055C035FC10708")).toMatch(/^5333F015A0000001612D$/);
    expect(await tx("00CB3FFF055C035FC10C00")).toBe("5308C10100C20100FE009000");
    expect(await tx("00C0000000")).toBe("6A88");
  });

  it("GET RESPONSE without Le continues with up to 256 bytes", async () => {
    const { tx } = await pivCard();
    const first = await tx("00CB3FFF055C035FC105");
    expect(first.length).toBe(2 * 258);
    expect(first.slice(-4)).toMatch(/^61/);
    const next = await tx("00C00000");
    expect(next.length).toBe(2 * 258);
    expect(next.slice(-4)).toMatch(/^61/);
    expect((await tx("00C00000")).slice(-4)).toBe("9000");
  });

  it("PIN-protected Printed Information: 6982 before VERIFY, data after", async () => {
    const { tx } = await pivCard();
    expect(await tx("00CB3FFF055C035FC10900")).toBe("6982");
    expect(await tx("00CB3FFF055C035FC10300")).toBe("6982");
    await tx(VERIFY);
    expect(await tx("00CB3FFF055C035FC10900")).toMatch(/^53.*FE009000$/);
    expect(await tx("00CB3FFF055C035FC10300")).toBe("6A82");
  });

  it("malformed GET DATA: P1P2 6A86, no 5C list 6A80, truncated TLV 6A80, absent object 6A82", async () => {
    const { tx } = await pivCard();
    expect(await tx("00CB3FFE055C035FC10200")).toBe("6A86");
    expect(await tx("00CB3FFF055D035FC10200")).toBe("6A80");
    expect(await tx("00CB3FFF045C035FC100")).toBe("6A80");
    expect(await tx("00CB3FFF075C055FC1020000")).toBe("6A80");
    expect(await tx("00CB3FFF055C035FC10600")).toBe("6A82");
    expect(await tx("00CB3FFF00")).toBe("6A80");
  });
});

describe("VERIFY", () => {
  it("status 63C3, wrong PIN counts down, right PIN 9000 and resets the counter", async () => {
    const { tx } = await pivCard();
    expect(await tx("00200080")).toBe("63C3");
    expect(await tx(`0020008008${pinRef("654321")}`)).toBe("63C2");
    expect(await tx("00200080")).toBe("63C2");
    expect(await tx(VERIFY)).toBe("9000");
    expect(await tx("00200080")).toBe("9000");
    expect(await tx(`0020008008${pinRef("654321")}`)).toBe("63C2");
    expect(await tx("00200080")).toBe("63C2");
  });

  it("blocks after the tries (6983), then refuses even the right PIN", async () => {
    const { tx } = await pivCard();
    for (const sw of ["63C2", "63C1", "6983"]) expect(await tx(`0020008008${pinRef("000000")}`)).toBe(sw);
    expect(await tx("00200080")).toBe("6983");
    expect(await tx(VERIFY)).toBe("6983");
  });

  it("--pin-tries sets the counter", async () => {
    const { tx } = await pivCard(undefined, { pinPolicy: { maxTries: 5 } });
    expect(await tx("00200080")).toBe("63C5");
  });

  it("VERIFY FF 80 resets the security status", async () => {
    const { tx } = await pivCard();
    await tx(VERIFY);
    expect(await tx("0020FF80")).toBe("9000");
    expect(await tx("00200080")).toBe("63C3");
  });

  it("malformed: short PIN or bad padding 6A80 without counting; other references 6A88; P1 6A86", async () => {
    const { tx } = await pivCard();
    expect(await tx(`0020008008${pinRef("1234")}`)).toBe("6A80");
    expect(await tx("002000800631323334353600".slice(0, -2))).toBe("6A80");
    expect(await tx("0020008008313233FF34353636")).toBe("6A80");
    expect(await tx("00200080")).toBe("63C3");
    expect(await tx(`0020000008${pinRef(PIN)}`)).toBe("6A88");
    expect(await tx(`0020008108${pinRef(PIN)}`)).toBe("6A88");
    expect(await tx(`0020018008${pinRef(PIN)}`)).toBe("6A86");
  });
});

describe("CHANGE REFERENCE DATA and RESET RETRY COUNTER", () => {
  it("the PIN that is the DB password cannot change (6A81)", async () => {
    const { tx } = await pivCard();
    expect(await tx(`0024008010${pinRef(PIN)}${pinRef("654321")}`)).toBe("6A81");
  });

  it("with a card PIN (withCardPin): wrong old 63Cx, then the change holds", async () => {
    const token = withCardPin(pivStore(["rsa1"], "db password"), Buffer.from(PIN), Buffer.from("db password"));
    const { tx } = await pivCard(undefined, {}, token);
    expect(await tx(`0024008010${pinRef("000000")}${pinRef("654321")}`)).toBe("63C2");
    expect(await tx(`0024008010${pinRef(PIN)}${pinRef("654321")}`)).toBe("9000");
    expect(await tx("00200080")).toBe("9000");
    expect(await tx(VERIFY)).toBe("63C2");
    expect(await tx(`0020008008${pinRef("654321")}`)).toBe("9000");
  });

  it("malformed: P2 81/00 6A88, P1 6A86, wrong length or new PIN too short 6A80", async () => {
    const { tx } = await pivCard();
    expect(await tx(`0024008110${pinRef(PIN)}${pinRef("654321")}`)).toBe("6A88");
    expect(await tx(`0024018010${pinRef(PIN)}${pinRef("654321")}`)).toBe("6A86");
    expect(await tx(`0024008008${pinRef(PIN)}`)).toBe("6A80");
    expect(await tx(`0024008010${pinRef(PIN)}${pinRef("1234")}`)).toBe("6A80");
  });

  it("RESET RETRY COUNTER: no PUK on this card, answered as a blocked PUK (6983)", async () => {
    const { tx } = await pivCard();
    expect(await tx(`002C008010${pinRef("12345678")}${pinRef(PIN)}`)).toBe("6983");
    expect(await tx(`002C008110${pinRef("12345678")}${pinRef(PIN)}`)).toBe("6A88");
    expect(await tx(`002C008008${pinRef("12345678")}`)).toBe("6A80");
  });
});

describe("GENERAL AUTHENTICATE", () => {
  const digest256 = createHash("sha256").update("message").digest();
  const digest384 = createHash("sha384").update("message").digest();

  it("RSA-2048 raw on 9A, chained in 255-byte blocks, response chained back", async () => {
    const { card, tx } = await pivCard();
    await tx(VERIFY);
    const block = Buffer.alloc(256, 0);
    block[0] = 0x00;
    block[1] = 0x01;
    block.fill(0xff, 2, 200);
    block[200] = 0;
    block.write("payload", 201);
    const first = await chained(card, "87079A", template(0x81, block));
    const { data, sw } = await collect(card, first);
    expect(sw).toBe("9000");
    expect(data.slice(0, 16)).toBe("7C82010482820100");
    const signature = Buffer.from(fromHex(data.slice(16)));
    const recovered = publicEncrypt({ key: publicKeyOf("rsa1"), padding: constants.RSA_NO_PADDING }, signature);
    expect(recovered.equals(block)).toBe(true);
  });

  it("ECDSA P-256 on 9C right after VERIFY: DER signature over the digest as sent", async () => {
    const { tx } = await pivCard();
    await tx(VERIFY);
    const answer = await tx(`0087119C${lc(template(0x81, digest256))}${template(0x81, digest256)}00`);
    expect(answer).toMatch(/^7C..82..30..02.*9000$/);
    const der = Buffer.from(fromHex(answer.slice(8, -4)));
    expect(der.length).toBe(parseInt(answer.slice(6, 8), 16));
    expect(verify("sha256", Buffer.from("message"), { key: publicKeyOf("p256"), dsaEncoding: "der" }, der)).toBe(true);
  });

  it("9C needs a VERIFY as the command right before it ('PIN always')", async () => {
    const { tx } = await pivCard();
    await tx(VERIFY);
    await tx("00CB3FFF055C035FC10200");
    expect(await tx(`0087119C${lc(template(0x81, digest256))}${template(0x81, digest256)}00`)).toBe("6982");
    await tx(VERIFY);
    expect(await tx("00200080")).toBe("9000"); // a status query keeps it
    expect(await tx(`0087119C${lc(template(0x81, digest256))}${template(0x81, digest256)}00`)).toMatch(/9000$/);
    expect(await tx(`0087119C${lc(template(0x81, digest256))}${template(0x81, digest256)}00`)).toBe("6982");
  });

  it("ECDSA P-384 on 9E without a PIN when the token is unlocked at start (card PIN)", async () => {
    const token = withCardPin(pivStore(["rsa1", "p256", "p256", "p384"], "pw"), Buffer.from(PIN), Buffer.from("pw"));
    const { tx } = await pivCard(undefined, {}, token);
    const answer = await tx(`0087149E${lc(template(0x81, digest384))}${template(0x81, digest384)}00`);
    expect(answer).toMatch(/^7C..82..30.*9000$/);
    const der = Buffer.from(fromHex(answer.slice(8, -4)));
    expect(verify("sha384", Buffer.from("message"), { key: publicKeyOf("p384"), dsaEncoding: "der" }, der)).toBe(true);
  });

  it("9E needs the PIN when the PIN is the DB password (6982)", async () => {
    const { tx } = await pivCard();
    expect(await tx(`0087149E${lc(template(0x81, digest384))}${template(0x81, digest384)}00`)).toBe("6982");
  });

  it("a SHA-256 digest on a P-384 key is signed as a left-padded integer (Windows, OpenSC#3813)", async () => {
    const token = withCardPin(pivStore(["rsa1", "p256", "p256", "p384"], "pw"), Buffer.from(PIN), Buffer.from("pw"));
    const { tx } = await pivCard(undefined, {}, token);
    const answer = await tx(`0087149E${lc(template(0x81, digest256))}${template(0x81, digest256)}00`);
    expect(answer).toMatch(/9000$/);
    const der = Buffer.from(fromHex(answer.slice(8, -4)));
    const padded = Buffer.concat([Buffer.alloc(16), digest256]);
    const pub = publicKeyOf("p384").export({ format: "jwk" });
    const point = Buffer.concat([Buffer.of(4), Buffer.from(pub.x!, "base64url"), Buffer.from(pub.y!, "base64url")]);
    expect(p384.verify(der, padded, point, { prehash: false, format: "der" })).toBe(true);
  });

  it("ECDH on 9D: the shared X equals node's derivation; a bad point is 6A80", async () => {
    const { tx } = await pivCard();
    await tx(VERIFY);
    const peerScalar = new Uint8Array(32).fill(0x33);
    const peerPoint = p256.getPublicKey(peerScalar, false);
    const answer = await tx(`0087119D${lc(template(0x85, peerPoint))}${template(0x85, peerPoint)}00`);
    expect(answer.slice(0, 8)).toBe("7C228220");
    const peerPublic = createPublicKey({
      key: {
        kty: "EC",
        crv: "P-256",
        x: Buffer.from(peerPoint.subarray(1, 33)).toString("base64url"),
        y: Buffer.from(peerPoint.subarray(33)).toString("base64url"),
      },
      format: "jwk",
    });
    const z = diffieHellman({ privateKey: keyObject("p256"), publicKey: peerPublic });
    expect(answer.slice(8, -4)).toBe(toHex(z));
    const bad = Uint8Array.from(peerPoint);
    bad[40] ^= 1;
    expect(await tx(`0087119D${lc(template(0x85, bad))}${template(0x85, bad)}00`)).toBe("6A80");
    expect(await tx(`0087119D${lc(template(0x85, bad.subarray(0, 33)))}${template(0x85, bad.subarray(0, 33))}00`)).toBe("6A80");
  });

  it("key agreement is refused on 9C (6A80)", async () => {
    const { tx } = await pivCard();
    await tx(VERIFY);
    const point = p256.getPublicKey(new Uint8Array(32).fill(0x33), false);
    expect(await tx(`0087119C${lc(template(0x85, point))}${template(0x85, point)}00`)).toBe("6A80");
  });

  it("9A without VERIFY 6982; wrong algorithm 6A86; empty slot 6A86; unknown reference 6A86", async () => {
    const { tx } = await pivCard(["rsa1", "p256"]);
    expect(await tx(`0087079A${lc(template(0x81, digest256))}${template(0x81, digest256)}`)).toBe("6982");
    await tx(VERIFY);
    expect(await tx(`0087119A${lc(template(0x81, digest256))}${template(0x81, digest256)}`)).toBe("6A86");
    expect(await tx(`0087119D${lc(template(0x81, digest256))}${template(0x81, digest256)}`)).toBe("6A86");
    expect(await tx(`00871155${lc(template(0x81, digest256))}${template(0x81, digest256)}`)).toBe("6A86");
  });

  it("malformed templates and a short RSA block are 6A80", async () => {
    const { tx } = await pivCard();
    await tx(VERIFY);
    expect(await tx("0087079A047C028200")).toBe("6A80");
    expect(await tx("0087079A067D0482008100")).toBe("6A80");
    expect(await tx("0087079A067C0582008101")).toBe("6A80");
    expect(await tx(`0087079A${lc(template(0x81, new Uint8Array(128)))}${template(0x81, new Uint8Array(128))}`)).toBe("6A80");
  });

  it("9B: 81 00 gives a challenge (OpenSC's random source); anything else 6A80", async () => {
    const { tx } = await pivCard();
    expect(await tx("0087009B047C02810000")).toMatch(/^7C0A8108[0-9A-F]{16}9000$/);
    expect(await tx("0087089B047C02810000")).toMatch(/^7C128110[0-9A-F]{32}9000$/);
    expect(await tx("0087009B047C02800000")).toBe("6A80");
    expect(await tx("0087119B047C02810000")).toBe("6A86");
  });
});

describe("class bytes, chaining and unknown instructions", () => {
  it("proprietary CLA 6E00, unknown INS 6D00, PUT DATA and GENERATE 6982", async () => {
    const { tx } = await pivCard();
    expect(await tx("80CB3FFF055C035FC10200")).toBe("6E00");
    expect(await tx("00FD000000")).toBe("6D00");
    expect(await tx("00DB3FFF0A5C035FC1025303000000")).toBe("6982");
    expect(await tx("0047009A05AC03800111")).toBe("6982");
  });

  it("CLA 10 on an instruction that does not chain: 6884", async () => {
    const { tx } = await pivCard();
    expect(await tx("10CB3FFF055C035FC102")).toBe("6884");
  });

  it("another command in the middle of a chain drops it", async () => {
    const { tx } = await pivCard();
    await tx(VERIFY);
    const t = template(0x81, new Uint8Array(256).fill(1));
    expect(await tx(`1087079A${lc(t.slice(0, 100))}${t.slice(0, 100)}`)).toBe("9000");
    expect(await tx("00CB3FFF055C035FC10C00")).toBe("5308C10100C20100FE009000");
    expect(await tx(`0087079A${lc(t.slice(100))}${t.slice(100)}00`)).toBe("6A80");
  });

  it("a chain longer than any PIV command is refused (6700)", async () => {
    const { tx } = await pivCard();
    const block = "00".repeat(255);
    let sw = "";
    for (let i = 0; i < 10 && sw !== "6700"; i++) sw = await tx(`1087079AFF${block}`);
    expect(sw).toBe("6700");
  });
});
