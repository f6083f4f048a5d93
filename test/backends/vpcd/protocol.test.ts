import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  FrameDecoder,
  LENGTH_PREFIX_BYTES,
  MAX_FRAME_PAYLOAD,
  MAX_PENDING_INPUT,
  VpcdControl,
  VpcdProtocolError,
  classifyPayload,
  controlName,
  encodeFrame,
} from "../../../src/backends/vpcd/protocol.js";

const bytes = (...b: number[]) => Uint8Array.from(b);
const hex = (u: Uint8Array) => Buffer.from(u).toString("hex");

/** A stream of three frames: GET ATR, an APDU, power off. */
function sampleStream(): { stream: Buffer; payloads: Uint8Array[] } {
  const payloads = [bytes(0x04), bytes(0x00, 0xa4, 0x04, 0x00, 0x07, 0xa0, 0, 0, 1, 0x16, 0xdb, 0), bytes(0x00)];
  return { stream: Buffer.concat(payloads.map((p) => encodeFrame(p))), payloads };
}

describe("encodeFrame", () => {
  it("prefixes a big-endian length in the same buffer", () => {
    expect(hex(encodeFrame(bytes(0x90, 0x00)))).toBe("00029000");
    const big = new Uint8Array(0x1234).fill(7);
    const frame = encodeFrame(big);
    expect(frame.length).toBe(0x1236);
    expect(frame[0]).toBe(0x12);
    expect(frame[1]).toBe(0x34);
  });

  it("accepts the largest payload and refuses one byte more", () => {
    expect(encodeFrame(new Uint8Array(MAX_FRAME_PAYLOAD)).length).toBe(MAX_FRAME_PAYLOAD + 2);
    expect(() => encodeFrame(new Uint8Array(MAX_FRAME_PAYLOAD + 1))).toThrow(VpcdProtocolError);
  });

  it("never builds a zero-length frame", () => {
    try {
      encodeFrame(new Uint8Array(0));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(VpcdProtocolError);
      expect((e as VpcdProtocolError).code).toBe("VPCD_EMPTY_FRAME");
    }
  });
});

describe("classifyPayload / controlName", () => {
  it("treats every 1-byte payload as control, anything longer as an APDU", () => {
    expect(classifyPayload(bytes(4))).toEqual({ kind: "control", code: VpcdControl.GET_ATR });
    expect(classifyPayload(bytes(0x00, 0x84))).toEqual({ kind: "apdu", apdu: bytes(0x00, 0x84) });
    expect(controlName(0)).toBe("power-off");
    expect(controlName(1)).toBe("power-on");
    expect(controlName(2)).toBe("reset");
    expect(controlName(4)).toBe("get-atr");
    expect(controlName(3)).toBe("unknown-0x03");
  });
});

describe("FrameDecoder", () => {
  it("reassembles a stream split at every byte position", () => {
    const { stream, payloads } = sampleStream();
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new FrameDecoder();
      const got = [...d.feed(stream.subarray(0, cut)), ...d.feed(stream.subarray(cut))];
      expect(got.map(hex), `cut at ${cut}`).toEqual(payloads.map(hex));
      expect(d.pending).toBe(0);
    }
  });

  it("reassembles a stream split at every pair of positions", () => {
    const { stream, payloads } = sampleStream();
    for (let a = 0; a <= stream.length; a++) {
      for (let b = a; b <= stream.length; b++) {
        const d = new FrameDecoder();
        const got = [
          ...d.feed(stream.subarray(0, a)),
          ...d.feed(stream.subarray(a, b)),
          ...d.feed(stream.subarray(b)),
        ];
        expect(got.map(hex)).toEqual(payloads.map(hex));
      }
    }
  });

  it("reassembles one byte at a time (vpcd 3.3 sends length and payload separately)", () => {
    const { stream, payloads } = sampleStream();
    const d = new FrameDecoder();
    const got: Uint8Array[] = [];
    for (const b of stream) got.push(...d.feed(bytes(b)));
    expect(got.map(hex)).toEqual(payloads.map(hex));
  });

  it("returns coalesced frames one by one and keeps a partial tail", () => {
    const { stream, payloads } = sampleStream();
    const d = new FrameDecoder();
    d.push(Buffer.concat([stream, Buffer.from([0x00, 0x05, 0x00, 0xa4])]));
    expect(hex(d.next()!)).toBe(hex(payloads[0]));
    expect(hex(d.next()!)).toBe(hex(payloads[1]));
    expect(hex(d.next()!)).toBe(hex(payloads[2]));
    expect(d.next()).toBeNull();
    expect(d.pending).toBe(4);
    d.push(bytes(0x04, 0x00, 0x07));
    expect(hex(d.next()!)).toBe("00a4040007");
  });

  it("returns copies, not views of the caller's buffer", () => {
    const chunk = Buffer.from(encodeFrame(bytes(1, 2, 3, 4)));
    const d = new FrameDecoder();
    const [p] = d.feed(chunk);
    chunk.fill(0);
    expect(hex(p)).toBe("01020304");
  });

  it("rejects a zero length as a protocol error and stays failed", () => {
    const d = new FrameDecoder();
    d.push(bytes(0x00));
    expect(d.next()).toBeNull();
    d.push(bytes(0x00, 0x00, 0x01, 0x04));
    expect(() => d.next()).toThrow(/zero-length/);
    expect(() => d.next()).toThrow(VpcdProtocolError);
    expect(() => d.push(bytes(1))).toThrow(VpcdProtocolError);
  });

  it("rejects a zero length that follows good frames, after returning them", () => {
    const d = new FrameDecoder();
    d.push(Buffer.concat([encodeFrame(bytes(4)), Buffer.from([0, 0])]));
    expect(hex(d.next()!)).toBe("04");
    expect(() => d.next()).toThrow(VpcdProtocolError);
  });

  it("handles the maximal frame (0xFFFF bytes)", () => {
    const payload = new Uint8Array(MAX_FRAME_PAYLOAD).map((_, i) => i & 0xff);
    const frame = encodeFrame(payload);
    const d = new FrameDecoder();
    expect(d.feed(frame.subarray(0, 40000))).toEqual([]);
    const [got] = d.feed(frame.subarray(40000));
    expect(got.length).toBe(MAX_FRAME_PAYLOAD);
    expect(Buffer.compare(got, payload)).toBe(0);
  });

  it("refuses to buffer more than its limit", () => {
    const d = new FrameDecoder();
    const frame = encodeFrame(new Uint8Array(MAX_FRAME_PAYLOAD));
    const whole = Math.floor(MAX_PENDING_INPUT / frame.length);
    for (let i = 0; i < whole; i++) d.push(frame);
    try {
      d.push(new Uint8Array(MAX_PENDING_INPUT - d.pending + 1));
      expect.unreachable();
    } catch (e) {
      expect((e as VpcdProtocolError).code).toBe("VPCD_INPUT_OVERFLOW");
    }
    expect(() => new FrameDecoder(100)).toThrow(RangeError);
  });

  it("round-trips random frames under random chunking (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 600 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 30 }),
        (payloads, sizes) => {
          const stream = Buffer.concat(payloads.map((p) => encodeFrame(p)));
          const d = new FrameDecoder();
          const got: Uint8Array[] = [];
          let off = 0;
          let i = 0;
          while (off < stream.length) {
            const n = sizes[i++ % sizes.length];
            got.push(...d.feed(stream.subarray(off, off + n)));
            off += n;
          }
          expect(got.map(hex)).toEqual(payloads.map(hex));
          expect(d.pending).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("never throws anything but VpcdProtocolError on arbitrary input (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), (chunks) => {
        const d = new FrameDecoder();
        try {
          for (const c of chunks) {
            for (const p of d.feed(c)) expect(p.length).toBeGreaterThan(0);
          }
        } catch (e) {
          expect(e).toBeInstanceOf(VpcdProtocolError);
        }
        expect(d.pending).toBeLessThan(LENGTH_PREFIX_BYTES + MAX_FRAME_PAYLOAD);
      }),
      { numRuns: 500 },
    );
  });
});
