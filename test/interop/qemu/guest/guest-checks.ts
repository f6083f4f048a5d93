/**
 * What the test guest (init.sh) prints, and the checks every guest end-to-end
 * test makes on it: the card named by the expected OpenSC driver, its PIN,
 * keys and certificates listed, and a signature made in the guest that
 * verifies on the host against the certificate the card was given. The
 * expectations are data (GuestCard), so one check serves every personality
 * and key store. Shared by e2e.test.ts (emulated cards: CAC, PIV, CAC+PIV,
 * a SoftHSM token) and test/interop/relay/relay-guest.test.ts (a card relayed
 * from pcscd).
 */
import { expect } from "vitest";
import { X509Certificate, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const GUEST_DIR = __dirname;
export const BUILD_SCRIPT = join(GUEST_DIR, "build-initramfs.sh");
export const CERT1_PEM = resolve(GUEST_DIR, "../../../../certs-sample/pem/cert1.pem");

export interface Section {
  rc: number;
  out: string;
}

/** The ==CACARD-BEGIN name== … ==CACARD-END name rc=N== blocks of the serial log. */
export function parseSections(serial: string): Map<string, Section> {
  const sections = new Map<string, Section>();
  let name: string | null = null;
  let body: string[] = [];
  for (const line of serial.replace(/\r/g, "").split("\n")) {
    const begin = /^==CACARD-BEGIN (\S+)==$/.exec(line);
    const end = /^==CACARD-END (\S+) rc=(\d+)==$/.exec(line);
    if (begin) {
      name = begin[1];
      body = [];
    } else if (end && end[1] === name) {
      sections.set(name, { rc: Number(end[2]), out: body.join("\n") });
      name = null;
    } else if (name !== null) {
      body.push(line);
    }
  }
  return sections;
}

const fromB64 = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "base64");
const count = (text: string, re: RegExp) => (text.match(re) ?? []).length;

/**
 * What one guest run expects of the card it is given: the card `cacard`
 * serves (personality, key store) seen through OpenSC in the guest.
 */
export interface GuestCard {
  /** Short name for test titles and logs, e.g. "piv". */
  readonly name: string;
  /** The card's ATR, hex. */
  readonly atr: string;
  /** The PIN the guest types (kernel parameter cacard.pin). */
  readonly pin: string;
  /** `opensc-tool -n`: the OpenSC driver that took the card. */
  readonly cardName: RegExp;
  /** PIN objects in `pkcs15-tool -D` (OpenSC's PIV driver also lists the PUK). */
  readonly pins: number;
  /** The card's key pairs in the order OpenSC lists them: CN and RSA modulus bits. */
  readonly keys: readonly { readonly cn: string; readonly bits: number }[];
  /** `pkcs11-tool -L`: token label and manufacturer. */
  readonly tokenLabel: RegExp;
  readonly manufacturer: RegExp;
  /** PKCS#15 ID of the first private key, the one the guest signs with. */
  readonly keyId: string;
  /** The first key's certificate as given to cacard (PEM file). */
  readonly certPem: string;
}

/** The sample CAC (certs-sample/nssdb) as libcacard presents it: OpenSC's cac driver. */
export const SAMPLE_CAC: GuestCard = {
  name: "cac",
  atr: "3B7A18000073667465206364313434",
  pin: "12345678",
  cardName: /Common Access Card/,
  pins: 1,
  keys: [1, 2, 3].map((n) => ({ cn: `cert${n}`, bits: 2048 })),
  tokenLabel: /token label\s*:\s*cert1/,
  manufacturer: /token manufacturer\s*:\s*Common Access Card/,
  keyId: "0001",
  certPem: CERT1_PEM,
};

/**
 * Asserts the guest saw `card` and signed with its first key after a PIN
 * login, the signature verifying here against the certificate the card was
 * given; `transcript` is shown with any failure.
 */
export function expectGuestSigned(serial: string, card: GuestCard, transcript: string): void {
  const sections = parseSections(serial);
  const get = (name: string): Section => {
    const s = sections.get(name);
    if (!s) throw new Error(`no '${name}' section in the guest output\n${transcript}`);
    return s;
  };
  const ok = (name: string): string => {
    const s = get(name);
    expect(s.rc, `${name} failed in the guest:\n${s.out}\n${transcript}`).toBe(0);
    return s.out;
  };

  // Reader and card seen by pcscd in the guest.
  ok("modules");
  expect(ok("usb")).toMatch(/CCID/);
  expect(ok("reader")).toMatch(/CCID/);
  expect(ok("atr").replace(/[^0-9a-f]/gi, "").toLowerCase()).toBe(card.atr.toLowerCase());

  // OpenSC recognises the card with the expected driver and lists its objects.
  expect(ok("name")).toMatch(card.cardName);
  const dump = ok("pkcs15-dump");
  const n = card.keys.length;
  expect(count(dump, /^PIN \[/gm), dump).toBe(card.pins);
  expect(count(dump, /^Private RSA Key \[/gm), dump).toBe(n);
  expect(count(dump, /^Public RSA Key \[/gm), dump).toBe(n);
  expect(count(dump, /^X\.509 Certificate \[/gm), dump).toBe(n);
  for (const bits of new Set(card.keys.map((k) => k.bits))) {
    const keys = card.keys.filter((k) => k.bits === bits).length;
    expect(count(dump, new RegExp(`ModLength\\s*:\\s*${bits}\\b`, "g")), dump).toBe(2 * keys);
  }
  const slots = ok("pkcs11-slots");
  expect(slots).toMatch(card.tokenLabel);
  expect(slots).toMatch(card.manufacturer);
  const objects = ok("pkcs11-objects");
  for (const { cn } of card.keys) expect(objects).toContain(`CN=${cn}`);

  // The signature, made in the guest with the first key after a PIN login.
  expect(ok("key-id").trim()).toBe(card.keyId);
  ok("sign");
  ok("read-cert");
  const data = fromB64(ok("data-b64"));
  const signature = fromB64(ok("sig-b64"));
  const cert = new X509Certificate(fromB64(ok("cert-b64")));
  expect(data.length).toBeGreaterThan(0);
  expect(signature.length).toBe(card.keys[0].bits / 8);
  expect(cert.subject).toBe(`CN=${card.keys[0].cn}`);
  expect(cert.raw.equals(new X509Certificate(readFileSync(card.certPem)).raw), `card's first certificate = ${card.certPem}`).toBe(true);
  expect(verify("sha256", data, cert.publicKey, signature), "RSA PKCS#1 v1.5 SHA-256 signature").toBe(true);
  expect(ok("openssl-verify")).toMatch(/Verified OK/);

  const done = /==CACARD-DONE failed=(\d+) uptime=([\d.]+)==/.exec(serial);
  expect(done?.[1], transcript).toBe("0");
  expect(serial).not.toContain("==CACARD-WATCHDOG");
}

/** The sample CAC with ATR `atrHex` (callers that predate GuestCard, e.g. test/web/browser.test.ts). */
export function expectGuestSignedWithCac(serial: string, atrHex: string, transcript: string): void {
  expectGuestSigned(serial, { ...SAMPLE_CAC, atr: atrHex }, transcript);
}
