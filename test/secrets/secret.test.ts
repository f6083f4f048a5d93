import { describe, expect, it } from "vitest";
import { createCipheriv, randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import {
  SecretError,
  SecretStore,
  parseSecretObject,
  qemuBase64Decode,
  splitQemuOpts,
} from "../../src/secrets/secret.js";

const dir = mkdtempSync(join(tmpdir(), "cacard-secrets-"));
function file(name: string, content: string | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}
const b64 = (b: Uint8Array | string) => Buffer.from(b).toString("base64");
const text = (b: Uint8Array) => Buffer.from(b).toString("utf8");

function encrypt(key: Uint8Array, iv: Uint8Array, plain: Uint8Array | string, autoPadding = true): Buffer {
  const c = createCipheriv("aes-256-cbc", key, iv);
  c.setAutoPadding(autoPadding);
  return Buffer.concat([c.update(Buffer.from(plain)), c.final()]);
}

function expectError(fn: () => unknown, code: string, message?: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SecretError);
  expect((err as SecretError).code).toBe(code);
  if (message) expect((err as Error).message).toMatch(message);
}

describe("--object secret parsing", () => {
  it("splits QemuOpts with ,, as a literal comma", () => {
    expect(splitQemuOpts("secret,id=a,data=x,,y,format=raw")).toEqual([
      ["secret", null],
      ["id", "a"],
      ["data", "x,y"],
      ["format", "raw"],
    ]);
  });

  it("parses the usual forms", () => {
    expect(parseSecretObject("secret,id=pw,file=/run/pw")).toEqual({ id: "pw", file: "/run/pw", format: "raw" });
    expect(parseSecretObject("secret,id=k,data=QUJD,format=base64")).toEqual({ id: "k", data: "QUJD", format: "base64" });
    expect(parseSecretObject("qom-type=secret,id=s,data=x,keyid=k,iv=AAAA")).toMatchObject({ keyid: "k", iv: "AAAA" });
  });

  it.each([
    ["secret,id=a,file=f,data=d", "SECRET_SOURCE", /either file= or data=|not both/],
    ["secret,id=a", "SECRET_SOURCE", /one of file= or data=/],
    ["secret,data=x", "SECRET_SYNTAX", /'id' is required/],
    ["tls-creds-x509,id=a,dir=/x", "SECRET_SYNTAX", /only 'secret'/],
    ["secret,id=a,data=x,format=hex", "SECRET_SYNTAX", /format must be raw or base64/],
    ["secret,id=a,data=x,colour=red", "SECRET_SYNTAX", /no property 'colour'/],
    ["secret,id=a,data=x,data=y", "SECRET_SYNTAX", /twice/],
    ["secret,id=9a,data=x", "SECRET_SYNTAX", /not a valid id/],
    ["secret,id=a,bogus", "SECRET_SYNTAX", /key=value/],
  ])("rejects %s", (spec, code, message) => {
    expectError(() => parseSecretObject(spec), code, message);
  });
});

describe("QEMU base64 rules", () => {
  it("accepts the alphabet, = and newlines only", () => {
    expect(text(qemuBase64Decode("czNjcmV0"))).toBe("s3cret");
    expect(text(qemuBase64Decode("czNj\ncmV0\n"))).toBe("s3cret");
    expectError(() => qemuBase64Decode("czNj cmV0"), "SECRET_BASE64", /not base64/);
    expectError(() => qemuBase64Decode("czNj\r\ncmV0"), "SECRET_BASE64");
    expectError(() => qemuBase64Decode("czNj-_"), "SECRET_BASE64");
    expectError(() => qemuBase64Decode(Uint8Array.of(0x41, 0, 0x41, 0x41)), "SECRET_BASE64", /NUL/);
  });

  it("decodes like GLib: padding suppresses bytes, an incomplete group is dropped", () => {
    expect(text(qemuBase64Decode("YQ=="))).toBe("a");
    expect(text(qemuBase64Decode("YWI="))).toBe("ab");
    expect(qemuBase64Decode("YQ").length).toBe(0); // GLib drops the partial group; Node would give "a"
    expect(text(qemuBase64Decode("YWJj" + "YQ"))).toBe("abc");
  });

  it("agrees with Node on well-formed base64 (fuzz)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        expect(Buffer.from(qemuBase64Decode(b64(bytes)))).toEqual(Buffer.from(bytes));
      }),
    );
  });
});

describe("SecretStore", () => {
  it("data= gives the bytes and warns about the process list", () => {
    const s = SecretStore.fromObjects(["secret,id=pw,data=s3cret"]);
    expect(text(s.lookup("pw"))).toBe("s3cret");
    expect(s.warnings.map((w) => w.message).join()).toMatch(/process list/);
  });

  it("file= keeps every byte, a final newline included, and warns about it", () => {
    const p = file("nl", "s3cret\n");
    const s = SecretStore.fromObjects([`secret,id=pw,file=${p}`]);
    expect(text(s.lookup("pw"))).toBe("s3cret\n");
    expect(s.warnings).toHaveLength(1);
    expect(s.warnings[0].message).toMatch(/ends with a newline.*kept/);
    const q = file("plain", "s3cret");
    const t = SecretStore.fromObjects([`secret,id=pw,file=${q}`]);
    expect(t.warnings).toHaveLength(0);
  });

  it("format=base64 decodes, and a trailing newline in a base64 file is harmless", () => {
    const p = file("b64", b64("s3cret") + "\n");
    const s = SecretStore.fromObjects([`secret,id=pw,file=${p},format=base64`]);
    expect(text(s.lookup("pw"))).toBe("s3cret");
    expect(s.warnings).toHaveLength(0);
    expectError(() => SecretStore.fromObjects(["secret,id=x,data=not base64,format=base64"]), "SECRET_BASE64");
  });

  it("names the file it cannot read", () => {
    expectError(
      () => SecretStore.fromObjects([`secret,id=pw,file=${join(dir, "missing")}`]),
      "SECRET_SOURCE",
      /cannot read .*missing: no such file/,
    );
  });

  it("rejects duplicate ids and unknown lookups", () => {
    expectError(() => SecretStore.fromObjects(["secret,id=a,data=x", "secret,id=a,data=y"]), "SECRET_DUPLICATE");
    expectError(() => new SecretStore().lookup("nope"), "SECRET_NOT_FOUND", /no secret with id 'nope'/);
  });

  it("lookupUtf8 needs valid UTF-8 over the whole value", () => {
    const p = file("bin", Uint8Array.of(0x73, 0xff, 0x00));
    const s = SecretStore.fromObjects([`secret,id=b,file=${p}`, "secret,id=t,data=grüß"]);
    expect(s.lookupUtf8("t")).toBe("grüß");
    expectError(() => s.lookupUtf8("b"), "SECRET_NOT_UTF8");
  });

  describe("AES-256-CBC (keyid + iv)", () => {
    const key = randomBytes(32);
    const iv = randomBytes(16);
    const master = `secret,id=master,data=${b64(key)},format=base64`;

    it("decrypts base64 ciphertext from data= (QEMU's documented recipe)", () => {
      const ct = encrypt(key, iv, "s3cret");
      const s = SecretStore.fromObjects([master, `secret,id=pw,data=${b64(ct)},keyid=master,iv=${b64(iv)},format=base64`]);
      expect(text(s.lookup("pw"))).toBe("s3cret");
      // encrypted data= is fine on the command line: only the master key's data= warns
      expect(s.warnings.map((w) => w.id)).toEqual(["master"]);
    });

    it("decrypts raw ciphertext from a file; the plaintext is not base64-decoded again", () => {
      const plain = b64("looks like base64");
      const p = file("ct", encrypt(key, iv, plain));
      const s = SecretStore.fromObjects([master, `secret,id=pw,file=${p},keyid=master,iv=${b64(iv)}`]);
      expect(text(s.lookup("pw"))).toBe(plain);
    });

    it("applies QEMU's lax padding check: last byte only, 0 allowed, pad bytes not compared", () => {
      const forged = Buffer.from("abcdefghijk\x01\x02\x03\x04\x05"); // last byte 5, others not 05
      const p1 = file("forged", encrypt(key, iv, forged, false));
      const s1 = SecretStore.fromObjects([master, `secret,id=pw,file=${p1},keyid=master,iv=${b64(iv)}`]);
      expect(text(s1.lookup("pw"))).toBe("abcdefghijk");
      const zero = Buffer.from("0123456789abcde\x00");
      const p2 = file("zero", encrypt(key, iv, zero, false));
      const s2 = SecretStore.fromObjects([master, `secret,id=pw,file=${p2},keyid=master,iv=${b64(iv)}`]);
      expect(Buffer.from(s2.lookup("pw"))).toEqual(zero);
      const bad = Buffer.from("0123456789abcde\x11"); // 17 > 16
      const p3 = file("bad", encrypt(key, iv, bad, false));
      expectError(
        () => SecretStore.fromObjects([master, `secret,id=pw,file=${p3},keyid=master,iv=${b64(iv)}`]),
        "SECRET_DECRYPT",
        /padding count \(17\)/,
      );
    });

    it("explains key, iv and ciphertext problems", () => {
      const ct = b64(encrypt(key, iv, "s3cret"));
      const short = `secret,id=short,data=${b64(randomBytes(16))},format=base64`;
      expectError(
        () => SecretStore.fromObjects([short, `secret,id=pw,data=${ct},keyid=short,iv=${b64(iv)},format=base64`]),
        "SECRET_DECRYPT",
        /16 bytes; AES-256 needs exactly 32/,
      );
      expectError(
        () => SecretStore.fromObjects([master, `secret,id=pw,data=${ct},keyid=master,format=base64`]),
        "SECRET_DECRYPT",
        /iv= is required/,
      );
      expectError(
        () => SecretStore.fromObjects([master, `secret,id=pw,data=${ct},keyid=master,iv=${b64(randomBytes(8))},format=base64`]),
        "SECRET_DECRYPT",
        /iv is 8 bytes/,
      );
      expectError(
        () => SecretStore.fromObjects([`secret,id=pw,data=${ct},keyid=master,iv=${b64(iv)},format=base64`, master]),
        "SECRET_NOT_FOUND",
        /defined before it/,
      );
      expectError(
        () => SecretStore.fromObjects([master, `secret,id=pw,data=${b64("short")},keyid=master,iv=${b64(iv)},format=base64`]),
        "SECRET_DECRYPT",
        /whole number of 16-byte blocks/,
      );
      expectError(() => SecretStore.fromObjects([`secret,id=pw,data=x,iv=${b64(iv)}`]), "SECRET_DECRYPT", /only meaningful with keyid/);
    });

    it("a wrong key gives garbage or a padding error, never the secret", () => {
      const ct = encrypt(randomBytes(32), iv, "s3cret");
      try {
        const s = SecretStore.fromObjects([master, `secret,id=pw,data=${b64(ct)},keyid=master,iv=${b64(iv)},format=base64`]);
        expect(text(s.lookup("pw"))).not.toBe("s3cret");
      } catch (e) {
        expect((e as SecretError).code).toBe("SECRET_DECRYPT");
      }
    });
  });

  it("clear() wipes values", () => {
    const s = SecretStore.fromObjects(["secret,id=a,data=x"]);
    s.clear();
    expect(s.has("a")).toBe(false);
  });
});
