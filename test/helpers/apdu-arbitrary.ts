/** fast-check generators of APDUs that reach deep into the card: known CLA/INS/P1/P2 values, real AIDs. */
import fc from "fast-check";

/** Whole commands worth hitting often: logins with the sample password, a wrong one, status. */
const FIXED = ["00200000083132333435363738", "00200000083131313131313131", "0020000000", "00C0000000"].map(
  (h) => Uint8Array.from(Buffer.from(h, "hex")),
);

const AIDS = [
  "A0000000790100", "A0000000790101", "A0000000790102", "A0000000790300", "A000000116DB00", "A0000000030000",
  "A0000003974349445F0100", "A00000007902FB", "A0000001163000", "A0000000790200", "A00000007902F0",
].map((h) => Uint8Array.from(Buffer.from(h, "hex")));

/** SW1 values this card may answer with, and the full SWs for the error class. */
const KNOWN_SW = new Set([
  0x9000, 0x6700, 0x6882, 0x6900, 0x6983, 0x6984, 0x6985, 0x6a00, 0x6a80, 0x6a81, 0x6a82, 0x6a86, 0x6a88, 0x6d00,
  0x6f00, 0x6500, 0x6581,
]);
export function plausibleSw(sw: number): boolean {
  const sw1 = sw >> 8;
  return KNOWN_SW.has(sw) || sw1 === 0x61 || sw1 === 0x6c || (sw & 0xfff0) === 0x63c0;
}

const cla = fc.constantFrom(0x00, 0x80, 0x01, 0x81, 0x02, 0x0c, 0x10, 0xb0, 0xe0, 0xff);
const ins = fc.oneof(fc.constantFrom(0xa4, 0xc0, 0x20, 0x42, 0x4c, 0x52, 0x56, 0x58, 0x84, 0xca, 0x70), fc.integer({ min: 0, max: 255 }));
const param = fc.oneof(fc.constantFrom(0x00, 0x01, 0x02, 0x04, 0x10, 0x11, 0x12, 0x20, 0x21, 0x40, 0x50, 0x60, 0x61, 0x80, 0x9f, 0x7f, 0x66), fc.integer({ min: 0, max: 255 }));
const body = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc.constantFrom(...AIDS),
  fc.uint8Array({ minLength: 1, maxLength: 8 }),
  fc.uint8Array({ minLength: 200, maxLength: 300 }),
);
const le = fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined });

/** A well-formed short or extended APDU, or occasionally a mangled one. */
const structured = fc.tuple(cla, ins, param, param, body, le, fc.boolean()).map(([c, i, p1, p2, data, l, ext]) => {
  const head = [c, i, p1, p2];
  if (ext && (data.length > 0 || l !== undefined)) {
    const lc = data.length > 0 ? [0x00, data.length >> 8, data.length & 0xff] : [0x00];
    const tail = l === undefined ? [] : data.length > 0 ? [0x00, l] : [0x00, l];
    return Uint8Array.from([...head, ...lc, ...data, ...tail]);
  }
  if (data.length > 255) data = data.subarray(0, 255);
  const lc = data.length > 0 ? [data.length] : [];
  return Uint8Array.from([...head, ...lc, ...data, ...(l === undefined ? [] : [l])]);
});
export const apduArb = fc.oneof(
  { weight: 6, arbitrary: structured },
  { weight: 1, arbitrary: fc.constantFrom(...FIXED) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  { weight: 1, arbitrary: structured.map((a) => a.subarray(0, Math.max(0, a.length - 1))) },
);

