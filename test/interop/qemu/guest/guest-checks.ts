/**
 * What the test guest (init.sh) prints, and the checks every guest end-to-end
 * test makes on it: the card named as a CAC, its PIN, keys and certificates
 * listed, and a signature made in the guest that verifies on the host
 * against certs-sample/pem/cert1.pem. Shared by e2e.test.ts (the emulated
 * card) and test/interop/relay/relay-guest.test.ts (a card relayed from pcscd).
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
 * Asserts the guest saw the sample CAC (ATR `atrHex`) and signed with cert1's
 * key; `transcript` is shown with any failure.
 */
export function expectGuestSignedWithCac(serial: string, atrHex: string, transcript: string): void {
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
  expect(ok("atr").replace(/[^0-9a-f]/gi, "").toLowerCase()).toBe(atrHex.toLowerCase());

  // OpenSC recognises the CAC.
  expect(ok("name")).toMatch(/Common Access Card/);
  const dump = ok("pkcs15-dump");
  expect(count(dump, /^PIN \[/gm), dump).toBe(1);
  expect(count(dump, /^Private RSA Key \[/gm), dump).toBe(3);
  expect(count(dump, /^Public RSA Key \[/gm), dump).toBe(3);
  expect(count(dump, /^X\.509 Certificate \[/gm), dump).toBe(3);
  expect(count(dump, /ModLength\s*:\s*2048/g), dump).toBe(6);
  const slots = ok("pkcs11-slots");
  expect(slots).toMatch(/token label\s*:\s*cert1/);
  expect(slots).toMatch(/token manufacturer\s*:\s*Common Access Card/);
  const objects = ok("pkcs11-objects");
  for (const cn of ["cert1", "cert2", "cert3"]) expect(objects).toContain(`DN: CN=${cn}`);

  // The signature, made in the guest with cert1's key after a PIN login.
  expect(ok("key-id").trim()).toBe("0001");
  ok("sign");
  ok("read-cert");
  const data = fromB64(ok("data-b64"));
  const signature = fromB64(ok("sig-b64"));
  const cert = new X509Certificate(fromB64(ok("cert-b64")));
  expect(data.length).toBeGreaterThan(0);
  expect(signature.length).toBe(256);
  expect(cert.subject).toBe("CN=cert1");
  expect(cert.raw.equals(new X509Certificate(readFileSync(CERT1_PEM)).raw), "card's cert1 = certs-sample/pem/cert1.pem").toBe(true);
  expect(verify("sha256", data, cert.publicKey, signature), "RSA PKCS#1 v1.5 SHA-256 signature").toBe(true);
  expect(ok("openssl-verify")).toMatch(/Verified OK/);

  const done = /==CACARD-DONE failed=(\d+) uptime=([\d.]+)==/.exec(serial);
  expect(done?.[1], transcript).toBe("0");
  expect(serial).not.toContain("==CACARD-WATCHDOG");
}
