import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  ErrorCode,
  HEADER_LENGTH,
  MAX_FRAME_LENGTH,
  MAX_PAYLOAD_LENGTH,
  MsgType,
  UNDEFINED_READER_ID,
  VSCARD_MAGIC,
  VscFramer,
  VscProtocolError,
  checkInit,
  decodeMessage,
  encodeFrame,
  encodeMessage,
  initMessage,
  type VscMessage,
} from "../../../src/backends/vscard/codec.js";
import { fromHex, toHex } from "../../../src/core/bytes.js";

const hex = (s: string) => fromHex(s);

/** Wire bytes observed between vscclient-like probes and QEMU 7.2 (layout: libcacard vscard_common.h). */
const OBSERVED: Array<[string, VscMessage]> = [
  ["00000001 00000000 0000000c 56534344 00000002 00000000", initMessage(0)],
  [
    "00000001 ffffffff 0000000c 56534344 00000002 00000000",
    { type: MsgType.Init, readerId: UNDEFINED_READER_ID, magic: VSCARD_MAGIC, version: 2, capabilities: [0] },
  ],
  ["00000004 00000000 00000000", { type: MsgType.ReaderRemove, readerId: 0 }],
  ["00000002 00000000 00000004 00000000", { type: MsgType.Error, readerId: 0, code: ErrorCode.Success }],
  ["00000003 ffffffff 00000000", { type: MsgType.ReaderAdd, readerId: UNDEFINED_READER_ID, name: "" }],
  [
    "00000005 00000000 0000000f 3b7a18000073667465206364313434",
    { type: MsgType.ATR, readerId: 0, atr: hex("3b7a18000073667465206364313434") },
  ],
  ["00000007 00000000 00000002 9000", { type: MsgType.APDU, readerId: 0, apdu: hex("9000") }],
  ["00000002 00000007 00000004 00000001", { type: MsgType.Error, readerId: 7, code: ErrorCode.GeneralError }],
  ["00000006 00000000 00000000", { type: MsgType.CardRemove, readerId: 0 }],
  ["00000008 00000000 00000000", { type: MsgType.Flush, readerId: 0 }],
  ["00000009 00000003 00000000", { type: MsgType.FlushComplete, readerId: 3 }],
];

function decodeAll(bytes: Uint8Array): VscMessage[] {
  return new VscFramer().push(bytes);
}

const arbMessage: fc.Arbitrary<VscMessage> = fc.oneof(
  fc.record({
    type: fc.constant(MsgType.Init),
    readerId: fc.nat({ max: 0xffffffff }),
    magic: fc.constant(VSCARD_MAGIC),
    version: fc.nat({ max: 0xffffffff }),
    capabilities: fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 4 }),
  }),
  fc.record({ type: fc.constant(MsgType.Error), readerId: fc.nat({ max: 0xffffffff }), code: fc.nat({ max: 0xffffffff }) }),
  fc.record({ type: fc.constant(MsgType.ReaderAdd), readerId: fc.nat({ max: 0xffffffff }), name: fc.string({ maxLength: 20 }) }),
  fc.record({ type: fc.constant(MsgType.ATR), readerId: fc.nat({ max: 0xffffffff }), atr: fc.uint8Array({ maxLength: 40 }) }),
  fc.record({ type: fc.constant(MsgType.APDU), readerId: fc.nat({ max: 0xffffffff }), apdu: fc.uint8Array({ maxLength: 300 }) }),
  fc.record({
    type: fc.constantFrom(MsgType.ReaderRemove, MsgType.CardRemove, MsgType.Flush, MsgType.FlushComplete),
    readerId: fc.nat({ max: 0xffffffff }),
  }) as fc.Arbitrary<VscMessage>,
  fc.record({
    type: fc.constant("unknown" as const),
    rawType: fc.integer({ min: 10, max: 0xffffffff }),
    readerId: fc.nat({ max: 0xffffffff }),
    payload: fc.uint8Array({ maxLength: 16 }),
  }),
);

describe("VSCard codec", () => {
  it.each(OBSERVED)("encodes and decodes %s", (wire, msg) => {
    expect(toHex(encodeMessage(msg)).toLowerCase()).toBe(wire.replace(/ /g, ""));
    expect(decodeAll(hex(wire))).toEqual([msg]);
  });

  it("writes the magic as raw ASCII and every number big-endian", () => {
    const bytes = encodeMessage({ ...initMessage(0x01020304), capabilities: [0x0a0b0c0d, 1] } as VscMessage);
    expect(toHex(bytes)).toBe("00000001" + "01020304" + "00000010" + "56534344" + "00000002" + "0A0B0C0D" + "00000001");
  });

  it("takes the capability count from the length", () => {
    const [msg] = decodeAll(hex("00000001 ffffffff 00000014 56534344 00000002 00000000 00000007 00000009"));
    expect(msg).toMatchObject({ type: MsgType.Init, capabilities: [0, 7, 9] });
    const [none] = decodeAll(hex("00000001 ffffffff 00000008 56534344 00000002"));
    expect(none).toMatchObject({ type: MsgType.Init, capabilities: [] });
  });

  it("reports a short Init or Error payload as a typed protocol error", () => {
    expect(() => decodeMessage(MsgType.Init, 0, hex("565343"))).toThrow(VscProtocolError);
    expect(() => decodeMessage(MsgType.Error, 0, hex("0000"))).toThrow(expect.objectContaining({ code: "VSC_BAD_PAYLOAD" }));
  });

  it("checkInit rejects a wrong magic", () => {
    const msg = decodeMessage(MsgType.Init, 0, hex("44435356 00000002 00000000"));
    expect(() => checkInit(msg as never)).toThrow(expect.objectContaining({ code: "VSC_BAD_MAGIC" }));
  });

  it("keeps unknown types so they can be skipped", () => {
    expect(decodeAll(hex("00000042 00000000 00000001 ff"))).toEqual([
      { type: "unknown", rawType: 0x42, readerId: 0, payload: hex("ff") },
    ]);
  });

  it("refuses to encode a frame QEMU would stall on", () => {
    expect(encodeFrame(MsgType.APDU, 0, new Uint8Array(MAX_PAYLOAD_LENGTH)).length).toBe(MAX_FRAME_LENGTH);
    expect(() => encodeFrame(MsgType.APDU, 0, new Uint8Array(MAX_PAYLOAD_LENGTH + 1))).toThrow(
      expect.objectContaining({ code: "VSC_FRAME_TOO_LARGE" }),
    );
  });

  it("decodes every observed frame split at every byte", () => {
    const stream = Uint8Array.from(OBSERVED.flatMap(([w]) => [...hex(w)]));
    const expected = OBSERVED.map(([, m]) => m);
    for (let i = 0; i <= stream.length; i++) {
      const framer = new VscFramer();
      const got = [...framer.push(stream.subarray(0, i)), ...framer.push(stream.subarray(i))];
      expect(got).toEqual(expected);
      expect(framer.buffered).toBe(0);
    }
    // and one byte at a time
    const framer = new VscFramer();
    const got: VscMessage[] = [];
    for (const b of stream) got.push(...framer.push(Uint8Array.of(b)));
    expect(got).toEqual(expected);
  });

  it("accepts the largest frame and rejects one byte more before the payload arrives", () => {
    const ok = encodeFrame(MsgType.APDU, 0, new Uint8Array(MAX_PAYLOAD_LENGTH).fill(7));
    expect(decodeAll(ok)).toHaveLength(1);
    const lying = hex("00000007 00000000 0000fff5"); // 65525 + 12 = 65537
    const framer = new VscFramer();
    expect(() => framer.push(lying)).toThrow(expect.objectContaining({ code: "VSC_FRAME_TOO_LARGE" }));
    expect(() => framer.push(new Uint8Array(1))).toThrow(expect.objectContaining({ code: "VSC_CLOSED" }));
  });

  it("rejects a 4 GiB length at once instead of buffering", () => {
    const framer = new VscFramer();
    expect(() => framer.push(hex("00000007 00000000 ffffffff 00"))).toThrow(VscProtocolError);
    expect(framer.buffered).toBe(0);
  });

  it("a smaller limit applies to incoming frames", () => {
    const framer = new VscFramer(16);
    expect(framer.push(hex("00000007 00000000 00000004 01020304"))).toHaveLength(1);
    expect(() => framer.push(hex("00000007 00000000 00000005"))).toThrow(VscProtocolError);
  });

  it("decodes socket-like Buffer chunks in place; APDUs come out as plain Uint8Array views", () => {
    const frames = [
      encodeFrame(MsgType.APDU, 1, hex("00a4040007a000000079010000")),
      encodeFrame(MsgType.APDU, 2, hex("0020000008313233343536373800")),
      encodeFrame(MsgType.Flush, 3),
    ];
    const bytes = Uint8Array.from(frames.flatMap((f) => [...f]));
    // A Buffer from the shared pool: its bytes do not start at offset 0 of its ArrayBuffer.
    const pooled = Buffer.from(bytes);
    const framer = new VscFramer();
    const [a, b, c] = framer.push(pooled);
    expect(a).toEqual({ type: MsgType.APDU, readerId: 1, apdu: hex("00a4040007a000000079010000") });
    expect(b).toEqual({ type: MsgType.APDU, readerId: 2, apdu: hex("0020000008313233343536373800") });
    expect(c).toEqual({ type: MsgType.Flush, readerId: 3 });
    const apdu = (a as { apdu: Uint8Array }).apdu;
    // Not a Buffer: Buffer#slice would be a view, and callers (redactPins) rely on slice() copying.
    expect(Buffer.isBuffer(apdu)).toBe(false);
    expect(apdu.slice().buffer).not.toBe(apdu.buffer);
    expect(apdu.buffer).toBe(pooled.buffer); // no copy
    expect(framer.buffered).toBe(0);
  });

  it("keeps the rest of a frame across Buffer chunks and joins only once it is all there", () => {
    const payload = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff);
    const frame = encodeFrame(MsgType.APDU, 9, payload);
    const stream = Buffer.concat([frame, encodeFrame(MsgType.Flush, 1), frame.subarray(0, 5)]);
    const framer = new VscFramer();
    const got: VscMessage[] = [];
    for (let off = 0; off < stream.length; off += 100) {
      got.push(...framer.push(stream.subarray(off, off + 100)));
      if (got.length === 0) expect(framer.buffered).toBe(Math.min(off + 100, stream.length));
    }
    expect(got).toEqual([
      { type: MsgType.APDU, readerId: 9, apdu: payload },
      { type: MsgType.Flush, readerId: 1 },
    ]);
    expect(framer.buffered).toBe(5);
    expect(framer.push(frame.subarray(5))).toEqual([{ type: MsgType.APDU, readerId: 9, apdu: payload }]);
    expect(framer.buffered).toBe(0);
  });

  it("decodeMessage copies: its messages never alias the payload", () => {
    const payload = hex("3b7a18000073667465206364313434");
    const apdu = decodeMessage(MsgType.APDU, 0, payload) as { apdu: Uint8Array };
    const atr = decodeMessage(MsgType.ATR, 0, payload) as { atr: Uint8Array };
    payload.fill(0);
    expect(toHex(apdu.apdu)).toBe("3B7A18000073667465206364313434");
    expect(toHex(atr.atr)).toBe("3B7A18000073667465206364313434");
  });

  it("rejects type and reader ids that are not u32, like before", () => {
    for (const bad of [-1, 2 ** 32, 1.5, Number.NaN]) {
      expect(() => encodeFrame(bad, 0)).toThrow(RangeError);
      expect(() => encodeFrame(MsgType.APDU, bad)).toThrow(RangeError);
      expect(() => encodeMessage({ type: MsgType.Error, readerId: 0, code: bad })).toThrow(RangeError);
    }
    expect(toHex(encodeFrame(0xffffffff, 0xfffffffe, hex("01")))).toBe("FFFFFFFF" + "FFFFFFFE" + "00000001" + "01");
  });

  it("round-trips any message, split anywhere (fuzz)", () => {
    fc.assert(
      fc.property(fc.array(arbMessage, { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }), (msgs, cuts) => {
        const stream = Uint8Array.from(msgs.flatMap((m) => [...encodeMessage(m)]));
        const points = [...new Set(cuts.map((c) => (stream.length ? c % stream.length : 0)))].sort((a, b) => a - b);
        const framer = new VscFramer();
        const got: VscMessage[] = [];
        let prev = 0;
        for (const p of [...points, stream.length]) {
          got.push(...framer.push(stream.subarray(prev, p)));
          prev = p;
        }
        const norm = (m: VscMessage) =>
          m.type === MsgType.ReaderAdd ? { ...m, name: new TextDecoder().decode(new TextEncoder().encode(m.name)) } : m;
        expect(got).toEqual(msgs.map(norm));
      }),
      { numRuns: 300 },
    );
  });

  it("never throws anything but VscProtocolError on random input (fuzz)", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }), (chunks) => {
        const framer = new VscFramer(1024);
        for (const c of chunks) {
          try {
            framer.push(c);
          } catch (e) {
            expect(e).toBeInstanceOf(VscProtocolError);
            return;
          }
        }
        expect(framer.buffered).toBeLessThan(1024 + HEADER_LENGTH);
      }),
      { numRuns: 1000 },
    );
  });
});
