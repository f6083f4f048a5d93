// One side of bench/before-after/run.sh: loads the card of the build in
// $CACARD_DIST (a dist/ directory, old layout or new), runs one operation for
// a fixed time and prints operations per second. Old builds answer
// synchronously (transmit returns bytes); new ones through answer() or,
// lacking it, an awaited transmit().
import { join } from "node:path";
import { existsSync } from "node:fs";

const [dist, db, op, seconds] = [process.env.CACARD_DIST, process.argv[2], process.argv[3], Number(process.argv[4] ?? 1.5)];
const newLayout = existsSync(join(dist, "src/index.js"));
const lib = newLayout
  ? await import(join(dist, "src/index.js"))
  : { ...(await import(join(dist, "src/cac/cac-card.js"))), ...(await import(join(dist, "src/keystore/index.js"))) };
const card = lib.createCacCard(await lib.openKeyStore({ db, nicknames: ["cert1", "cert2", "cert3"] }), { libcacardStrict: true });
const send = (apdu) => (card.answer ? card.answer(apdu) : card.transmit(apdu));
const hex = (s) => Uint8Array.from(Buffer.from(s, "hex"));
const SELECT = hex("00A4040007A0000000790100");
await card.powerOn();
await send(SELECT);
// EMSA-PKCS1-v1_5-shaped 256-byte operand below any 2048-bit modulus, sent in two chained pieces.
const block = Buffer.alloc(256, 0xff);
block[0] = 0x00;
block[1] = 0x01;
block[200] = 0x00;
const apdus =
  op === "select"
    ? [SELECT]
    : [hex("80428000" + "80" + block.subarray(0, 128).toString("hex")), hex("80420000" + "80" + block.subarray(128).toString("hex")), hex("00C0000000")];
const batch = op === "select" ? 4096 : 1;
let n = 0;
const start = performance.now();
while (performance.now() - start < seconds * 1000) {
  let last;
  for (let b = 0; b < batch; b++) for (const a of apdus) last = send(a);
  const r = await last;
  if (r[r.length - 2] !== 0x90 && r[r.length - 2] !== 0x61) throw new Error(`${op} answered ${Buffer.from(r.subarray(-2)).toString("hex")}`);
  n += batch;
}
console.log(Math.round(n / seconds));
