// The guest and a host application on one card, through a real pcscd (relay-share.sh).
//
// Plays QEMU's ccid-card-passthru for `cacard relay` (VSCard on 127.0.0.1:PORT: Init,
// Error(SUCCESS) for ReaderAdd, ReaderRemove, CardRemove and ATR, then one APDU at a
// time, as QEMU does) and is, in
// the same process, a host PC/SC application on the relayed reader that takes no
// transaction (a plain SCardTransmit, like a host tool that sends one command).
//
// The interleaving: the guest SELECTs the CAC CCC applet (answer 61xx: the data waits for
// GET RESPONSE); the host application SELECTs the first PKI applet; then the guest sends
// its GET RESPONSE. With the relay's per-exchange transaction, the host's SELECT waits
// until the relay lets the card go, and the guest gets the CCC's FCI. The control does the
// same with a PC/SC client that holds no transaction in the guest's place, and shows the
// GET RESPONSE going wrong, so that the check above is known to test something.
//
//   node interleave.mjs PORT READER     env: CACARD_DIST (the build's dist/src)
//
// Prints one JSON line of results on stdout; progress on stderr.
import net from "node:net";
import { join } from "node:path";

const [portText, reader] = process.argv.slice(2);
const DIST = process.env.CACARD_DIST;
if (!portText || !reader || !DIST) {
  console.error("usage: CACARD_DIST=dist/src node interleave.mjs PORT READER");
  process.exit(2);
}
const codec = await import(join(DIST, "backends/vscard/codec.js"));
const { PcscCard } = await import(join(DIST, "backends/pcsc/index.js"));
const { MsgType, ErrorCode, encodeMessage, initMessage, VscFramer } = codec;

const hex = (bytes) => Buffer.from(bytes).toString("hex").toUpperCase();
const unhex = (text) => new Uint8Array(Buffer.from(text.replace(/\s+/g, ""), "hex"));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (text) => console.error(`[interleave] ${text}`);
const sw = (r) => (r[r.length - 2] << 8) | r[r.length - 1];

// GSC-IS 2.1: the CCC applet and the first PKI applet (libcacard's AIDs).
const CCC_AID = "A000000116DB00";
const SELECT_CCC = unhex(`00A4040007${CCC_AID}`);
const SELECT_PKI = unhex("00A4040007A0000000790100");
const getResponse = (n) => Uint8Array.of(0x00, 0xc0, 0x00, 0x00, n);

/** A one-client VSCard host: the relay connects, and APDUs go one at a time. */
function vscardHost(port) {
  const framer = new VscFramer();
  let socket = null;
  let readerId = -1;
  let onAtr;
  let onApdu = null;
  const atr = new Promise((r) => (onAtr = r));
  const server = net.createServer({ noDelay: true }, (s) => {
    socket = s;
    s.on("error", () => undefined);
    s.on("data", (chunk) => {
      for (const msg of framer.push(new Uint8Array(chunk))) {
        if (msg.type === MsgType.Init) s.write(encodeMessage(initMessage()));
        else if (msg.type === MsgType.ReaderAdd) {
          readerId = 0;
          s.write(encodeMessage({ type: MsgType.Error, readerId, code: ErrorCode.Success }));
        } else if (msg.type === MsgType.ReaderRemove || msg.type === MsgType.CardRemove) {
          s.write(encodeMessage({ type: MsgType.Error, readerId: msg.readerId, code: ErrorCode.Success }));
        } else if (msg.type === MsgType.ATR) {
          s.write(encodeMessage({ type: MsgType.Error, readerId: msg.readerId, code: ErrorCode.Success }));
          onAtr(hex(msg.atr));
        } else if (msg.type === MsgType.APDU && onApdu) {
          const done = onApdu;
          onApdu = null;
          done(msg.apdu);
        } else if (msg.type === MsgType.Error && onApdu) {
          const done = onApdu;
          onApdu = null;
          done(new Error(`VSCard Error code=${msg.code}`));
        }
      }
    });
  });
  return {
    listen: () => new Promise((r) => server.listen({ host: "127.0.0.1", port }, r)),
    atr,
    /** One guest command through QEMU's side of the link. */
    transmit(apdu) {
      return new Promise((resolve, reject) => {
        onApdu = (r) => (r instanceof Error ? reject(r) : resolve(r));
        socket.write(encodeMessage({ type: MsgType.APDU, readerId, apdu }));
      });
    },
    close: () => {
      socket?.destroy();
      server.close();
    },
  };
}

/** The interleaving: `guest` SELECTs the CCC, `host` SELECTs a PKI applet, `guest` sends GET RESPONSE. */
async function interleave(guest, host) {
  const select = await guest.transmit(SELECT_CCC);
  const selectSw = sw(select);
  const hostStarted = Date.now();
  let hostDone = null;
  const hostAnswer = host.transmit(SELECT_PKI).then((r) => {
    hostDone = Date.now();
    return r;
  });
  // Long enough for a host command with nothing in its way to be answered many times over.
  await sleep(300);
  const hostBeforeGetResponse = hostDone !== null;
  const fci = await guest.transmit(getResponse(selectSw & 0xff));
  const guestAnswered = Date.now();
  const hostResponse = await hostAnswer;
  return {
    selectSw: selectSw.toString(16).toUpperCase().padStart(4, "0"),
    getResponse: hex(fci),
    gotCccFci: hex(fci).includes(CCC_AID) && sw(fci) === 0x9000,
    hostBeforeGetResponse,
    hostResponse: hex(hostResponse),
    hostWaitedMs: hostDone - hostStarted,
    hostAfterGuestMs: hostDone - guestAnswered,
  };
}

const results = {};
const qemu = vscardHost(Number(portText));
await qemu.listen();
console.log(JSON.stringify({ listening: Number(portText) }));
const hostApp = await PcscCard.open({ reader, transactions: false });
try {
  results.atr = await Promise.race([qemu.atr, sleep(30_000).then(() => "none")]);
  log(`relay sent ATR ${results.atr}`);
  if (results.atr === "none") throw new Error("no ATR from the relay within 30 s");
  results.relay = await interleave(qemu, hostApp);
  log(`through the relay: ${JSON.stringify(results.relay)}`);
  // Let the relay's transaction end (500 ms idle at a safe point) before the control.
  await sleep(1500);
  const bare = await PcscCard.open({ reader, transactions: false });
  try {
    results.control = await interleave(bare, hostApp);
    log(`without a transaction: ${JSON.stringify(results.control)}`);
  } finally {
    await bare.close();
  }
} catch (error) {
  results.error = String(error?.stack ?? error);
} finally {
  await hostApp.close();
  qemu.close();
}
// Exit once the results are out. Everything is closed by then, yet the process stayed
// ~25 s more with no JS handle or request left (process._getActiveHandles() empty), so
// native work still ran (koffi's async PC/SC calls on libuv's pool); not looked into further.
process.stdout.write(JSON.stringify(results) + "\n", () => process.exit(results.error ? 1 : 0));
