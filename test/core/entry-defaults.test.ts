/**
 * What the entry points install (src/platform/node.ts, src/core/platform-web.ts,
 * src/core/cac/certificate-zlib.ts) must not be silently assumed: a core
 * module loaded on its own says what is missing, with a stable code.
 */
import { describe, expect, it, vi } from "vitest";

describe("defaults the entry points install", () => {
  it("no platform installed: NO_PLATFORM, naming the entry points", async () => {
    vi.resetModules();
    const { platformProvider } = await import("../../src/core/platform.js");
    expect(() => platformProvider.get()).toThrow(expect.objectContaining({ code: "NO_PLATFORM" }));
    // The web default installs itself only when nothing is set.
    const { webPlatform } = await import("../../src/core/platform-web.js");
    expect(platformProvider.get()).toBe(webPlatform);
    const { nodePlatform } = await import("../../src/platform/node.js");
    expect(platformProvider.get()).toBe(nodePlatform);
    vi.resetModules();
  });

  it("compressCertificates: true without a compressor: NO_CERTIFICATE_COMPRESSOR; a function or the fflate one works", async () => {
    vi.resetModules();
    const { resolveCompressor } = await import("../../src/core/cac/certificate-compression.js");
    expect(resolveCompressor(undefined)).toBeNull();
    expect(resolveCompressor(false)).toBeNull();
    expect(() => resolveCompressor(true)).toThrow(expect.objectContaining({ code: "NO_CERTIFICATE_COMPRESSOR" }));
    const mine = (der: Uint8Array) => der;
    expect(resolveCompressor(mine)).toBe(mine);
    const { fflateCompressor } = await import("../../src/core/cac/certificate-zlib.js");
    expect(resolveCompressor(true)).toBe(fflateCompressor);
    vi.resetModules();
  });
});
