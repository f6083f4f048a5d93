/**
 * --compress-certificates: the PKI value buffer holds CertInfo 01 and the
 * zlib-compressed DER (RFC 1950), as issued CACs do; the tag buffer and the
 * properties describe the compressed lengths. Without the option the PKI
 * objects are libcacard's (CertInfo 00, plain DER).
 */
import { describe, expect, it } from "vitest";
import { inflateSync } from "node:zlib";
import { memoryStore, sampleCertificate } from "../../helpers/memory-store.js";
import { createCacCard } from "../../../src/core/cac/cac-card.js";
import { createCard } from "../../../src/core/create-card.js";
import { AID } from "../../../src/core/cac/aids.js";
import { CacClient, memberFromBuffers } from "../../../src/client/cac-client.js";
import { CertInfo, CertTag } from "../../../src/core/cac/pki.js";
import { KeyStoreError } from "../../../src/core/token/types.js";
import { toHex } from "../../../src/core/bytes.js";
// What the "cacard" entry does: install fflate as the compressor of compressCertificates: true.
import "../../../src/core/cac/certificate-zlib.js";

const NICKS = ["cert1", "cert2", "cert3"];

async function pkiBuffers(card: ReturnType<typeof createCacCard>, index: number) {
  const client = new CacClient(card);
  await card.powerOn();
  await client.select(AID.pki(index));
  return { client, tags: await client.readBuffer(1), values: await client.readBuffer(2), props: await client.getProperties() };
}

describe("compressed certificates (CertInfo 01)", () => {
  for (const [i, nick] of NICKS.entries()) {
    it(`PKI ${i}: tag 71 = 01, tag 70 inflates (zlib) to ${nick}'s DER, byte for byte`, async () => {
      const { tags, values } = await pkiBuffers(createCacCard(memoryStore(), { compressCertificates: true }), i);
      expect(toHex(memberFromBuffers(tags, values, CertTag.CERT_INFO)!)).toBe("01");
      const stored = memberFromBuffers(tags, values, CertTag.CERTIFICATE)!;
      expect(stored[0]).toBe(0x78); // zlib header: CM 8, 32K window
      const der = sampleCertificate(nick);
      expect(stored.length).toBeLessThan(der.length);
      expect(toHex(inflateSync(stored))).toBe(toHex(der));
    });
  }

  it("the properties' V-file length is the compressed buffer's", async () => {
    const { values, props } = await pkiBuffers(createCacCard(memoryStore(), { compressCertificates: true }), 0);
    // 42 05 00 <T-file length LE> <V-file length LE>; a file length counts its 2-byte prefix.
    const at = props.findIndex((b, k) => b === 0x42 && props[k + 1] === 0x05);
    expect(props[at + 5] | (props[at + 6] << 8)).toBe(values.length + 2);
  });

  it("the host-side client inflates: readCertificate returns the DER either way", async () => {
    for (const compress of [false, true]) {
      const card = createCacCard(memoryStore(), { compressCertificates: compress });
      await card.powerOn();
      const client = new CacClient(card);
      for (const [i, nick] of NICKS.entries()) expect(toHex(await client.readCertificate(i))).toBe(toHex(sampleCertificate(nick)));
    }
  });

  it("the same certificate compresses to the same bytes every time (no time or platform in the stream)", async () => {
    const a = await pkiBuffers(createCacCard(memoryStore(), { compressCertificates: true }), 1);
    const b = await pkiBuffers(createCacCard(memoryStore(), { compressCertificates: true }), 1);
    expect(toHex(a.values)).toBe(toHex(b.values));
  });

  it("default: CertInfo 00 and the plain DER, as libcacard", async () => {
    const { tags, values } = await pkiBuffers(createCacCard(memoryStore()), 0);
    expect(memberFromBuffers(tags, values, CertTag.CERT_INFO)![0]).toBe(CertInfo.UNCOMPRESSED);
    expect(toHex(memberFromBuffers(tags, values, CertTag.CERTIFICATE)!)).toBe(toHex(sampleCertificate("cert1")));
  });

  it("cac+piv compresses the CAC side; piv refuses the option", async () => {
    const dual = createCard(memoryStore(), { personality: "cac+piv", compressCertificates: true });
    const { tags, values } = await pkiBuffers(dual, 0);
    expect(memberFromBuffers(tags, values, CertTag.CERT_INFO)![0]).toBe(CertInfo.ZLIB);
    expect(() => createCard(memoryStore(), { personality: "piv", compressCertificates: true })).toThrow(KeyStoreError);
  });
});
