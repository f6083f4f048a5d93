#!/usr/bin/env node
// Writes the APDU scripts test/vectors/*.in that record.sh replays against the
// real libcacard. The scripts are the byte-for-byte contract for the TypeScript
// card, so every step carries a "##" title saying what it checks.
//
//   node test/harness/gen-inputs.mjs      (then test/harness/record.sh)
//
// Only node: built-ins are used. Everything is deterministic: the only inputs
// are the PEM copies of the sample certificates (certificate sizes and cert1's
// public key for the decrypt vector) and fixed strings.

import { createHash, publicEncrypt, constants, X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const vectorsDir = join(root, "test", "vectors");
const pemDir = join(root, "certs-sample", "pem");

// ---------------------------------------------------------------- byte helpers

const h = (n) => n.toString(16).toUpperCase().padStart(2, "0");
const h4 = (n) => n.toString(16).toUpperCase().padStart(4, "0");
const hex = (bytes) => Buffer.from(bytes).toString("hex").toUpperCase();
const bytesOf = (hexText) => Buffer.from(hexText.replace(/[\s:]/g, ""), "hex");

/**
 * Builds a command APDU as spaced hex: "CLA INS P1 P2 [Lc data] [Le]".
 * data: hex string (may contain spaces) or undefined; le: undefined (absent),
 * or 1..256 (256 is written 00). Short form only; extended forms are spelled
 * out by hand where used.
 */
function apdu(cla, ins, p1, p2, data, le) {
  const parts = [h(cla), h(ins), h(p1), h(p2)];
  if (data !== undefined) {
    const body = bytesOf(data);
    if (body.length === 0 || body.length > 255) throw new Error(`short Lc out of range: ${body.length}`);
    parts.push(h(body.length), hex(body));
  }
  if (le !== undefined) parts.push(h(le & 0xff));
  return parts.join(" ");
}

/** Extended-length APDU: Lc as 00 HH LL (if data), Le as 2 bytes (or 00 HH LL without data). */
function apduExt(cla, ins, p1, p2, data, le) {
  const parts = [h(cla), h(ins), h(p1), h(p2)];
  if (data !== undefined) {
    const body = bytesOf(data);
    parts.push("00", h4(body.length), hex(body));
    if (le !== undefined) parts.push(h4(le & 0xffff));
  } else if (le !== undefined) {
    parts.push("00", h4(le & 0xffff));
  }
  return parts.join(" ");
}

// ---------------------------------------------------------------- card facts

// Every applet AID in one fixed order (object keys like "1201" would sort first).
const AID_LIST = [
  ["PKI0", "A0000000790100"],
  ["PKI1", "A0000000790101"],
  ["PKI2", "A0000000790102"],
  ["PKI3", "A0000000790103"],
  ["CCC", "A000000116DB00"],
  ["ACA", "A0000000790300"],
  ["GP", "A0000000030000"],
  ["MSFT", "A0000003974349445F0100"],
  ["02FB", "A00000007902FB"],
  ["02FE", "A00000007902FE"],
  ["02FD", "A00000007902FD"],
  ["0200", "A0000000790200"],
  ["0201", "A0000000790201"],
  ["1201", "A0000000791201"],
  ["1202", "A0000000791202"],
  ["02F0", "A00000007902F0"],
  ["02F1", "A00000007902F1"],
  ["02F2", "A00000007902F2"],
  ["ACF", "A0000001163000"],
];
const AID = Object.fromEntries(AID_LIST);

const certDer = (nick) => new X509Certificate(readFileSync(join(pemDir, `${nick}.pem`))).raw;

/** SimpleTLV length field size for a value of len bytes. */
const tlvLenSize = (len) => (len < 0xff ? 1 : 3);

/** File sizes (including the 2-byte length prefix) of a PKI applet's T and V buffers. */
function pkiFiles(nick) {
  const der = certDer(nick).length;
  const tContent = 2 + 1 + tlvLenSize(der) + 2 + 2; // 71 01, 70 <len>, 72 00, FE 00
  const vContent = 1 + der; // certinfo 00 + DER
  return { t: 2 + tContent, v: 2 + vContent };
}

/** CCC T and V file sizes for n certificates. */
const cccFiles = (n) => ({ t: 48 + 2 * n, v: 220 + 16 * n });

/** FCI length returned by SELECT for an AID. */
const fciLen = (aid) => (aid === AID.GP ? 27 : 6 + aid.length / 2);

// Properties lengths with three 2048-bit certificates (short list, long list).
const PROPS = {
  PKI: [0x20, 0x2c],
  CCC: [0x17, 0x23],
  ACA: [0x07, 0x55],
  EMPTY1: [0x1a, 0x1a], // 02FB 02FE 02FD 1201 1202, and the passthrough 0200 0201
  EMPTY0: [0x0a, 0x0a], // 02F0 02F1 02F2
  ACF: [0x4a, 0x4a],
};

// ---------------------------------------------------------------- crypto inputs

// SHA-256 DigestInfo prefix (PKCS#1 v1.5, RFC 8017 §9.2 note 1).
const SHA256_DIGEST_INFO = "3031300D060960864801650304020105000420";
const SIGN_HASH = createHash("sha256").update("cacard golden transcript: sign me\n").digest();
const KEY_BYTES = 256;

/** 00 01 FF..FF 00 DigestInfo(SHA-256(fixed text)), exactly 256 bytes. */
function pkcs1Type1Block() {
  const digestInfo = Buffer.concat([bytesOf(SHA256_DIGEST_INFO), SIGN_HASH]);
  const pad = KEY_BYTES - 3 - digestInfo.length;
  return Buffer.concat([Buffer.from([0x00, 0x01]), Buffer.alloc(pad, 0xff), Buffer.from([0x00]), digestInfo]);
}

const DECRYPT_MESSAGE = Buffer.from("cacard golden decrypt vector 0123456789\n", "ascii");

/** 00 02 <fixed non-zero padding> 00 <message>, exactly 256 bytes. */
function pkcs1Type2Block() {
  const padLen = KEY_BYTES - 3 - DECRYPT_MESSAGE.length;
  const pad = Buffer.alloc(padLen);
  for (let i = 0; i < padLen; i++) pad[i] = ((i * 37 + 11) % 255) + 1; // never 00
  return Buffer.concat([Buffer.from([0x00, 0x02]), pad, Buffer.from([0x00]), DECRYPT_MESSAGE]);
}

/** Raw RSA public operation with cert1's key: the ciphertext of the fixed type-2 block. */
function encryptToCert1(block) {
  const key = new X509Certificate(readFileSync(join(pemDir, "cert1.pem"))).publicKey;
  return publicEncrypt({ key, padding: constants.RSA_NO_PADDING }, block);
}

const SIGN_BLOCK = pkcs1Type1Block();
const DECRYPT_BLOCK = pkcs1Type2Block();
const CIPHERTEXT = encryptToCert1(DECRYPT_BLOCK);

// ---------------------------------------------------------------- script writer

class Script {
  constructor(name, { db = "nssdb", certs, about }) {
    this.name = name;
    this.lines = [];
    for (const line of about.trim().split("\n")) this.lines.push(`# ${line}`.trimEnd());
    this.lines.push(`#! db=${db}`);
    if (certs) this.lines.push(`#! certs=${certs}`);
    this.exchanges = 0;
  }
  /** A "# ..." section comment (with a blank line before it). */
  section(text) {
    this.lines.push("", `# ---- ${text}`);
    return this;
  }
  /** One titled step: "## title" followed by one or more APDUs / commands. */
  step(title, ...commands) {
    this.lines.push(`## ${title}`);
    for (const c of commands) this.cmd(c);
    return this;
  }
  cmd(c) {
    if (c === "!reset") this.lines.push("!reset");
    else if (c === "!atr") {
      this.lines.push("!atr");
      this.exchanges++;
    } else {
      this.lines.push(`>> ${c}`);
      this.exchanges++;
    }
    return this;
  }
  write() {
    writeFileSync(join(vectorsDir, `${this.name}.in`), this.lines.join("\n") + "\n");
    return this.exchanges;
  }
}

const select = (aid, le = 256) => apdu(0x00, 0xa4, 0x04, 0x00, aid, le);
const selectCase3 = (aid) => apdu(0x00, 0xa4, 0x04, 0x00, aid);
const getResponse = (le = 256) => apdu(0x00, 0xc0, 0x00, 0x00, undefined, le);
const verifyStatus = () => "00 20 00 00 00";
const verifyPin = (ascii, padTo = 0) => {
  const pin = Buffer.alloc(Math.max(padTo, ascii.length), 0xff);
  pin.write(ascii, "ascii");
  return apdu(0x00, 0x20, 0x00, 0x00, hex(pin));
};
const getProps = (p1, le, cla = 0x80) => apdu(cla, 0x56, p1, 0x00, undefined, le);
const readBuffer = (offset, type, size, le) =>
  apdu(0x80, 0x52, offset >> 8, offset & 0xff, `${h(type)}${h(size)}`, le);
/** GET ACR; le defaults to 00 (256), pass NO_LE for a command without Le. */
const NO_LE = null;
const getAcr = (p1, data, le = 256) => apdu(0x80, 0x4c, p1, 0x00, data, le === NO_LE ? undefined : le);

const scripts = [];
const all = (s) => scripts.push(s);

// ================================================================ selects.in

{
  const s = new Script("selects", {
    about: `SELECT (INS A4) of every applet in every APDU form; unknown/partial AIDs; P1/P2
variants; CLA variants; extended and malformed lengths; logical channel 1; SELECT by
object ID (P1=02) inside CAC applets.`,
  });
  s.section("ATR");
  s.step("ATR after power-on", "!atr");

  s.section("every applet, case 4 (Le=00) -> FCI + 9000");
  for (const [name, aid] of AID_LIST) {
    s.step(`SELECT ${name} case 4 Le=00${name === "PKI3" ? " (absent: only 3 certs) -> 6A82" : ""}`, select(aid));
  }

  s.section("every applet, case 3 (no Le) -> 61xx, then GET RESPONSE");
  for (const [name, aid] of AID_LIST) {
    if (name === "PKI3") {
      s.step("SELECT PKI3 case 3 (absent) -> 6A82", selectCase3(aid));
      continue;
    }
    s.step(`SELECT ${name} case 3 -> 61${h(fciLen(aid))}; GET RESPONSE Le=00`, selectCase3(aid), getResponse());
  }

  s.section("Le values on SELECT");
  s.step("SELECT CCC Le = exact FCI length (0D)", select(AID.CCC, 0x0d));
  s.step("SELECT CCC Le = 05 (smaller than FCI) -> 610D", select(AID.CCC, 0x05));
  s.step("SELECT CCC Le = FF", select(AID.CCC, 0xff));
  s.step("SELECT GP Le = 1B (exact)", select(AID.GP, 0x1b));
  s.step("SELECT GP Le = 1A (one short) -> 611B", select(AID.GP, 0x1a));
  s.step("SELECT MSFT Le = 11 (exact)", select(AID.MSFT, 0x11));
  s.step("SELECT MSFT Le = 10 -> 6111", select(AID.MSFT, 0x10));

  s.section("unknown, partial and over-long AIDs -> 6A82");
  s.step("SELECT unknown AID A0000000790FFF", select("A0000000790FFF"));
  s.step("SELECT garbage AID A0000001160DB000 (8 bytes)", selectCase3("A0000001160DB000"));
  s.step("SELECT AID 627601FF000000 (upstream xfer test)", selectCase3("627601FF000000"));
  s.step("SELECT RID only A000000079 (partial AID, no prefix match)", select("A000000079"));
  s.step("SELECT 6-byte prefix of PKI0 A00000007901", select("A00000007901"));
  s.step("SELECT 6-byte prefix of CCC A000000116DB", select("A000000116DB"));
  s.step("SELECT PKI0 AID + extra byte (8 bytes)", select("A000000079010000"));
  s.step("SELECT GP AID as in its FCI, 8 bytes A000000003000000", select("A000000003000000"));
  s.step("SELECT first 7 bytes of MSFT AID", select("A0000003974349"));
  s.step("SELECT MSFT AID without last byte (10 bytes)", select("A0000003974349445F01"));
  s.step("SELECT PIV AID A000000308000010000100 (not on a CAC)", select("A000000308000010000100"));
  s.step("SELECT one-byte AID A0", select("A0"));
  s.step("SELECT 16-byte AID", select("A0000000790100000000000000000000"));

  s.section("a failed SELECT deselects the channel");
  s.step("SELECT CCC (ok)", select(AID.CCC));
  s.step("GET PROPERTIES on CCC works (6C17)", getProps(0x01, 256));
  s.step("SELECT unknown AID -> 6A82", select("A0000000790FFF"));
  s.step("GET PROPERTIES now -> 6900 (nothing selected)", getProps(0x01, 256));
  s.step("SELECT CCC again", select(AID.CCC));
  s.step("SELECT empty AID (case 1) -> 6A82 and deselects", "00 A4 04 00");
  s.step("GET PROPERTIES after empty-AID SELECT", getProps(0x01, 256));

  s.section("empty AID forms");
  s.step("SELECT P1=04 case 1 (4 bytes)", "00 A4 04 00");
  s.step("SELECT P1=04 case 2 Le=00", "00 A4 04 00 00");
  s.step("SELECT P1=04 case 2 Le=0D", "00 A4 04 00 0D");
  s.step("SELECT P1=04 extended case 2 Le=0000", "00 A4 04 00 00 00 00");

  s.section("P1 / P2 variants");
  s.step("SELECT P1=00 FID 3F00 -> 6A81", "00 A4 00 00 02 3F00");
  s.step("SELECT P1=00 FID 3F00 with Le", "00 A4 00 00 02 3F00 00");
  s.step("SELECT P1=08 path -> 6A81", "00 A4 08 00 02 3F00 00");
  s.step("SELECT P1=01", "00 A4 01 00 02 3F00 00");
  s.step("SELECT P1=02 with nothing selected -> 6A81", "00 A4 02 00 02 0100");
  s.step("SELECT P1=03", "00 A4 03 00 00");
  s.step("SELECT P1=05 with CCC AID", apdu(0x00, 0xa4, 0x05, 0x00, AID.CCC, 256));
  s.step("SELECT P1=0C with CCC AID", apdu(0x00, 0xa4, 0x0c, 0x00, AID.CCC, 256));
  s.step("SELECT P1=84 with CCC AID", apdu(0x00, 0xa4, 0x84, 0x00, AID.CCC, 256));
  s.step("SELECT P2=0C (no FCI requested) case 3 -> still 610D", apdu(0x00, 0xa4, 0x04, 0x0c, AID.CCC));
  s.step("SELECT P2=0C case 4", apdu(0x00, 0xa4, 0x04, 0x0c, AID.CCC, 256));
  s.step("SELECT P2=04", apdu(0x00, 0xa4, 0x04, 0x04, AID.PKI0, 256));
  s.step("SELECT P2=02 (next occurrence)", apdu(0x00, 0xa4, 0x04, 0x02, AID.PKI0, 256));
  s.step("SELECT P2=FF", apdu(0x00, 0xa4, 0x04, 0xff, AID.ACA, 256));

  s.section("CLA variants on SELECT CCC (Le=00), with ACA selected first");
  for (const cla of [0x00, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0x10, 0x20, 0x40, 0x70, 0xd0, 0xe0, 0xf0, 0xff,
    0x0c, 0x04, 0x08, 0x84, 0x8c, 0x01, 0x81, 0x02, 0x03, 0x82, 0x83, 0xb1, 0xc3, 0x11, 0xe1]) {
    s.step(`SELECT ACA then SELECT CCC with CLA ${h(cla)}`, select(AID.ACA), apdu(cla, 0xa4, 0x04, 0x00, AID.CCC, 256));
  }

  s.section("extended-length forms");
  s.step("ext case 2E: 00A40400 00 0100 (empty AID, Le=256) -> 6A82", "00 A4 04 00 00 01 00");
  s.step("ext case 3E: Lc=0007 CCC, no Le -> 610D", apduExt(0x00, 0xa4, 0x04, 0x00, AID.CCC));
  s.step("ext case 4E: Lc=0007 CCC, Le=0100", apduExt(0x00, 0xa4, 0x04, 0x00, AID.CCC, 0x100));
  s.step("ext case 4E: Le=0000 (65536)", apduExt(0x00, 0xa4, 0x04, 0x00, AID.CCC, 0));
  s.step("ext case 4E: Le=000D (exact)", apduExt(0x00, 0xa4, 0x04, 0x00, AID.CCC, 0x0d));
  s.step("ext case 4E: Le=0005 (short) -> 610D", apduExt(0x00, 0xa4, 0x04, 0x00, AID.CCC, 0x05));
  s.step("ext case 4E MSFT (11-byte AID)", apduExt(0x00, 0xa4, 0x04, 0x00, AID.MSFT, 0));
  s.step("ext case 4E GP", apduExt(0x00, 0xa4, 0x04, 0x00, AID.GP, 0));
  s.step("ext Lc=7 with a 1-byte Le -> 6700", "00 A4 04 00 00 0007 A000000116DB00 01");
  s.step("ext Lc=7 with a 3-byte Le -> 6700", "00 A4 04 00 00 0007 A000000116DB00 000000");
  s.step("ext Lc=0000 followed by data -> 6700", "00 A4 04 00 00 0000 00");
  s.step("ext Lc=0008 but 7 data bytes -> 6700", "00 A4 04 00 00 0008 A000000116DB00");
  s.step("ext Lc=0006 but 7 data bytes -> 6700", "00 A4 04 00 00 0006 A000000116DB00");
  s.step("ext 2E Le=FFFF", "00 A4 04 00 00 FF FF");

  s.section("malformed lengths -> 6700");
  s.step("1 byte", "00");
  s.step("2 bytes", "00 A4");
  s.step("3 bytes", "00 A4 04");
  s.step("L=2 with Lc=00: 00A404000000", "00 A4 04 00 00 00");
  s.step("00A4040000000000 (ext Lc=0000 + data)", "00 A4 04 00 00 00 00 00");
  s.step("Lc=05 but 3 data bytes", "00 A4 04 00 05 A00000");
  s.step("Lc=07 but 6 data bytes", "00 A4 04 00 07 A00000007901");
  s.step("Lc=07, 7 data bytes + 2 trailing bytes", "00 A4 04 00 07 A000000116DB00 00 00");
  s.step("Lc=06 followed by 8 bytes (neither Lc+1 nor Lc+2) -> 6700", "00 A4 04 00 06 A000000116DB 00 00");
  s.step("Lc=06 followed by 7 bytes (L = Lc+2: the last byte is Le) -> 6A82 for the 6-byte AID", "00 A4 04 00 06 A000000116DB 00");
  s.step("Lc=01 with 3 data bytes", "00 A4 04 00 01 A0 00 00");
  s.step("Lc=FF with 7 data bytes", "00 A4 04 00 FF A000000116DB00");

  s.section("logical channel 1 (CLA 01) without MANAGE CHANNEL");
  s.step("SELECT CCC on channel 0", select(AID.CCC));
  s.step("SELECT PKI0 on channel 1 (CLA 01)", apdu(0x01, 0xa4, 0x04, 0x00, AID.PKI0, 256));
  s.step("GET PROPERTIES CLA 81 -> PKI0 properties", getProps(0x01, 0x20, 0x81));
  s.step("GET PROPERTIES CLA 80 -> still CCC on channel 0", getProps(0x01, 0x17, 0x80));
  s.step("SELECT unknown AID on channel 1 -> 6A82 (deselects channel 1 only)", apdu(0x01, 0xa4, 0x04, 0x00, "A0000000790FFF", 256));
  s.step("GET PROPERTIES CLA 81 -> 6900", getProps(0x01, 0x20, 0x81));
  s.step("GET PROPERTIES CLA 80 -> CCC still", getProps(0x01, 0x17, 0x80));
  s.step("SELECT on channel 2 -> 6882", apdu(0x02, 0xa4, 0x04, 0x00, AID.PKI0, 256));
  s.step("SELECT on channel 3 -> 6882", apdu(0x03, 0xa4, 0x04, 0x00, AID.PKI0, 256));
  s.step("SELECT case 3 on channel 1 -> 610D; GET RESPONSE on channel 0", apdu(0x01, 0xa4, 0x04, 0x00, AID.ACA), getResponse());

  s.section("SELECT by object ID (P1=02) inside CAC applets");
  s.step("SELECT PKI0", select(AID.PKI0));
  s.step("SELECT OID 0100 -> 9000", "00 A4 02 00 02 0100");
  s.step("SELECT OID 0100 case 4 Le=00 -> 9000 without data", "00 A4 02 00 02 0100 00");
  s.step("SELECT OID 0100 P2=0C", "00 A4 02 0C 02 0100");
  s.step("SELECT OID 0101 (other PKI) -> 6A82", "00 A4 02 00 02 0101");
  s.step("SELECT OID DB00 on PKI0 -> 6A82", "00 A4 02 00 02 DB00");
  s.step("SELECT OID Lc=1 -> 6984", "00 A4 02 00 01 01");
  s.step("SELECT OID Lc=3 -> 6984", "00 A4 02 00 03 010000");
  s.step("SELECT OID case 1 (no body) -> 6984", "00 A4 02 00");
  s.step("SELECT OID case 2 -> 6984", "00 A4 02 00 00");
  s.step("SELECT P1=02 with a 7-byte AID -> 6984", "00 A4 02 00 07 A0000000790100");
  s.step("PKI0 still selected: SELECT OID 0100", "00 A4 02 00 02 0100");
  s.step("SELECT OID CLA 80", "80 A4 02 00 02 0100");
  s.step("SELECT OID CLA 0C (applet ignores CLA)", "0C A4 02 00 02 0100");
  s.step("SELECT P1=00 inside PKI0 -> 6A81", "00 A4 00 00 02 3F00");
  s.step("SELECT PKI1, OID 0101", select(AID.PKI1), "00 A4 02 00 02 0101");
  s.step("SELECT PKI2, OID 0102", select(AID.PKI2), "00 A4 02 00 02 0102");
  s.step("SELECT CCC, OID DB00 / DBDB", select(AID.CCC), "00 A4 02 00 02 DB00", "00 A4 02 00 02 DBDB");
  s.step("SELECT ACA, OID 0300 / 0301", select(AID.ACA), "00 A4 02 00 02 0300", "00 A4 02 00 02 0301");
  s.step("SELECT ACF, OIDs 3000 6010 6030 9000 9090", select(AID.ACF), "00 A4 02 00 02 3000",
    "00 A4 02 00 02 6010", "00 A4 02 00 02 6030", "00 A4 02 00 02 9000", "00 A4 02 00 02 9090");
  for (const name of ["02FB", "02FE", "02FD", "1201", "1202", "0200", "0201"]) {
    s.step(`SELECT ${name}, OID ${name}`, select(AID[name]), `00 A4 02 00 02 ${name}`);
  }
  s.step("SELECT 02F0, OID 02F0 -> 6A82 (no objects)", select(AID["02F0"]), "00 A4 02 00 02 02F0");
  s.step("SELECT GP, P1=02 -> 6A81 (not a CAC applet)", select(AID.GP), "00 A4 02 00 02 0100");
  s.step("SELECT MSFT, P1=02 -> 6A81", select(AID.MSFT), "00 A4 02 00 02 0100");
  s.step("re-SELECT same applet (PKI0 twice)", select(AID.PKI0), select(AID.PKI0));
  all(s);
}

// ================================================================ properties.in

{
  const s = new Script("properties", {
    about: `GET PROPERTIES (80 56): P1=01 short list, P1=40 long list, P1=02 tag filter,
invalid P1/P2/Lc, every Le form (00, FF, exact, too small, absent, extended), on every
applet type and with nothing selected. 6Cxx comes only from this command.`,
  });

  function fullSet(label, aid, [shortLen, longLen], tags) {
    s.section(`${label}: full GET PROPERTIES matrix`);
    s.step(`SELECT ${label}`, select(aid));
    s.step("P1=01 Le=00 -> 6C<len>", getProps(0x01, 256));
    s.step("P1=01 Le=FF -> 6C<len>", getProps(0x01, 0xff));
    s.step(`P1=01 Le=${h(shortLen)} exact -> data + 9000`, getProps(0x01, shortLen));
    s.step(`P1=01 Le=${h(shortLen + 1)} (one too many) -> 6C`, getProps(0x01, shortLen + 1));
    s.step(`P1=01 Le=${h(shortLen - 1)} (one short) -> 61xx`, getProps(0x01, shortLen - 1));
    s.step("P1=01 Le=01 -> 61xx", getProps(0x01, 0x01));
    s.step("P1=01 Le absent (case 1) -> 61xx; GET RESPONSE", getProps(0x01), getResponse());
    s.step("P1=01 extended Le=0000 -> 6C", "80 56 01 00 00 00 00");
    s.step(`P1=01 extended Le exact`, `80 56 01 00 00 00 ${h(shortLen)}`);
    s.step("P1=40 Le=00 -> 6C<len>", getProps(0x40, 256));
    s.step(`P1=40 Le=${h(longLen)} exact`, getProps(0x40, longLen));
    s.step("P1=40 Le absent -> 61xx", getProps(0x40));
    s.step("P1=40 with data (Lc is not checked)", apdu(0x80, 0x56, 0x40, 0x00, "01", longLen));
    s.step("P1=40 with data, Le=00", apdu(0x80, 0x56, 0x40, 0x00, "0102", 256));
    // tags: [tag, encoded length] for tags in the short list, [tag, null] for absent ones.
    for (const [tag, len] of tags) {
      if (len === null) {
        s.step(`P1=02 tag ${tag} (not in this applet's short list) -> 6A88`, apdu(0x80, 0x56, 0x02, 0x00, tag, 256));
        continue;
      }
      s.step(`P1=02 tag ${tag} Le=00 -> 6C${h(len)}`, apdu(0x80, 0x56, 0x02, 0x00, tag, 256));
      s.step(`P1=02 tag ${tag} Le=${h(len)} exact`, apdu(0x80, 0x56, 0x02, 0x00, tag, len));
    }
    s.step("P1=02 tags 01 01 (duplicate) Le=0E", apdu(0x80, 0x56, 0x02, 0x00, "0101", 0x0e));
    s.step("P1=02 tags 01 01 01 Le=00 -> 6C15", apdu(0x80, 0x56, 0x02, 0x00, "010101", 256));
    s.step("P1=02 tag 39 (long list only) -> 6A88", apdu(0x80, 0x56, 0x02, 0x00, "39", 256));
    s.step("P1=02 tag 3A (long list only) -> 6A88", apdu(0x80, 0x56, 0x02, 0x00, "3A", 256));
    s.step("P1=02 unknown tag FF -> 6A88", apdu(0x80, 0x56, 0x02, 0x00, "FF", 256));
    s.step("P1=02 unknown tag 00 -> 6A88", apdu(0x80, 0x56, 0x02, 0x00, "00", 256));
    s.step("P1=02 tags 01 FF (one unknown) -> 6A88", apdu(0x80, 0x56, 0x02, 0x00, "01FF", 256));
    s.step("P1=02 tag 01, Le absent -> 61xx", apdu(0x80, 0x56, 0x02, 0x00, "01"));
    s.step("P1=02 Lc=0 (case 2) -> 6984", "80 56 02 00 00");
    s.step("P1=02 case 1 -> 6984", "80 56 02 00");
    s.step("P1=02 tags 01 40 then 2-byte trailer (L=Lc+3) -> 6700", "80 56 02 00 02 01 40 00 00");
    s.step("P1=01 with Lc=2 data -> 6984", apdu(0x80, 0x56, 0x01, 0x00, "0000", 256));
    s.step("P1=01 with Lc=1 data, no Le -> 6984", apdu(0x80, 0x56, 0x01, 0x00, "01"));
    s.step("P1=00 -> 6A86", getProps(0x00, 256));
    s.step("P1=88 -> 6A86", getProps(0x88, 256));
    s.step("P1=03 -> 6A86", getProps(0x03, 256));
    s.step("P1=41 -> 6A86", getProps(0x41, 256));
    s.step("P1=81 -> 6A86", getProps(0x81, 256));
    s.step("P1=FF -> 6A86", getProps(0xff, 256));
    s.step("P1=01 P2=01 -> 6A86", apdu(0x80, 0x56, 0x01, 0x01, undefined, 256));
    s.step("P1=40 P2=FF -> 6A86", apdu(0x80, 0x56, 0x40, 0xff, undefined, 256));
    s.step("P1=00 P2=01", apdu(0x80, 0x56, 0x00, 0x01, undefined, 256));
    s.step("CLA 00, exact Le (applet ignores CLA)", getProps(0x01, shortLen, 0x00));
    s.step("CLA FF, exact Le", getProps(0x01, shortLen, 0xff));
    s.step("CLA 0C, exact Le", getProps(0x01, shortLen, 0x0c));
  }

  function shortSet(label, aid, [shortLen, longLen]) {
    s.section(`${label}: GET PROPERTIES basics`);
    s.step(`SELECT ${label}`, select(aid));
    s.step("P1=01 Le=00 -> 6C<len>", getProps(0x01, 256));
    s.step(`P1=01 Le=${h(shortLen)} exact`, getProps(0x01, shortLen));
    s.step("P1=01 Le absent -> 61xx", getProps(0x01));
    s.step("P1=40 Le=00", getProps(0x40, 256));
    s.step(`P1=40 Le=${h(longLen)} exact`, getProps(0x40, longLen));
    s.step("P1=02 tag 01 Le=07", apdu(0x80, 0x56, 0x02, 0x00, "01", 0x07));
    s.step("P1=02 tag 40 Le=03", apdu(0x80, 0x56, 0x02, 0x00, "40", 0x03));
    s.step("P1=00 -> 6A86", getProps(0x00, 256));
  }

  fullSet("PKI0", AID.PKI0, PROPS.PKI, [["01", 7], ["40", 3], ["51", 0x16], ["50", null]]);
  shortSet("PKI1", AID.PKI1, PROPS.PKI);
  s.step("PKI1: P1=02 tag 51 Le=16", apdu(0x80, 0x56, 0x02, 0x00, "51", 0x16));
  shortSet("PKI2", AID.PKI2, PROPS.PKI);
  s.step("PKI2: P1=02 tag 51 Le=16", apdu(0x80, 0x56, 0x02, 0x00, "51", 0x16));
  fullSet("CCC", AID.CCC, PROPS.CCC, [["01", 7], ["40", 3], ["50", 0x0d], ["51", null]]);
  fullSet("ACA", AID.ACA, PROPS.ACA, [["01", 7], ["40", null], ["23", null], ["26", null]]);
  fullSet("02FB", AID["02FB"], PROPS.EMPTY1, [["01", 7], ["40", 3], ["50", 0x10]]);
  shortSet("02FE", AID["02FE"], PROPS.EMPTY1);
  shortSet("02FD", AID["02FD"], PROPS.EMPTY1);
  shortSet("1201", AID["1201"], PROPS.EMPTY1);
  shortSet("1202", AID["1202"], PROPS.EMPTY1);
  fullSet("02F0", AID["02F0"], PROPS.EMPTY0, [["01", 7], ["40", 3], ["50", null]]);
  shortSet("02F1", AID["02F1"], PROPS.EMPTY0);
  shortSet("02F2", AID["02F2"], PROPS.EMPTY0);
  fullSet("ACF", AID.ACF, PROPS.ACF, [["01", 7], ["40", 3], ["50", 0x10]]);
  s.step("ACF: P1=02 tags 50 50 (first match twice) Le=20", apdu(0x80, 0x56, 0x02, 0x00, "5050", 0x20));
  fullSet("0200 (Person Instance)", AID["0200"], PROPS.EMPTY1, [["01", 7], ["40", 3], ["50", 0x10]]);
  shortSet("0201 (Personnel)", AID["0201"], PROPS.EMPTY1);

  for (const [label, aid] of [["GP", AID.GP], ["MSFT", AID.MSFT]]) {
    s.section(`${label}: not a CAC applet -> 6900`);
    s.step(`SELECT ${label}`, select(aid));
    s.step("P1=01 Le=00", getProps(0x01, 256));
    s.step("P1=40 Le=00", getProps(0x40, 256));
    s.step("P1=02 tag 01", apdu(0x80, 0x56, 0x02, 0x00, "01", 256));
    s.step("P1=00", getProps(0x00, 256));
    s.step("P1=01 case 1", getProps(0x01));
  }

  s.section("nothing selected (after power cycle)");
  s.step("power cycle", "!reset");
  s.step("P1=01 Le=00 -> 6900", getProps(0x01, 256));
  s.step("P1=40 Le=00 -> 6900", getProps(0x40, 256));
  s.step("P1=02 tag 01 -> 6900", apdu(0x80, 0x56, 0x02, 0x00, "01", 256));
  s.step("P1=00 -> 6900", getProps(0x00, 256));
  s.step("CLA 00 P1=01 -> 6900", getProps(0x01, 256, 0x00));
  s.step("CLA 0C P1=01 (7816 layer: SM) -> 6882", getProps(0x01, 256, 0x0c));
  s.step("CLA E0 P1=01 (7816 layer: not ISO) -> 6900", getProps(0x01, 256, 0xe0));

  s.section("GET PROPERTIES through channel 1");
  s.step("SELECT ACA on channel 1, SELECT 02FB on channel 0", apdu(0x01, 0xa4, 0x04, 0x00, AID.ACA, 256), select(AID["02FB"]));
  s.step("CLA 81 P1=01 answers from the ACA (Le=07)", getProps(0x01, 0x07, 0x81));
  s.step("CLA 80 P1=01 answers from 02FB (Le=1A)", getProps(0x01, 0x1a, 0x80));
  s.step("CLA 82 (channel 2): nothing selected there, the ISO layer sees SM bits -> 6882", getProps(0x01, 0x07, 0x82));
  all(s);
}

// ================================================================ read-buffer.in

{
  const s = new Script("read-buffer", {
    about: `READ BUFFER (80 52 off_hi off_lo 02 <type> <size> [Le]): full reads of the PKI and CCC
tag (01) and value (02) files in 255- and 240-byte chunks, the 2-byte little-endian
length prefix, offset == length, overruns (6A86), Lc and type errors (6984), Le absent
or smaller (61xx), empty/passthrough/ACF applets, ACA (6D00), GP/MSFT/none (6900).`,
  });

  function fullRead(fileLen, type, chunk) {
    const typeName = type === 1 ? "T" : "V";
    s.step(`${typeName} file: length prefix (offset 0, 2 bytes)`, readBuffer(0, type, 2, 2));
    for (let off = 2; off < fileLen; off += chunk) {
      const n = Math.min(chunk, fileLen - off);
      s.step(`${typeName} file: ${n} bytes at offset ${h4(off)}, Le=${h(n)}`, readBuffer(off, type, n, n));
    }
  }

  function edgeReads(fileLen, type) {
    const typeName = type === 1 ? "T" : "V";
    const last = Math.max(2, fileLen - 5);
    s.step(`${typeName}: size FF from offset ${h4(last)} (runs past the end, returns the rest)`, readBuffer(last, type, 0xff, 256));
    s.step(`${typeName}: offset == length (${h4(fileLen)}) -> 9000 without data`, readBuffer(fileLen, type, 0x10, 256));
    s.step(`${typeName}: offset == length + 1 -> 6A86`, readBuffer(fileLen + 1, type, 0x01, 256));
    s.step(`${typeName}: offset 0808 -> 6A86`, readBuffer(0x0808, type, 0x01, 256));
    s.step(`${typeName}: offset FFFF -> 6A86`, readBuffer(0xffff, type, 0x01, 256));
    s.step(`${typeName}: offset 0001 (high byte of length + content)`, readBuffer(1, type, 4, 4));
    s.step(`${typeName}: size 00 -> 9000 without data`, readBuffer(0, type, 0, 256));
  }

  const files = pkiFiles("cert1");
  for (const [label, aid, nick] of [["PKI0", AID.PKI0, "cert1"], ["PKI1", AID.PKI1, "cert2"], ["PKI2", AID.PKI2, "cert3"]]) {
    const f = pkiFiles(nick);
    s.section(`${label} (${nick}): T file ${f.t} bytes, V file ${f.v} bytes, 255-byte chunks`);
    s.step(`SELECT ${label}`, select(aid));
    fullRead(f.t, 1, 255);
    fullRead(f.v, 2, 255);
    s.section(`${label}: the same files in 240-byte chunks (OpenSC)`);
    fullRead(f.t, 1, 240);
    fullRead(f.v, 2, 240);
  }

  s.section("PKI0: edge cases");
  s.step("SELECT PKI0", select(AID.PKI0));
  edgeReads(files.t, 1);
  edgeReads(files.v, 2);
  s.step("T: length prefix, Le=00", readBuffer(0, 1, 2, 256));
  s.step("T: length prefix, Le absent -> 6102; GET RESPONSE", readBuffer(0, 1, 2), getResponse(2));
  s.step("T: length prefix, Le=01 (smaller) -> 6102", readBuffer(0, 1, 2, 1));
  s.step("T: length prefix, Le=10 (larger) -> data", readBuffer(0, 1, 2, 0x10));
  s.step("V: 255 bytes, Le absent -> 61FF; GET RESPONSE Le=00", readBuffer(2, 2, 0xff), getResponse());
  s.step("V: 255 bytes, Le=80 -> 61FF; GET RESPONSE 80 then rest", readBuffer(2, 2, 0xff, 0x80), getResponse(0x80), getResponse());
  s.step("V: extended Le=0000 on a 255-byte read", "80 52 00 02 00 0002 02FF 0000");
  s.step("V: extended Lc, no Le", "80 52 00 02 00 0002 0210");
  s.step("CLA 00 (upstream tests use it)", "00 52 00 00 02 01 02 02");
  s.step("CLA 0C (applet ignores CLA)", "0C 52 00 00 02 01 02 02");
  s.step("Lc=0 (case 2) -> 6984", "80 52 00 00 00");
  s.step("case 1 (no body) -> 6984", "80 52 00 00");
  s.step("Lc=1 -> 6984", "80 52 00 00 01 01 00");
  s.step("Lc=3 -> 6984", "80 52 00 00 03 01 02 00 00");
  s.step("Lc=4 -> 6984", "80 52 00 00 04 01 02 00 00 00");
  for (const t of [0x00, 0x03, 0x06, 0x10, 0x81, 0xff]) {
    s.step(`type ${h(t)} -> 6984`, readBuffer(0, t, 2, 256));
  }
  s.step("bad type and bad offset together -> 6984 (type is checked first)", readBuffer(0x0808, 0x06, 2, 256));
  s.step("UPDATE BUFFER on PKI -> 6985", "80 58 00 00 00");
  s.step("UPDATE BUFFER with data on PKI", "80 58 00 00 03 01 01 00");

  const ccc = cccFiles(3);
  s.section(`CCC: T file ${ccc.t} bytes, V file ${ccc.v} bytes (3 certs)`);
  s.step("SELECT CCC", select(AID.CCC));
  fullRead(ccc.t, 1, 255);
  fullRead(ccc.v, 2, 255);
  fullRead(ccc.t, 1, 240);
  fullRead(ccc.v, 2, 240);
  edgeReads(ccc.t, 1);
  edgeReads(ccc.v, 2);
  s.step("V: 1 byte at each of a few offsets", readBuffer(2, 2, 1, 1), readBuffer(0x17, 2, 1, 1), readBuffer(0x100, 2, 1, 1));
  s.step("UPDATE BUFFER on CCC -> 6900", "80 58 00 00 00");
  s.step("UPDATE BUFFER on CCC with data", "80 58 00 00 02 01 00");

  for (const name of ["02FB", "02FE", "02FD", "1201", "1202", "02F0", "02F1", "02F2", "ACF"]) {
    s.section(`${name}: empty files (00 00)`);
    s.step(`SELECT ${name}`, select(AID[name]));
    s.step("T length", readBuffer(0, 1, 2, 2));
    s.step("V length", readBuffer(0, 2, 2, 2));
    s.step("T: 16 bytes from offset 2 (== length) -> 9000 without data", readBuffer(2, 1, 0x10, 256));
    s.step("V: offset 3 -> 6A86", readBuffer(3, 2, 1, 256));
    if (name === "02FB" || name === "ACF") {
      s.step("type 03 -> 6984", readBuffer(0, 3, 2, 256));
      s.step("Lc=0 -> 6984", "80 52 00 00 00");
      s.step("UPDATE BUFFER -> 6900", "80 58 00 00 00");
    }
  }

  for (const name of ["0200", "0201"]) {
    s.section(`${name}: passthrough applet without a data object (files 00 00)`);
    s.step(`SELECT ${name}`, select(AID[name]));
    s.step("T length (loads the buffers)", readBuffer(0, 1, 2, 2));
    s.step("V length", readBuffer(0, 2, 2, 2));
    s.step("T: from offset 2", readBuffer(2, 1, 0x10, 256));
    s.step("V: offset 3 -> 6A86", readBuffer(3, 2, 1, 256));
    s.step("type 06 -> 6984", readBuffer(0, 6, 2, 256));
    s.step("Lc=4 -> 6984", "80 52 00 00 04 01 02 00 00 00");
    s.step("UPDATE BUFFER -> 6900", "80 58 00 00 00");
    s.step(`re-SELECT ${name}, read again`, select(AID[name]), readBuffer(0, 2, 2, 2));
  }

  s.section("applets without READ BUFFER");
  s.step("SELECT ACA", select(AID.ACA));
  s.step("ACA: READ BUFFER -> 6D00", readBuffer(0, 1, 2, 2));
  s.step("ACA: READ BUFFER bad Lc -> 6D00", "80 52 00 00 00");
  s.step("ACA: UPDATE BUFFER -> 6D00", "80 58 00 00 00");
  s.step("SELECT GP; READ BUFFER -> 6900", select(AID.GP), readBuffer(0, 1, 2, 2));
  s.step("SELECT MSFT; READ BUFFER -> 6900", select(AID.MSFT), readBuffer(0, 1, 2, 2));
  s.step("power cycle; READ BUFFER with nothing selected -> 6900", "!reset", readBuffer(0, 1, 2, 2));
  s.step("nothing selected: UPDATE BUFFER -> 6900", "80 58 00 00 00");

  s.section("channel 1 reads");
  s.step("SELECT PKI2 on channel 1, CCC on channel 0", apdu(0x01, 0xa4, 0x04, 0x00, AID.PKI2, 256), select(AID.CCC));
  s.step("CLA 81: PKI2 T length", "81 52 00 00 02 01 02 02");
  s.step("CLA 80: CCC T length", "80 52 00 00 02 01 02 02");
  all(s);
}

// ================================================================ acr.in

{
  const s = new Script("acr", {
    about: `GET ACR (80 4C) on the ACA: every P1 (00 01 10 11 12 20 21 40 41 50 51 52 60 61), all
ACRIDs, AIDs and OIDs, unknown ones (6A88 / 6A80), Lc errors (6984), P2 errors (6A86),
unknown P1 (6900), Le forms and GET RESPONSE continuation of the long tables.`,
  });
  s.step("SELECT ACA", select(AID.ACA));

  s.section("P1=00 ACR table (SimpleTLV)");
  s.step("P1=00 Le=00", getAcr(0x00));
  s.step("P1=00 Le absent -> 61xx; GET RESPONSE Le=00", getAcr(0x00, undefined, NO_LE), getResponse());
  s.step("P1=00 Le=10 (short) -> 61xx; partial GET RESPONSEs", getAcr(0x00, undefined, 0x10), getResponse(0x20), getResponse(0x20), getResponse());
  s.step("P1=00 extended Le=0000", "80 4C 00 00 00 00 00");
  s.step("P1=00 CLA 00", apdu(0x00, 0x4c, 0x00, 0x00, undefined, 256));

  s.section("P1=01 one ACR entry by ACRID (SimpleTLV)");
  for (const id of [0x00, 0x01, 0x02, 0x04, 0x06, 0x08, 0x09, 0x0a, 0x0b, 0x10, 0x11]) {
    s.step(`P1=01 ACRID ${h(id)}`, getAcr(0x01, h(id)));
  }
  for (const id of [0x03, 0x05, 0x07, 0x0f, 0x12, 0x1e, 0xff]) {
    s.step(`P1=01 unknown ACRID ${h(id)} -> 6A88`, getAcr(0x01, h(id)));
  }
  s.step("P1=01 ACRID 0A, Le absent -> 61xx", getAcr(0x01, "0A", NO_LE));

  s.section("P1=10 applet/object ACR table (SimpleTLV, longer than 256)");
  s.step("P1=10 Le=00 -> 6100", getAcr(0x10));
  s.step("GET RESPONSE Le=00 -> 256 bytes + 61xx", getResponse());
  s.step("GET RESPONSE Le=00 -> rest + 9000", getResponse());
  s.step("GET RESPONSE again -> 6A88", getResponse());
  s.step("P1=10 Le absent -> 6100; GET RESPONSE in 0x80 chunks", getAcr(0x10, undefined, NO_LE),
    getResponse(0x80), getResponse(0x80), getResponse(0x80), getResponse(0x80));
  s.step("P1=10 extended Le=0000 -> whole table + 9000", "80 4C 10 00 00 00 00");
  s.step("P1=10 extended Le=0100 -> 6100", "80 4C 10 00 00 01 00");

  s.section("P1=11 applet entry by AID (SimpleTLV)");
  for (const name of ["PKI0", "PKI1", "PKI2", "CCC", "ACF", "02FB", "02FE", "02FD", "0200", "0201", "1201", "1202",
    "02F0", "02F1", "02F2"]) {
    s.step(`P1=11 AID ${name}`, getAcr(0x11, AID[name]));
  }
  for (const name of ["PKI3", "ACA", "GP"]) {
    s.step(`P1=11 AID ${name} (not in the service table) -> 6A88`, getAcr(0x11, AID[name]));
  }
  s.step("P1=11 AID A000000079FFFF -> 6A88", getAcr(0x11, "A000000079FFFF"));
  s.step("P1=11 AID A0000000791211 -> 6A88", getAcr(0x11, "A0000000791211"));
  s.step("P1=11 MSFT AID (Lc=11) -> 6984", getAcr(0x11, AID.MSFT));
  s.step("P1=11 Lc=2 -> 6984", getAcr(0x11, "0100"));
  s.step("P1=11 Lc=8 -> 6984", getAcr(0x11, "A000000079010000"));
  s.step("P1=11 no data -> 6984", getAcr(0x11));

  s.section("P1=12 object entry by OID (SimpleTLV)");
  for (const oid of ["0100", "0101", "0102", "DB00", "FFFF", "3000", "6010", "6030", "9000", "02FB", "02FE", "02FD",
    "0200", "0201", "1201", "1202"]) {
    s.step(`P1=12 OID ${oid}`, getAcr(0x12, oid));
  }
  for (const oid of ["0103", "DBDB", "0300", "02F0", "0000"]) {
    s.step(`P1=12 unknown OID ${oid} -> 6A80`, getAcr(0x12, oid));
  }
  s.step("P1=12 Lc=1 -> 6984", getAcr(0x12, "DB"));
  s.step("P1=12 Lc=3 -> 6984", getAcr(0x12, "DB0000"));
  s.step("P1=12 no data -> 6984", getAcr(0x12));

  s.section("P1=20 AMP table, P1=21 service table (SimpleTLV)");
  s.step("P1=20", getAcr(0x20));
  s.step("P1=20 Le absent -> 61xx", getAcr(0x20, undefined, NO_LE));
  s.step("P1=21", getAcr(0x21));
  s.step("P1=21 Le=80 -> 61xx; GET RESPONSE 80; rest", getAcr(0x21, undefined, 0x80), getResponse(0x80), getResponse());

  s.section("extended (ActivClient) forms: 40 41 50 51 52 60 61");
  s.step("P1=40 ACR table", getAcr(0x40));
  s.step("P1=41 ACR table", getAcr(0x41));
  for (const p1 of [0x50, 0x51, 0x52]) {
    s.step(`P1=${h(p1)} applet/object table -> 6100; GET RESPONSE x2`, getAcr(p1), getResponse(), getResponse());
  }
  s.step("P1=60 AMP table", getAcr(0x60));
  s.step("P1=61 service table", getAcr(0x61));
  s.step("P1=61 Le absent -> 61xx; GET RESPONSE", getAcr(0x61, undefined, NO_LE), getResponse());

  s.section("Lc errors -> 6984");
  s.step("P1=00 Lc=2", getAcr(0x00, "0000"));
  s.step("P1=00 Lc=1", getAcr(0x00, "00"));
  s.step("P1=01 no data", getAcr(0x01));
  s.step("P1=01 Lc=2", getAcr(0x01, "0A0A"));
  s.step("P1=01 case 1 (4 bytes)", "80 4C 01 00");
  s.step("P1=10 with data", getAcr(0x10, "00"));
  s.step("P1=20 Lc=1", getAcr(0x20, "00"));
  s.step("P1=21 Lc=1", getAcr(0x21, "00"));
  s.step("P1=40 Lc=1", getAcr(0x40, "00"));
  s.step("P1=41 with ACRID (Lc=1)", getAcr(0x41, "00"));
  s.step("P1=50 Lc=1", getAcr(0x50, "00"));
  s.step("P1=51 Lc=7", getAcr(0x51, AID.PKI0));
  s.step("P1=52 Lc=2", getAcr(0x52, "0100"));
  s.step("P1=60 Lc=1", getAcr(0x60, "00"));
  s.step("P1=61 Lc=1", getAcr(0x61, "00"));

  s.section("P2 errors -> 6A86 and unknown P1 -> 6900");
  s.step("P1=00 P2=01", apdu(0x80, 0x4c, 0x00, 0x01, undefined, 256));
  s.step("P1=00 P2=FF", apdu(0x80, 0x4c, 0x00, 0xff, undefined, 256));
  s.step("P1=01 P2=01 with ACRID", apdu(0x80, 0x4c, 0x01, 0x01, "00", 256));
  s.step("P1=13 P2=01 (unknown P1 and bad P2)", apdu(0x80, 0x4c, 0x13, 0x01, undefined, 256));
  for (const p1 of [0x02, 0x03, 0x13, 0x14, 0x22, 0x30, 0x42, 0x53, 0x62, 0x80, 0x81, 0xff]) {
    s.step(`P1=${h(p1)} -> 6900`, getAcr(p1));
  }

  s.section("GET ACR outside the ACA");
  s.step("SELECT CCC; GET ACR -> 6D00", select(AID.CCC), getAcr(0x00));
  s.step("SELECT PKI0; GET ACR -> 6D00", select(AID.PKI0), getAcr(0x00));
  s.step("SELECT 02FB; GET ACR -> 6D00", select(AID["02FB"]), getAcr(0x00));
  s.step("SELECT GP; GET ACR -> 6900", select(AID.GP), getAcr(0x00));
  s.step("SELECT MSFT; GET ACR -> 6900", select(AID.MSFT), getAcr(0x00));
  s.step("nothing selected; GET ACR -> 6900", "!reset", getAcr(0x00));
  s.step("ACA on channel 1: CLA 81 GET ACR P1=20", apdu(0x01, 0xa4, 0x04, 0x00, AID.ACA, 256), apdu(0x81, 0x4c, 0x20, 0x00, undefined, 256));
  all(s);
}

// ================================================================ get-response.in

{
  const s = new Script("get-response", {
    about: `61xx / GET RESPONSE (00 C0): chaining in partial chunks, Le larger than the rest,
Le absent (keeps the buffer), nothing pending (6A88), pending data discarded by any
other command, CLA/P1/P2 handling, extended Le, and a pending buffer shared by channels.`,
  });

  s.section("basic chaining of a 13-byte FCI");
  s.step("SELECT CCC case 3 -> 610D", selectCase3(AID.CCC));
  s.step("GET RESPONSE Le=05 -> 5 bytes + 6108", getResponse(5));
  s.step("GET RESPONSE Le=05 -> 5 bytes + 6103", getResponse(5));
  s.step("GET RESPONSE Le=05 -> last 3 bytes + 9000", getResponse(5));
  s.step("GET RESPONSE again -> 6A88", getResponse(5));
  s.step("SELECT CCC case 3; GET RESPONSE Le=0D exact", selectCase3(AID.CCC), getResponse(0x0d));
  s.step("SELECT CCC case 3; GET RESPONSE Le=20 (more than pending)", selectCase3(AID.CCC), getResponse(0x20));
  s.step("SELECT CCC case 3; GET RESPONSE Le=01 x2 then Le=00", selectCase3(AID.CCC), getResponse(1), getResponse(1), getResponse());
  s.step("SELECT CCC case 3; GET RESPONSE Le=0C -> 12 bytes + 6101; Le=01", selectCase3(AID.CCC), getResponse(0x0c), getResponse(1));

  s.section("Le absent on GET RESPONSE keeps the buffer");
  s.step("SELECT CCC case 3", selectCase3(AID.CCC));
  s.step("GET RESPONSE case 1 (00C00000) -> 610D, nothing consumed", "00 C0 00 00");
  s.step("GET RESPONSE case 1 again -> 610D", "00 C0 00 00");
  s.step("GET RESPONSE Le=00 -> FCI + 9000", getResponse());
  s.step("SELECT CCC case 3; partial Le=04; case 1 -> 6109", selectCase3(AID.CCC), getResponse(4), "00 C0 00 00");
  s.step("GET RESPONSE Le=00 -> remaining 9 bytes", getResponse());
  s.step("SELECT CCC case 3; GET RESPONSE with a body (case 3, Le=0) -> 61xx", selectCase3(AID.CCC), "00 C0 00 00 01 00");
  s.step("GET RESPONSE with a body and Le (case 4)", "00 C0 00 00 01 00 00");

  s.section("CLA / P1 / P2 on GET RESPONSE");
  s.step("SELECT CCC case 3; GET RESPONSE P1=01 P2=02 (not checked)", selectCase3(AID.CCC), "00 C0 01 02 00");
  s.step("SELECT CCC case 3; GET RESPONSE CLA 80", selectCase3(AID.CCC), "80 C0 00 00 00");
  s.step("SELECT CCC case 3; GET RESPONSE CLA 0C -> 6882, the pending data stays (INS is C0)", selectCase3(AID.CCC), "0C C0 00 00 00");
  s.step("GET RESPONSE CLA 00 after the 6882", getResponse());
  s.step("SELECT CCC case 3; GET RESPONSE CLA E0 -> 6900, the pending data stays (INS is C0)", selectCase3(AID.CCC), "E0 C0 00 00 00");
  s.step("GET RESPONSE CLA 00 after the 6900", getResponse());
  s.step("SELECT CCC case 3; GET RESPONSE CLA 02 (channel 2) -> 6882", selectCase3(AID.CCC), "02 C0 00 00 00");
  s.step("GET RESPONSE CLA 01 (channel 1, nothing selected there) -> pending FCI", "01 C0 00 00 00");
  s.step("GET RESPONSE with nothing pending, CLA 80 -> 6A88", "80 C0 00 00 00");
  s.step("GET RESPONSE extended Le with nothing pending", "00 C0 00 00 00 00 00");

  s.section("pending data is discarded by any other command");
  s.step("SELECT CCC case 3 -> 610D", selectCase3(AID.CCC));
  s.step("GET PROPERTIES (a different command) -> data", getProps(0x01, 0x17));
  s.step("GET RESPONSE -> 6A88", getResponse());
  s.step("SELECT CCC case 3; VERIFY status; GET RESPONSE -> 6A88", selectCase3(AID.CCC), verifyStatus(), getResponse());
  s.step("SELECT CCC case 3; unknown INS (6D00); GET RESPONSE -> 6A88", selectCase3(AID.CCC), "80 FF 00 00 00", getResponse());
  s.step("SELECT CCC case 3; failing command (GETPROP P1=00 -> 6A86); GET RESPONSE", selectCase3(AID.CCC), getProps(0x00, 256), getResponse());
  s.step("SELECT CCC case 3; malformed APDU (6700, rejected before the card sees it); GET RESPONSE still has the FCI", selectCase3(AID.CCC), "00 A4 04", getResponse());
  s.step("SELECT CCC case 3; partial GET RESPONSE; other command; GET RESPONSE -> 6A88",
    selectCase3(AID.CCC), getResponse(4), getProps(0x01, 0x17), getResponse());
  s.step("SELECT CCC case 3 twice: the second replaces the first; one GET RESPONSE", selectCase3(AID.CCC), selectCase3(AID.CCC), getResponse(), getResponse());
  s.step("SELECT CCC case 3 then SELECT ACA case 3: GET RESPONSE returns the ACA FCI", selectCase3(AID.CCC), selectCase3(AID.ACA), getResponse());
  s.step("READ BUFFER Le absent twice (upstream get-response test) -> 6102 6102; GET RESPONSE Le=02",
    select(AID.CCC), "00 52 00 00 02 01 02", "00 52 00 00 02 01 02", getResponse(2));
  s.step("READ BUFFER 0x34 bytes, Le absent -> 6134; GET RESPONSE Le=34; again -> 6A88",
    "00 52 00 02 02 01 34", getResponse(0x34), getResponse());

  s.section("long responses (ACR applet/object table, 478 bytes)");
  s.step("SELECT ACA", select(AID.ACA));
  s.step("GET ACR P1=10 -> 6100; GET RESPONSE Le=00 -> 256 + 61xx; Le=10; Le=00",
    getAcr(0x10), getResponse(), getResponse(0x10), getResponse());
  s.step("GET ACR P1=10; GET RESPONSE Le=FF; Le=FF", getAcr(0x10), getResponse(0xff), getResponse(0xff));
  s.step("GET ACR P1=10; GET RESPONSE Le=01 (remainder >= 256 -> 6100)", getAcr(0x10), getResponse(1), getResponse(0xdd), getResponse());
  s.step("GET ACR P1=10; GET RESPONSE extended Le=0000 -> everything + 9000", getAcr(0x10), "00 C0 00 00 00 00 00");
  s.step("GET ACR P1=10; GET RESPONSE extended Le=01DE (exact)", getAcr(0x10), "00 C0 00 00 00 01 DE");
  s.step("GET ACR P1=10; GET RESPONSE extended Le=0100 then short", getAcr(0x10), "00 C0 00 00 00 01 00", getResponse());
  s.step("GET ACR P1=10; GET RESPONSE extended Le=FFFF", getAcr(0x10), "00 C0 00 00 00 FF FF");

  s.section("the pending buffer is per card, not per channel");
  s.step("SELECT PKI0 on channel 1 case 3 -> 610D", apdu(0x01, 0xa4, 0x04, 0x00, AID.PKI0));
  s.step("GET RESPONSE on channel 0 -> PKI0 FCI", getResponse());
  s.step("SELECT CCC channel 0 case 3; GET RESPONSE on channel 1", selectCase3(AID.CCC), "01 C0 00 00 00");
  s.step("GET PROPERTIES on channel 1 case 1 -> 6120; GET RESPONSE on channel 0", getProps(0x01, undefined, 0x81), getResponse());

  s.section("GP and MSFT data through GET RESPONSE");
  s.step("SELECT GP case 3 -> 611B; GET RESPONSE", selectCase3(AID.GP), getResponse());
  s.step("GET DATA 9F7F Le absent -> 612D; GET RESPONSE Le=2D", "00 CA 9F 7F", getResponse(0x2d));
  s.step("SELECT MSFT case 3 -> 6111; GET RESPONSE Le=11", selectCase3(AID.MSFT), getResponse(0x11));
  s.step("GET DATA 7F68 Le=10 -> 611F; GET RESPONSE Le=10; Le=10", "00 CA 7F 68 10", getResponse(0x10), getResponse(0x10));

  s.section("nothing selected");
  s.step("power cycle; GET RESPONSE -> 6A88", "!reset", getResponse());
  s.step("GET RESPONSE case 1 -> 6A88", "00 C0 00 00");
  all(s);
}

// ================================================================ verify-nopw.in

{
  const s = new Script("verify-nopw", {
    about: `VERIFY (00 20) against the DB without a password: status queries answer 9000 and
every PIN is accepted because NSS needs no login. P1/P2 errors, CLA handling, VERIFY with
each applet type selected and with none, signing without any VERIFY.`,
  });
  s.section("status queries");
  s.step("status, nothing selected (00 20 00 00 00)", verifyStatus());
  s.step("status case 1 (4 bytes)", "00 20 00 00");
  s.step("status case 2 Le=08", "00 20 00 00 08");
  s.step("status extended case 2", "00 20 00 00 00 00 00");
  s.section("PINs (all accepted)");
  s.step('PIN "12345678"', verifyPin("12345678"));
  s.step("status", verifyStatus());
  s.step('PIN "123456" padded with FF to 8', verifyPin("123456", 8));
  s.step('PIN "123456" unpadded', verifyPin("123456"));
  s.step("PIN FF x8 (empty after stripping)", verifyPin("", 8));
  s.step('PIN "77777777"', verifyPin("77777777"));
  s.step("PIN one byte 00", apdu(0x00, 0x20, 0x00, 0x00, "00"));
  s.step('PIN "12345678" with Le=00 (case 4)', apdu(0x00, 0x20, 0x00, 0x00, hex(Buffer.from("12345678")), 256));
  s.step('PIN "12345678" extended Lc', apduExt(0x00, 0x20, 0x00, 0x00, hex(Buffer.from("12345678"))));
  s.section("P1/P2 errors -> 6A00");
  s.step("P1=01 status", "00 20 01 00 00");
  s.step("P2=80 status", "00 20 00 80 00");
  s.step("P2=01 status", "00 20 00 01 00");
  s.step("P1=FF P2=FF status", "00 20 FF FF 00");
  s.step('P2=80 with PIN "12345678"', apdu(0x00, 0x20, 0x00, 0x80, hex(Buffer.from("12345678"))));
  s.step('P1=01 with PIN "12345678"', apdu(0x00, 0x20, 0x01, 0x00, hex(Buffer.from("12345678"))));
  s.section("CLA handling (VERIFY is handled in the ISO 7816 layer)");
  s.step("CLA 80 status", "80 20 00 00 00");
  s.step("CLA 0C status -> 6882", "0C 20 00 00 00");
  s.step("CLA E0 status -> 6900", "E0 20 00 00 00");
  s.step("CLA 10 status -> 6900", "10 20 00 00 00");
  s.step("CLA 01 (channel 1, nothing selected)", "01 20 00 00 00");
  s.step("CLA 02 (channel 2) -> 6882", "02 20 00 00 00");
  s.section("VERIFY with each applet selected");
  for (const name of ["PKI0", "CCC", "ACA", "02FB", "02F0", "ACF", "0200", "GP", "MSFT"]) {
    s.step(`SELECT ${name}; status; PIN`, select(AID[name]), verifyStatus(), verifyPin("12345678", 8));
  }
  s.step("CLA E0 VERIFY with PKI0 selected (applet defers; 7816 layer rejects) ", select(AID.PKI0), "E0 20 00 00 00");
  s.section("sign without any VERIFY works (no login needed)");
  s.step("power cycle; status", "!reset", verifyStatus());
  s.step("SELECT PKI0; SIGN 256-byte block, extended Lc, Le=0000",
    select(AID.PKI0), apduExt(0x80, 0x42, 0x00, 0x00, hex(SIGN_BLOCK), 0));
  s.section("MSFT GET DATA 7F68 sets Windows compat, but no login is needed here");
  s.step("SELECT MSFT; GET DATA 7F68; status -> still 9000", select(AID.MSFT), "00 CA 7F 68 00", verifyStatus());
  s.step("power cycle; status", "!reset", verifyStatus());
  all(s);
}

// ================================================================ verify-pw.in

{
  const s = new Script("verify-pw", {
    db: "nssdb-pw",
    about: `VERIFY (00 20) against the DB protected by the password "12345678": status 6A88
before login, wrong PINs 6985 (no retry counter, and they log out), trailing FF stripped,
P1/P2 errors, login lost on power cycle, RSA operations before/after login, and the
Windows compat switch (MSFT GET DATA 7F68) turning status into 63C3.`,
  });
  const sign = apduExt(0x80, 0x42, 0x00, 0x00, hex(SIGN_BLOCK), 0);
  s.section("before login");
  s.step("SELECT PKI0", select(AID.PKI0));
  s.step("status -> 6A88", verifyStatus());
  s.step("status case 1 -> 6A88", "00 20 00 00");
  s.step("SIGN before login -> 6985", sign);
  s.step("SIGN before login via chaining: part 1 (P1=80) is only buffered -> 9000", apdu(0x80, 0x42, 0x80, 0x00, hex(SIGN_BLOCK.subarray(0, 240))));
  s.step("part 2 -> 6985", apdu(0x80, 0x42, 0x00, 0x00, hex(SIGN_BLOCK.subarray(240)), 256));
  s.step('wrong PIN "11111111" -> 6985', verifyPin("11111111"));
  s.step("status -> 6A88", verifyStatus());
  s.step('wrong PIN again (no lockout) -> 6985', verifyPin("11111111"));
  s.step('wrong PIN "1234567" -> 6985', verifyPin("1234567"));
  s.step('wrong PIN "123456789" -> 6985', verifyPin("123456789"));
  s.section("00 bytes in the PIN: NSS receives a C string, so the PIN ends at the first 00");
  const pinHex = hex(Buffer.from("12345678"));
  s.step('"12345678" 00 -> 9000 (logged in)', apdu(0x00, 0x20, 0x00, 0x00, pinHex + "00"));
  s.step("status -> 9000", verifyStatus());
  s.step('"12345678" 00 "99" -> 9000', apdu(0x00, 0x20, 0x00, 0x00, pinHex + "003939"));
  s.step('"12345678" 00 FF FF (FF stripped, then cut at 00) -> 9000', apdu(0x00, 0x20, 0x00, 0x00, pinHex + "00FFFF"));
  s.step('"12345678" FF 00 (trailing 00 stops the FF stripping) -> 6985', apdu(0x00, 0x20, 0x00, 0x00, pinHex + "FF00"));
  s.step("status -> 6A88", verifyStatus());
  s.step('"1234" 00 "5678" -> 6985', apdu(0x00, 0x20, 0x00, 0x00, hex(Buffer.from("1234")) + "00" + hex(Buffer.from("5678"))));
  s.step('00 "12345678" (empty C string) -> 6985', apdu(0x00, 0x20, 0x00, 0x00, "00" + pinHex));
  s.step("single 00 -> 6985", apdu(0x00, 0x20, 0x00, 0x00, "00"));
  s.step('"1234" FF "5678" (inner FF kept) -> 6985', apdu(0x00, 0x20, 0x00, 0x00, hex(Buffer.from("1234")) + "FF" + hex(Buffer.from("5678"))));
  s.step("a 200-byte PIN -> 6985", apdu(0x00, 0x20, 0x00, 0x00, "31".repeat(200)));
  s.step("a 300-byte PIN (extended Lc) -> 6985", apduExt(0x00, 0x20, 0x00, 0x00, "31".repeat(300)));
  s.step("status -> 6A88", verifyStatus());
  s.section("more wrong PINs");
  s.step("PIN FF x8 (empty after stripping) -> 6985", verifyPin("", 8));
  s.step("PIN single FF -> 6985", apdu(0x00, 0x20, 0x00, 0x00, "FF"));
  s.step('PIN "1234567" + FF -> 6985', verifyPin("1234567", 8));
  s.step('P1=01 with the right PIN -> 6A00', apdu(0x00, 0x20, 0x01, 0x00, hex(Buffer.from("12345678"))));
  s.step('P2=80 with the right PIN -> 6A00', apdu(0x00, 0x20, 0x00, 0x80, hex(Buffer.from("12345678"))));
  s.step("status after the P1/P2 errors -> 6A88 (not logged in)", verifyStatus());
  s.step("CLA 0C with the right PIN -> 6882", apdu(0x0c, 0x20, 0x00, 0x00, hex(Buffer.from("12345678"))));
  s.step("status -> 6A88", verifyStatus());

  s.section("login");
  s.step('right PIN "12345678" -> 9000', verifyPin("12345678"));
  s.step("status -> 9000", verifyStatus());
  s.step("status P1=01 -> 6A00", "00 20 01 00 00");
  s.step("SIGN after login", sign);
  s.step("SIGN on PKI1 and PKI2 after login", select(AID.PKI1), sign, select(AID.PKI2), sign);
  s.step("DECRYPT on PKI0 after login", select(AID.PKI0), apduExt(0x80, 0x42, 0x00, 0x00, hex(CIPHERTEXT), 0));
  s.step("selecting other applets keeps the login: SELECT CCC, ACA, GP; status", select(AID.CCC), select(AID.ACA), select(AID.GP), verifyStatus());
  s.step("unknown AID (deselects) keeps the login; status", select("A0000000790FFF"), verifyStatus());
  s.step("right PIN again (logs out and in) -> 9000; status", verifyPin("12345678"), verifyStatus());

  s.section("a wrong PIN logs out");
  s.step('wrong PIN -> 6985', verifyPin("11111111"));
  s.step("status -> 6A88", verifyStatus());
  s.step("SIGN -> 6985", select(AID.PKI0), sign);

  s.section("FF padding is stripped");
  s.step('"12345678" + FF FF (10 bytes) -> 9000', verifyPin("12345678", 10));
  s.step("status -> 9000", verifyStatus());
  s.step('"12345678" + FF x8 (16 bytes) -> 9000', verifyPin("12345678", 16));
  s.step('"12345678" with Le (case 4) -> 9000', apdu(0x00, 0x20, 0x00, 0x00, hex(Buffer.from("12345678")), 256));
  s.step('"12345678" extended Lc -> 9000', apduExt(0x00, 0x20, 0x00, 0x00, hex(Buffer.from("12345678"))));
  s.step('"12345678" CLA 80 -> 9000', apdu(0x80, 0x20, 0x00, 0x00, hex(Buffer.from("12345678"))));

  s.section("login is lost on power cycle");
  s.step("power cycle; status -> 6A88", "!reset", verifyStatus());
  s.step("SELECT PKI0; SIGN -> 6985", select(AID.PKI0), sign);
  s.step("login with ACA selected (OpenSC style) -> 9000", select(AID.ACA), verifyPin("12345678", 8));
  s.step("SELECT PKI0; SIGN", select(AID.PKI0), sign);
  s.step("login through channel 1 (CLA 01), nothing selected there", "!reset", apdu(0x01, 0x20, 0x00, 0x00, hex(Buffer.from("12345678"))), verifyStatus());
  s.step("status through channel 1", "01 20 00 00 00");

  s.section("Windows compat: after MSFT GET DATA 7F68 the status is 63C3");
  s.step("power cycle; status -> 6A88", "!reset", verifyStatus());
  s.step("SELECT MSFT; GET DATA 7F68", select(AID.MSFT), "00 CA 7F 68 00");
  s.step("status -> 63C3", verifyStatus());
  s.step("wrong PIN -> 6985 (still no counter)", verifyPin("11111111"));
  s.step("status -> 63C3", verifyStatus());
  s.step("right PIN -> 9000; status -> 9000", verifyPin("12345678"), verifyStatus());
  s.step("power cycle: compat bit survives -> 63C3", "!reset", verifyStatus());
  s.step("MSFT GET DATA other tag does not matter; status", select(AID.MSFT), "00 CA 7F 69 00", verifyStatus());
  all(s);
}

// ================================================================ sign.in

{
  const s = new Script("sign", {
    about: `SIGN/DECRYPT (80 42) on PKI0..2 with raw RSA: a fixed 256-byte PKCS#1 v1.5 type-1
block (00 01 FF.. 00 DigestInfo(SHA-256("cacard golden transcript: sign me\\n"))), in every
APDU form (extended Lc with/without Le, OpenSC 240+16 chaining, 71+185 chaining, three
parts), wrong lengths and bad input (6984), P1/P2 errors (6A86), the sign buffer across
re-SELECT, channels and other commands, UPDATE BUFFER (6985), and a decrypt of a fixed
PKCS#1 type-2 block encrypted to cert1 (see test/harness/gen-inputs.mjs).`,
  });
  const block = hex(SIGN_BLOCK);
  const part = (from, to) => hex(SIGN_BLOCK.subarray(from, to));
  const signExt = (le) => apduExt(0x80, 0x42, 0x00, 0x00, block, le);

  s.section("PKI0 single-command forms");
  s.step("SELECT PKI0", select(AID.PKI0));
  s.step("extended Lc=0100, no Le -> 6100; GET RESPONSE Le=00", signExt(), getResponse());
  s.step("extended Lc, Le=0000 -> signature + 9000", signExt(0));
  s.step("extended Lc, Le=0100 -> signature + 9000", signExt(0x100));
  s.step("extended Lc, Le=00FF -> 6100; GET RESPONSE Le=80, Le=00", signExt(0xff), getResponse(0x80), getResponse());
  s.step("extended Lc, no Le; GET RESPONSE Le=FF; Le=01", signExt(), getResponse(0xff), getResponse(1));

  s.section("PKI0 chaining (P1=80 accumulates)");
  s.step("OpenSC: 240 bytes P1=80 -> 9000", apdu(0x80, 0x42, 0x80, 0x00, part(0, 240)));
  s.step("OpenSC: final 16 bytes Le=FF -> 6100; GET RESPONSE", apdu(0x80, 0x42, 0x00, 0x00, part(240, 256), 0xff), getResponse());
  s.step("240 + final 16 with Le=00 -> signature directly",
    apdu(0x80, 0x42, 0x80, 0x00, part(0, 240)), apdu(0x80, 0x42, 0x00, 0x00, part(240, 256), 256));
  s.step("240 + final 16 without Le -> 6100; GET RESPONSE",
    apdu(0x80, 0x42, 0x80, 0x00, part(0, 240)), apdu(0x80, 0x42, 0x00, 0x00, part(240, 256)), getResponse());
  s.step("upstream: 71 bytes P1=80, then 185 bytes final, no Le; GET RESPONSE",
    apdu(0x80, 0x42, 0x80, 0x00, part(0, 71)), apdu(0x80, 0x42, 0x00, 0x00, part(71, 256)), getResponse());
  s.step("three parts 100 + 100 + 56 (Le=00)",
    apdu(0x80, 0x42, 0x80, 0x00, part(0, 100)), apdu(0x80, 0x42, 0x80, 0x00, part(100, 200)),
    apdu(0x80, 0x42, 0x00, 0x00, part(200, 256), 256));
  s.step("P1=80 with the whole block extended, then a final command without data (case 2) -> signature",
    apduExt(0x80, 0x42, 0x80, 0x00, block), "80 42 00 00 00");
  s.step("P1=80 with Le present (case 4) -> 9000; final", apdu(0x80, 0x42, 0x80, 0x00, part(0, 240), 256),
    apdu(0x80, 0x42, 0x00, 0x00, part(240, 256), 256));
  s.step("chaining with CLA 00 and CLA 10 (applet ignores CLA)", apdu(0x00, 0x42, 0x80, 0x00, part(0, 240)),
    apdu(0x10, 0x42, 0x00, 0x00, part(240, 256), 256));

  s.section("wrong lengths and bad input -> 6984 (buffer cleared after each)");
  s.step("255 bytes", apdu(0x80, 0x42, 0x00, 0x00, part(0, 255), 256));
  s.step("257 bytes (extended)", apduExt(0x80, 0x42, 0x00, 0x00, block + "00", 0));
  s.step("1 byte", apdu(0x80, 0x42, 0x00, 0x00, "00", 256));
  s.step("no data at all (case 2)", "80 42 00 00 00");
  s.step("no data at all (case 1)", "80 42 00 00");
  s.step("chain 240 + 17 -> 6984", apdu(0x80, 0x42, 0x80, 0x00, part(0, 240)), apdu(0x80, 0x42, 0x00, 0x00, part(240, 256) + "00", 256));
  s.step("chain 240 + 15 -> 6984", apdu(0x80, 0x42, 0x80, 0x00, part(0, 240)), apdu(0x80, 0x42, 0x00, 0x00, part(240, 255), 256));
  s.step("after an error the buffer is empty: final 16 alone -> 6984", apdu(0x80, 0x42, 0x00, 0x00, part(240, 256), 256));
  s.step("input all FF (>= modulus) -> 6984", apduExt(0x80, 0x42, 0x00, 0x00, "FF".repeat(256), 0));
  s.step("input 00 55 55 .. (raw, not PKCS#1) -> deterministic result", apduExt(0x80, 0x42, 0x00, 0x00, "00" + "55".repeat(255), 0));
  s.step("input 00 .. 00 01 (m = 1) -> 00 .. 01", apduExt(0x80, 0x42, 0x00, 0x00, "00".repeat(255) + "01", 0));
  s.step("input all zero -> all zero", apduExt(0x80, 0x42, 0x00, 0x00, "00".repeat(256), 0));
  s.step("type-1 block with a broken first byte (01 01 FF ..)", apduExt(0x80, 0x42, 0x00, 0x00, "01" + part(1, 256), 0));

  s.section("P1/P2 errors -> 6A86");
  s.step("P2=01", apdu(0x80, 0x42, 0x00, 0x01, "00", 256));
  s.step("P1=01", apdu(0x80, 0x42, 0x01, 0x00, "00", 256));
  s.step("P1=81", apdu(0x80, 0x42, 0x81, 0x00, "00", 256));
  s.step("P1=40", apdu(0x80, 0x42, 0x40, 0x00, "00", 256));
  s.step("P1=80 P2=01", apdu(0x80, 0x42, 0x80, 0x01, "00", 256));
  s.step("P1=FF P2=FF, no data", "80 42 FF FF 00");
  s.step("P2 error in the middle of a chain: 240, then P2=01 -> 6A86, then final 16",
    apdu(0x80, 0x42, 0x80, 0x00, part(0, 240)), apdu(0x80, 0x42, 0x00, 0x01, part(240, 256), 256),
    apdu(0x80, 0x42, 0x00, 0x00, part(240, 256), 256));
  s.step("P1 error in the middle of a chain: 240, then P1=01 -> 6A86, then final 16",
    apdu(0x80, 0x42, 0x80, 0x00, part(0, 240)), apdu(0x80, 0x42, 0x01, 0x00, part(240, 256), 256),
    apdu(0x80, 0x42, 0x00, 0x00, part(240, 256), 256));

  s.section("the sign buffer across other commands, re-SELECT and channels");
  s.step("240, GET PROPERTIES, READ BUFFER, VERIFY, then final 16 -> signature",
    apdu(0x80, 0x42, 0x80, 0x00, part(0, 240)), getProps(0x01, 0x20), readBuffer(0, 1, 2, 2), verifyStatus(),
    apdu(0x80, 0x42, 0x00, 0x00, part(240, 256), 256));
  s.step("240, re-SELECT PKI0 (clears the buffer), final 16 -> 6984",
    apdu(0x80, 0x42, 0x80, 0x00, part(0, 240)), select(AID.PKI0), apdu(0x80, 0x42, 0x00, 0x00, part(240, 256), 256));
  s.step("240, SELECT CCC, SELECT PKI0, final 16 -> 6984",
    apdu(0x80, 0x42, 0x80, 0x00, part(0, 240)), select(AID.CCC), select(AID.PKI0), apdu(0x80, 0x42, 0x00, 0x00, part(240, 256), 256));
  s.step("240, SELECT OID 0100 (no reset), final 16 -> signature",
    apdu(0x80, 0x42, 0x80, 0x00, part(0, 240)), "00 A4 02 00 02 0100", apdu(0x80, 0x42, 0x00, 0x00, part(240, 256), 256));
  s.step("240 on PKI0 (ch0), CCC selected on ch1, final 16 on ch0 -> signature",
    apdu(0x80, 0x42, 0x80, 0x00, part(0, 240)), apdu(0x01, 0xa4, 0x04, 0x00, AID.CCC, 256),
    apdu(0x80, 0x42, 0x00, 0x00, part(240, 256), 256));
  s.step("240 on PKI0 (ch0), PKI1 signs on ch1, final 16 on ch0 -> PKI0 signature",
    apdu(0x80, 0x42, 0x80, 0x00, part(0, 240)), apdu(0x01, 0xa4, 0x04, 0x00, AID.PKI1, 256),
    apduExt(0x81, 0x42, 0x00, 0x00, block, 0), apdu(0x80, 0x42, 0x00, 0x00, part(240, 256), 256));
  s.step("240 on PKI0 (ch0), SELECT PKI0 on ch1 (resets the shared applet), final 16 on ch0 -> 6984",
    apdu(0x80, 0x42, 0x80, 0x00, part(0, 240)), apdu(0x01, 0xa4, 0x04, 0x00, AID.PKI0, 256),
    apdu(0x80, 0x42, 0x00, 0x00, part(240, 256), 256));
  s.step("240 on ch0 PKI0 and final 16 on ch1 PKI0 (same applet, same buffer) -> signature",
    apdu(0x80, 0x42, 0x80, 0x00, part(0, 240)), apdu(0x81, 0x42, 0x00, 0x00, part(240, 256), 256));
  s.step("240, SELECT PKI1, final 16 on PKI1 -> 6984", apdu(0x80, 0x42, 0x80, 0x00, part(0, 240)),
    select(AID.PKI1), apdu(0x80, 0x42, 0x00, 0x00, part(240, 256), 256));

  s.section("PKI1 and PKI2 (different keys)");
  s.step("SELECT PKI1; sign extended", select(AID.PKI1), signExt(0));
  s.step("PKI1 chained 240 + 16", apdu(0x80, 0x42, 0x80, 0x00, part(0, 240)), apdu(0x80, 0x42, 0x00, 0x00, part(240, 256), 256));
  s.step("SELECT PKI2; sign extended", select(AID.PKI2), signExt(0));
  s.step("PKI2 no Le; GET RESPONSE", signExt(), getResponse());

  s.section("UPDATE BUFFER on PKI -> 6985");
  s.step("SELECT PKI0; UPDATE BUFFER case 2", select(AID.PKI0), "80 58 00 00 00");
  s.step("UPDATE BUFFER with data", "80 58 00 00 04 01 02 00 00");
  s.step("UPDATE BUFFER CLA 00", "00 58 00 00 00");

  s.section("DECRYPT: fixed type-2 block encrypted to cert1 with raw RSA");
  s.step("SELECT PKI0; ciphertext extended, no Le -> 6100; GET RESPONSE -> the type-2 block",
    select(AID.PKI0), apduExt(0x80, 0x42, 0x00, 0x00, hex(CIPHERTEXT)), getResponse());
  s.step("ciphertext extended, Le=0000", apduExt(0x80, 0x42, 0x00, 0x00, hex(CIPHERTEXT), 0));
  s.step("ciphertext chained 240 + 16, Le=00", apdu(0x80, 0x42, 0x80, 0x00, hex(CIPHERTEXT.subarray(0, 240))),
    apdu(0x80, 0x42, 0x00, 0x00, hex(CIPHERTEXT.subarray(240)), 256));
  s.step("the same ciphertext on PKI1 (wrong key) -> deterministic garbage", select(AID.PKI1), apduExt(0x80, 0x42, 0x00, 0x00, hex(CIPHERTEXT), 0));

  s.section("nothing selected / other applets");
  s.step("power cycle; SIGN with nothing selected -> 6900", "!reset", signExt(0));
  s.step("SELECT CCC; SIGN -> 6D00", select(AID.CCC), signExt(0));
  s.step("SELECT ACA; SIGN -> 6D00", select(AID.ACA), signExt(0));
  s.step("SELECT GP; SIGN -> 6900", select(AID.GP), signExt(0));
  all(s);
}

// ================================================================ gp-msft.in

{
  const s = new Script("gp-msft", {
    about: `GlobalPlatform Card Manager (A0000000030000) and Microsoft PnP (A0000003974349445F0100):
SELECT forms, GET DATA 9F7F (CPLC with the card serial) / 0066 / 7F68 / unknown tags, Le
forms, and every other INS (deferred to the ISO layer: 6900, VERIFY and GET RESPONSE work).`,
  });
  s.section("GlobalPlatform");
  s.step("SELECT GP case 3 -> 611B; GET RESPONSE", selectCase3(AID.GP), getResponse());
  s.step("SELECT GP case 4", select(AID.GP));
  s.step("GET DATA 9F7F Le=00", "00 CA 9F 7F 00");
  s.step("GET DATA 9F7F Le=2D exact", "00 CA 9F 7F 2D");
  s.step("GET DATA 9F7F Le=FF", "00 CA 9F 7F FF");
  s.step("GET DATA 9F7F Le=10 -> 612D", "00 CA 9F 7F 10");
  s.step("GET DATA 9F7F Le absent -> 612D; GET RESPONSE", "00 CA 9F 7F", getResponse());
  s.step("GET DATA 9F7F extended Le=0000", "00 CA 9F 7F 00 00 00");
  s.step("GET DATA 9F7F CLA 80", "80 CA 9F 7F 00");
  s.step("GET DATA 9F7F CLA 0C (applet ignores CLA)", "0C CA 9F 7F 00");
  s.step("GET DATA 9F7F with a body (Lc=1)", "00 CA 9F 7F 01 00 00");
  s.step("GET DATA 0066 Le=00", "00 CA 00 66 00");
  s.step("GET DATA 0066 Le=33 exact", "00 CA 00 66 33");
  s.step("GET DATA 0066 Le=10 -> 6133", "00 CA 00 66 10");
  s.step("GET DATA 0066 Le absent", "00 CA 00 66");
  for (const tag of ["00E0", "9F7E", "0000", "FFFF", "7F68", "9F6E", "0045", "00CF", "7F7F", "669F"]) {
    s.step(`GET DATA ${tag} -> 6A88`, `00 CA ${tag.slice(0, 2)} ${tag.slice(2)} 00`);
  }
  s.step("GET DATA 9F7F case 1 (4 bytes)", "00 CA 9F 7F");
  s.step("VERIFY status with GP selected", verifyStatus());
  s.step("GET RESPONSE with nothing pending -> 6A88", getResponse());
  for (const [ins, what] of [[0x56, "GET PROPERTIES"], [0x52, "READ BUFFER"], [0x42, "SIGN"], [0x4c, "GET ACR"],
    [0x50, "INITIALIZE UPDATE"], [0x82, "EXTERNAL AUTHENTICATE"], [0xe2, "STORE DATA"], [0xf2, "GET STATUS"],
    [0xd8, "PUT KEY"], [0xe4, "DELETE"], [0xe6, "INSTALL"], [0xf0, "SET STATUS"], [0xb0, "READ BINARY"],
    [0x84, "GET CHALLENGE"], [0x70, "MANAGE CHANNEL"], [0xcb, "GET DATA odd"], [0xff, "INS FF"]]) {
    s.step(`GP: INS ${h(ins)} (${what}) -> 6900`, apdu(0x80, ins, 0x00, 0x00, undefined, 256));
  }
  s.step("GP: SELECT P1=02 -> 6A81", "00 A4 02 00 02 0100");
  s.step("GP: SELECT GP again by AID", select(AID.GP));

  s.section("Microsoft PnP");
  s.step("SELECT MSFT case 3 -> 6111; GET RESPONSE", selectCase3(AID.MSFT), getResponse());
  s.step("SELECT MSFT case 4", select(AID.MSFT));
  s.step("GET DATA 7F68 Le=00", "00 CA 7F 68 00");
  s.step("GET DATA 7F68 Le=1F exact", "00 CA 7F 68 1F");
  s.step("GET DATA 7F68 Le=10 -> 611F", "00 CA 7F 68 10");
  s.step("GET DATA 7F68 Le absent; GET RESPONSE", "00 CA 7F 68", getResponse());
  s.step("GET DATA 7F68 extended Le", "00 CA 7F 68 00 00 00");
  s.step("GET DATA 7F68 CLA 80", "80 CA 7F 68 00");
  for (const tag of ["7F69", "9F7F", "0066", "0000", "687F", "FFFF"]) {
    s.step(`GET DATA ${tag} -> 6A88`, `00 CA ${tag.slice(0, 2)} ${tag.slice(2)} 00`);
  }
  s.step("VERIFY status with MSFT selected", verifyStatus());
  for (const [ins, what] of [[0x56, "GET PROPERTIES"], [0x52, "READ BUFFER"], [0x42, "SIGN"], [0x4c, "GET ACR"],
    [0xb0, "READ BINARY"], [0x84, "GET CHALLENGE"], [0x70, "MANAGE CHANNEL"], [0xcb, "GET DATA odd"], [0xff, "INS FF"]]) {
    s.step(`MSFT: INS ${h(ins)} (${what}) -> 6900`, apdu(0x00, ins, 0x00, 0x00, undefined, 256));
  }
  s.step("MSFT: SELECT P1=02 -> 6A81", "00 A4 02 00 02 0100");

  s.section("GET DATA elsewhere");
  s.step("SELECT CCC; GET DATA 9F7F -> 6D00", select(AID.CCC), "00 CA 9F 7F 00");
  s.step("SELECT PKI0; GET DATA 7F68 -> 6D00", select(AID.PKI0), "00 CA 7F 68 00");
  s.step("unknown AID (deselect); GET DATA 9F7F -> 6900", select("A0000000790FFF"), "00 CA 9F 7F 00");
  s.step("power cycle; GET DATA 7F68 with nothing selected -> 6900", "!reset", "00 CA 7F 68 00");
  s.step("GP on channel 1: CLA 01 GET DATA 9F7F", apdu(0x01, 0xa4, 0x04, 0x00, AID.GP, 256), "01 CA 9F 7F 00");
  all(s);
}

// ================================================================ misc-ins.in

{
  const s = new Script("misc-ins", {
    about: `Unknown and unsupported instructions (00 INS 00 00 00) with each applet type selected
and with nothing selected: CAC applets answer 6D00, the ISO layer 6900. Also secure-
messaging and other CLA values, MANAGE CHANNEL, and odd INS values.`,
  });
  const INS = [0x00, 0x04, 0x0e, 0x10, 0x22, 0x24, 0x2c, 0x36, 0x4c, 0x58, 0x70, 0x82, 0x84, 0x88, 0xb0, 0xb2, 0xc2,
    0xca, 0xd0, 0xd2, 0xd6, 0xda, 0xdc, 0xe2, 0xff];
  const contexts = [["PKI0", AID.PKI0], ["CCC", AID.CCC], ["ACA", AID.ACA], ["02FB", AID["02FB"]],
    ["02F0", AID["02F0"]], ["ACF", AID.ACF], ["0200", AID["0200"]], ["GP", AID.GP], ["MSFT", AID.MSFT], ["none", null]];
  for (const [label, aid] of contexts) {
    s.section(`${label}: INS sweep`);
    if (aid) s.step(`SELECT ${label}`, select(aid));
    else s.step("power cycle (nothing selected)", "!reset");
    for (const ins of INS) s.step(`${label}: INS ${h(ins)}`, apdu(0x00, ins, 0x00, 0x00, undefined, 256));
  }

  s.section("odd INS values and CLA 80 sweep on PKI0");
  s.step("SELECT PKI0", select(AID.PKI0));
  for (const ins of [0x01, 0x21, 0x43, 0x53, 0x57, 0x5a, 0x61, 0x6f, 0x9f, 0xa5, 0xc1, 0xcb, 0xfe]) {
    s.step(`PKI0: INS ${h(ins)}`, apdu(0x80, ins, 0x00, 0x00, undefined, 256));
  }
  s.step("PKI0: INS 36 (CACv1 GET CERTIFICATE) CLA 80", "80 36 00 00 00");
  s.step("PKI0: INS 5A (old ActivClient) CLA 80", "80 5A 00 00 00");
  s.step("PKI0: INS C0 with nothing pending -> 6A88", getResponse());

  s.section("secure messaging and other CLA values (ISO layer)");
  s.step("power cycle", "!reset");
  for (const cla of [0x04, 0x08, 0x0c, 0x84, 0x8c, 0x1c, 0xa4, 0xe4, 0xb4]) {
    s.step(`CLA ${h(cla)} SELECT CCC`, apdu(cla, 0xa4, 0x04, 0x00, AID.CCC, 256));
  }
  s.step("SELECT CCC (CLA 00)", select(AID.CCC));
  for (const cla of [0x04, 0x0c, 0x84, 0x8c]) {
    s.step(`CLA ${h(cla)} GET PROPERTIES on CCC (applet ignores CLA)`, apdu(cla, 0x56, 0x01, 0x00, undefined, 0x17));
    s.step(`CLA ${h(cla)} unknown INS 84 on CCC (applet answers first)`, apdu(cla, 0x84, 0x00, 0x00, undefined, 8));
    s.step(`CLA ${h(cla)} VERIFY status (ISO layer)`, apdu(cla, 0x20, 0x00, 0x00, undefined, 256));
  }

  s.section("MANAGE CHANNEL (not implemented)");
  s.step("power cycle; open (00 70 00 00 01) -> 6900", "!reset", "00 70 00 00 01");
  s.step("open channel 1 explicitly (00 70 00 01)", "00 70 00 01");
  s.step("close channel 1 (00 70 80 01)", "00 70 80 01");
  s.step("CLA 01 open", "01 70 00 00 01");
  s.step("CLA 80 open", "80 70 00 00 01");
  s.step("SELECT ACA; open -> 6D00", select(AID.ACA), "00 70 00 00 01");
  s.step("close channel 1 with ACA selected", "00 70 80 01");
  s.step("SELECT GP; open -> 6900", select(AID.GP), "00 70 00 00 01");

  s.section("CLA-only variations of a valid command on an applet");
  s.step("SELECT ACA", select(AID.ACA));
  for (const cla of [0x00, 0x10, 0x40, 0x80, 0xa0, 0xe0, 0xff]) {
    s.step(`CLA ${h(cla)} GET PROPERTIES P1=01 Le=07 on ACA`, apdu(cla, 0x56, 0x01, 0x00, undefined, 0x07));
  }
  all(s);
}

// ================================================================ channels.in

{
  const s = new Script("channels", {
    about: `Logical channels: CLA bits 0-1 select the channel without MANAGE CHANNEL. Channel 1
works, channels 2 and 3 collide with the secure-messaging bits (6882). Per-channel
selection, the shared GET RESPONSE buffer, CLA classes that map to channel 0, and reset.`,
  });
  s.section("independent selections on channels 0 and 1");
  s.step("SELECT CCC on ch0", select(AID.CCC));
  s.step("SELECT PKI1 on ch1 (CLA 01)", apdu(0x01, 0xa4, 0x04, 0x00, AID.PKI1, 256));
  s.step("GET PROPERTIES CLA 80 (ch0 = CCC)", getProps(0x01, 0x17, 0x80));
  s.step("GET PROPERTIES CLA 81 (ch1 = PKI1)", getProps(0x01, 0x20, 0x81));
  s.step("GET PROPERTIES CLA 01 (ch1)", getProps(0x01, 0x20, 0x01));
  s.step("READ BUFFER CLA 81: PKI1 T file", "81 52 00 02 02 01 FF 00");
  s.step("READ BUFFER CLA 80: CCC T file", "80 52 00 02 02 01 FF 00");
  s.step("SELECT OID on ch1 (CLA 01): 0101 ok, DB00 not", "01 A4 02 00 02 0101", "01 A4 02 00 02 DB00");
  s.step("SELECT OID on ch0: DB00 ok", "00 A4 02 00 02 DB00");

  s.section("CLA classes without channel bits map to channel 0");
  for (const cla of [0x41, 0x51, 0xb1, 0xc1, 0xd1, 0xe1, 0xf1]) {
    s.step(`GET PROPERTIES CLA ${h(cla)} (not an ISO class with channel bits: channel 0, CCC)`, getProps(0x01, 0x17, cla));
  }
  s.step("GET PROPERTIES CLA 91 (ISO, channel 1)", getProps(0x01, 0x20, 0x91));
  s.step("GET PROPERTIES CLA A1 (ISO, channel 1)", getProps(0x01, 0x20, 0xa1));

  s.section("channels 2 and 3 -> 6882");
  for (const cla of [0x02, 0x03, 0x82, 0x83]) {
    s.step(`SELECT PKI0 CLA ${h(cla)}`, apdu(cla, 0xa4, 0x04, 0x00, AID.PKI0, 256));
    s.step(`GET PROPERTIES CLA ${h(cla)}`, getProps(0x01, 0x20, cla));
    s.step(`VERIFY status CLA ${h(cla)}`, apdu(cla, 0x20, 0x00, 0x00, undefined, 256));
  }

  s.section("failed SELECT on one channel leaves the other");
  s.step("SELECT unknown on ch1 -> 6A82", apdu(0x01, 0xa4, 0x04, 0x00, "A0000000790FFF", 256));
  s.step("ch1 now empty: GET PROPERTIES CLA 81 -> 6900", getProps(0x01, 0x20, 0x81));
  s.step("ch0 still CCC", getProps(0x01, 0x17, 0x80));
  s.step("SELECT P1=00 on ch0 -> 6A81 (only a failed P1=04 SELECT deselects)", "00 A4 00 00 02 3F00");
  s.step("ch0 after the 6A81", getProps(0x01, 0x17, 0x80));

  s.section("the same applet on both channels");
  s.step("SELECT PKI0 on ch0 and ch1", select(AID.PKI0), apdu(0x01, 0xa4, 0x04, 0x00, AID.PKI0, 256));
  s.step("GET PROPERTIES on both", getProps(0x01, 0x20, 0x80), getProps(0x01, 0x20, 0x81));
  s.step("SIGN on ch1", apduExt(0x81, 0x42, 0x00, 0x00, hex(SIGN_BLOCK), 0));

  s.section("shared GET RESPONSE buffer");
  s.step("SELECT ACA case 3 on ch1 -> 610D; GET RESPONSE CLA 00", apdu(0x01, 0xa4, 0x04, 0x00, AID.ACA), getResponse());
  s.step("GET PROPERTIES case 1 on ch1 (ACA) -> 6107; GET RESPONSE CLA 01", getProps(0x01, undefined, 0x81), "01 C0 00 00 00");
  s.step("GET ACR on ch1 (ACA) P1=10 -> 6100; GET RESPONSE ch0; GET RESPONSE ch1",
    "81 4C 10 00 00", getResponse(), "01 C0 00 00 00");
  s.step("GET ACR on ch0 (PKI0) -> 6D00", getAcr(0x00));

  s.section("VERIFY and GET RESPONSE on channel 1 with nothing selected there");
  s.step("power cycle", "!reset");
  s.step("VERIFY status CLA 01", "01 20 00 00 00");
  s.step("GET RESPONSE CLA 01 -> 6A88", "01 C0 00 00 00");
  s.step("unknown INS CLA 01 -> 6900", "01 FF 00 00 00");

  s.section("power cycle clears both channels");
  s.step("SELECT CCC ch0, ACA ch1", select(AID.CCC), apdu(0x01, 0xa4, 0x04, 0x00, AID.ACA, 256));
  s.step("power cycle", "!reset");
  s.step("GET PROPERTIES ch0 -> 6900", getProps(0x01, 0x17, 0x80));
  s.step("GET PROPERTIES ch1 -> 6900", getProps(0x01, 0x07, 0x81));
  all(s);
}

// ================================================================ reset.in

{
  const s = new Script("reset", {
    about: `Power cycle (!reset = vreader_power_off + vreader_power_on): the ATR is unchanged,
selections on all channels are cleared, the pending GET RESPONSE data is dropped. A PKI
sign buffer is not cleared by the reset itself, but reaching the applet again needs a
SELECT, which clears it, so APDUs cannot observe the difference.`,
  });
  s.step("ATR", "!atr");
  s.step("power cycle; ATR unchanged", "!reset", "!atr");
  s.step("two power cycles in a row; ATR", "!reset", "!reset", "!atr");
  s.section("selection cleared");
  s.step("SELECT CCC; GET PROPERTIES", select(AID.CCC), getProps(0x01, 0x17));
  s.step("power cycle; GET PROPERTIES -> 6900", "!reset", getProps(0x01, 0x17));
  s.step("SELECT OID after reset -> 6A81", "00 A4 02 00 02 DB00");
  s.step("SELECT PKI0 on ch1; power cycle; CLA 81 GET PROPERTIES -> 6900",
    apdu(0x01, 0xa4, 0x04, 0x00, AID.PKI0, 256), "!reset", getProps(0x01, 0x20, 0x81));
  s.section("pending response dropped");
  s.step("SELECT CCC case 3 -> 610D; power cycle; GET RESPONSE -> 6A88", selectCase3(AID.CCC), "!reset", getResponse());
  s.step("SELECT ACA; GET ACR P1=10 -> 6100; GET RESPONSE 256; power cycle; GET RESPONSE -> 6A88",
    select(AID.ACA), getAcr(0x10), getResponse(), "!reset", getResponse());
  s.section("sign buffer");
  const part = (from, to) => hex(SIGN_BLOCK.subarray(from, to));
  s.step("SELECT PKI0; 240 bytes P1=80", select(AID.PKI0), apdu(0x80, 0x42, 0x80, 0x00, part(0, 240)));
  s.step("power cycle; final 16 with nothing selected -> 6900", "!reset", apdu(0x80, 0x42, 0x00, 0x00, part(240, 256), 256));
  s.step("SELECT PKI0 (clears the buffer); final 16 -> 6984", select(AID.PKI0), apdu(0x80, 0x42, 0x00, 0x00, part(240, 256), 256));
  s.step("240 bytes to PKI0 (still selected); power cycle; SELECT PKI0 case 3; GET RESPONSE; final 16 -> 6984",
    apdu(0x80, 0x42, 0x80, 0x00, part(0, 240)), "!reset", selectCase3(AID.PKI0), getResponse(),
    apdu(0x80, 0x42, 0x00, 0x00, part(240, 256), 256));
  s.step("full chain after reset works", apdu(0x80, 0x42, 0x80, 0x00, part(0, 240)), apdu(0x80, 0x42, 0x00, 0x00, part(240, 256), 256));
  s.section("passthrough buffers and VERIFY after reset");
  s.step("SELECT 0200; read T length; power cycle; SELECT 0200; read again",
    select(AID["0200"]), readBuffer(0, 1, 2, 2), "!reset", select(AID["0200"]), readBuffer(0, 1, 2, 2));
  s.step("power cycle; VERIFY status (no password DB) -> 9000", "!reset", verifyStatus());
  s.step("power cycle; GP GET DATA 9F7F (serial unchanged)", "!reset", select(AID.GP), "00 CA 9F 7F 00");
  s.step("power cycle; CCC V file first 32 bytes unchanged", "!reset", select(AID.CCC), readBuffer(2, 2, 0x20, 0x20));
  all(s);
}

// ================================================================ certificate-count variants

function certVariant(name, certs, about) {
  const nicks = certs.split(",");
  const present = nicks.filter((n) => n !== "nosuchcert");
  const n = present.length;
  const s = new Script(name, { certs, about });
  s.step("ATR", "!atr");
  s.section("PKI applets");
  for (let i = 0; i < 4; i++) {
    const aid = `A00000007901${h(i)}`;
    s.step(`SELECT PKI${i}${i >= n ? " (absent) -> 6A82" : ` (${present[i]})`}`, select(aid));
    if (i < n) {
      const f = pkiFiles(present[i]);
      s.step(`PKI${i} GET PROPERTIES P1=01 Le=00 then exact`, getProps(0x01, 256), getProps(0x01, 0x20));
      s.step(`PKI${i} T file`, readBuffer(0, 1, 2, 2), readBuffer(2, 1, f.t - 2, f.t - 2));
      s.step(`PKI${i} V file, first 32 bytes (identifies the certificate)`, readBuffer(0, 2, 2, 2), readBuffer(2, 2, 0x20, 0x20));
      s.step(`PKI${i} SIGN (key of ${present[i]})`, apduExt(0x80, 0x42, 0x00, 0x00, hex(SIGN_BLOCK), 0));
    }
  }
  const ccc = cccFiles(n);
  s.section(`CCC with ${n} PKI CardURL(s): T ${ccc.t} bytes, V ${ccc.v} bytes`);
  s.step("SELECT CCC", select(AID.CCC));
  s.step("GET PROPERTIES P1=01 Le=00, exact", getProps(0x01, 256), getProps(0x01, 0x17));
  s.step("GET PROPERTIES P1=40 exact", getProps(0x40, 0x23));
  s.step("T length; T file", readBuffer(0, 1, 2, 2), readBuffer(2, 1, ccc.t - 2, ccc.t - 2));
  s.step("V length", readBuffer(0, 2, 2, 2));
  for (let off = 2; off < ccc.v; off += 255) {
    const k = Math.min(255, ccc.v - off);
    s.step(`V ${k} bytes at ${h4(off)}`, readBuffer(off, 2, k, k));
  }
  s.section(`ACA with ${n} PKI applet(s)`);
  s.step("SELECT ACA", select(AID.ACA));
  s.step("GET PROPERTIES P1=40", getProps(0x40, 0x55));
  s.step("GET ACR P1=10; GET RESPONSE x2", getAcr(0x10), getResponse(), getResponse());
  s.step("GET ACR P1=50; GET RESPONSE x2", getAcr(0x50), getResponse(), getResponse());
  s.step("GET ACR P1=11 PKI0 / PKI1 / PKI2", getAcr(0x11, AID.PKI0), getAcr(0x11, AID.PKI1), getAcr(0x11, AID.PKI2));
  s.step("GET ACR P1=12 OID 0100 / 0101 / 0102", getAcr(0x12, "0100"), getAcr(0x12, "0101"), getAcr(0x12, "0102"));
  s.step("GET ACR P1=21 service table", getAcr(0x21));
  s.step("GET ACR P1=61 service table", getAcr(0x61));
  s.section("GP CPLC carries SHA-256 of the first certificate");
  s.step("SELECT GP; GET DATA 9F7F", select(AID.GP), "00 CA 9F 7F 00");
  return s;
}

all(certVariant("certs-1", "cert2", `A card with one certificate (cert2 only): PKI0 is cert2, PKI1/PKI2 are absent; the CCC
lists one PKI CardURL and the ACA tables one PKI applet; the GP serial comes from cert2.`));
all(certVariant("certs-2", "cert1,cert2", `A card with two certificates (cert1, cert2): the CCC and ACA tables with n=2.`));
all(certVariant("certs-order", "cert3,cert1", `Certificate order follows the nickname list: PKI0 = cert3, PKI1 = cert1.`));
all(certVariant("certs-missing", "cert1,nosuchcert,cert3", `A nickname that is not in the DB is skipped silently and later certificates move down:
PKI0 = cert1, PKI1 = cert3, PKI2 absent.`));

// ---------------------------------------------------------------- write

let total = 0;
for (const s of scripts) {
  const n = s.write();
  total += n;
  console.log(`${s.name}.in: ${n} exchanges`);
}
console.log(`total: ${total} exchanges in ${scripts.length} scripts`);
