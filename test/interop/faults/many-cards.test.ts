/**
 * 100 cards in one process under concurrent load, with no cross-talk.
 *
 * Each card has its own PEM key store, made here: two certificates with their
 * own RSA-1024 keys, encrypted with the card's own PIN, and half the cards
 * list them in the other order. The same interleaved APDU streams then run
 * (1) in-process, with a seeded random yield between APDUs, and (2) over one
 * VSCard connection carrying 100 readers to an in-process fake QEMU host on
 * loopback, every reader with an APDU in flight at once.
 *
 * Each card must return its own certificates, sign with its own keys only,
 * and keep its own login, PIN counter, selected applet, chained SIGN input
 * and pending GET RESPONSE, whatever the other 99 do in between.
 *
 * No daemons or fixed ports (only 127.0.0.1:0), so no namespace is needed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { constants, createPublicKey, generateKeyPair, publicEncrypt, randomBytes, webcrypto, type KeyObject } from "node:crypto";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { openKeyStore } from "../../../src/tokens/open.js";
import { createCacCard } from "../../../src/core/cac/cac-card.js";
import { AID } from "../../../src/core/cac/aids.js";
import { certificateFromBuffers } from "../../../src/client/cac-client.js";
import type { VirtualCard } from "../../../src/core/card/card.js";
import { VirtualReader } from "../../../src/core/card/reader.js";
import { VscardClient } from "../../../src/backends/vscard/client.js";
import type { VscardEvent } from "../../../src/backends/vscard/session.js";
import {
  ErrorCode,
  MsgType,
  UNDEFINED_READER_ID,
  VscFramer,
  encodeMessage,
  initMessage,
  type VscMessage,
} from "../../../src/backends/vscard/codec.js";
import type { KeyStore } from "../../../src/core/token/types.js";

const CARDS = 100;
const KEY_BITS = 1024;
const NICKS = ["id", "sign"] as const;
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);

const SW_OK = 0x9000;
const SW_CONDITION = 0x6985; // not logged in / wrong PIN without a counter
const SW_NO_DATA = 0x6a88; // GET RESPONSE with nothing pending; VERIFY status without a counter

interface Fixture {
  readonly index: number;
  readonly dir: string;
  readonly pin: string;
  /** Certificates and public keys in this card's PKI order. */
  readonly certs: Uint8Array[];
  readonly publicKeys: KeyObject[];
  readonly nicknames: string[];
  /** Cards with i % 3 === 0 count wrong PINs (--pin-tries 3). */
  readonly pinTries: number | undefined;
  store?: KeyStore;
}

let root = "";
const fixtures: Fixture[] = [];

/** A seeded PRNG (mulberry32) for the scheduling. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function makeCredential(dir: string, nick: string, cn: string, pin: string): Promise<{ der: Uint8Array; pub: KeyObject }> {
  const { privateKey, publicKey } = await promisify(generateKeyPair)("rsa", { modulusLength: KEY_BITS });
  const alg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  const keys = {
    privateKey: await webcrypto.subtle.importKey("pkcs8", privateKey.export({ type: "pkcs8", format: "der" }), alg, false, ["sign"]),
    publicKey: await webcrypto.subtle.importKey("spki", publicKey.export({ type: "spki", format: "der" }), alg, true, ["verify"]),
  };
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${cn}`,
    keys,
    signingAlgorithm: alg,
    serialNumber: randomBytes(8).toString("hex").replace(/^[89a-f]/, "1"),
  });
  writeFileSync(join(dir, `${nick}.pem`), cert.toString("pem"));
  writeFileSync(
    join(dir, `${nick}.key`),
    privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-128-cbc", passphrase: pin }) as string,
    { mode: 0o600 },
  );
  return { der: new Uint8Array(cert.rawData), pub: publicKey };
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "cacard-100-cards-"));
  const made = await Promise.all(
    Array.from({ length: CARDS }, async (_, i) => {
      const dir = join(root, `card${String(i).padStart(3, "0")}`);
      mkdirSync(dir);
      const pin = `${String(i).padStart(4, "0")}pin!`; // 8 characters, unique per card
      const creds = [];
      for (const nick of NICKS) creds.push(await makeCredential(dir, nick, `card ${i} ${nick}`, pin));
      const order = i % 2 === 0 ? [0, 1] : [1, 0];
      const fx: Fixture = {
        index: i,
        dir,
        pin,
        certs: order.map((k) => creds[k].der),
        publicKeys: order.map((k) => creds[k].pub),
        nicknames: order.map((k) => NICKS[k]),
        pinTries: i % 3 === 0 ? 3 : undefined,
      };
      return fx;
    }),
  );
  fixtures.push(...made);
  for (const fx of fixtures) fx.store = await openKeyStore({ db: fx.dir, nicknames: fx.nicknames });
}, 120_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

function newCard(fx: Fixture): VirtualCard {
  return createCacCard(fx.store!, fx.pinTries ? { pinPolicy: { maxTries: fx.pinTries } } : {});
}

// ---- the per-card conversation -----------------------------------------------------------

type Transmit = (card: number, command: Uint8Array) => Promise<Uint8Array>;

const sw = (r: Uint8Array) => (r[r.length - 2] << 8) | r[r.length - 1];
const data = (r: Uint8Array) => r.subarray(0, r.length - 2);
const hex = (u: Uint8Array) => Buffer.from(u).toString("hex");

function apdu(cla: number, ins: number, p1: number, p2: number, body?: Uint8Array, le?: number): Uint8Array {
  const parts = [cla, ins, p1, p2];
  if (body && body.length) parts.push(body.length, ...body);
  if (le !== undefined) parts.push(le);
  return Uint8Array.from(parts);
}

class Conversation {
  log: string[] = [];
  constructor(
    readonly fx: Fixture,
    readonly tx: Transmit,
  ) {}

  async send(command: Uint8Array): Promise<Uint8Array> {
    const r = await this.tx(this.fx.index, command);
    this.log.push(`${hex(command)} -> ${hex(r.length > 20 ? r.subarray(r.length - 2) : r)}`);
    return r;
  }

  /** One command plus GET RESPONSE while 61xx (other cards run in between). */
  async transceive(command: Uint8Array): Promise<{ data: Uint8Array; sw: number }> {
    let r = await this.send(command);
    const parts = [data(r)];
    while (sw(r) >> 8 === 0x61) {
      r = await this.send(apdu(0x00, 0xc0, 0x00, 0x00, undefined, sw(r) & 0xff));
      parts.push(data(r));
    }
    return { data: Buffer.concat(parts), sw: sw(r) };
  }

  async ok(command: Uint8Array, what: string): Promise<Uint8Array> {
    const r = await this.transceive(command);
    if (r.sw !== SW_OK) this.fail(`${what}: SW ${r.sw.toString(16)}`);
    return r.data;
  }

  fail(message: string): never {
    throw new Error(`card ${this.fx.index}: ${message}\n  ${this.log.slice(-12).join("\n  ")}`);
  }

  async selectPki(k: number): Promise<void> {
    await this.ok(apdu(0x00, 0xa4, 0x04, 0x00, AID.pki(k)), `SELECT PKI ${k}`);
  }

  async readBuffer(type: 1 | 2): Promise<Uint8Array> {
    const head = await this.ok(apdu(0x80, 0x52, 0x00, 0x00, Uint8Array.of(type, 2), 2), "READ BUFFER length");
    const length = head[0] | (head[1] << 8);
    const parts: Uint8Array[] = [];
    for (let offset = 2; offset < length + 2; offset += 200) {
      const n = Math.min(200, length + 2 - offset);
      parts.push(await this.ok(apdu(0x80, 0x52, offset >> 8, offset & 0xff, Uint8Array.of(type, n), n), "READ BUFFER"));
    }
    return Buffer.concat(parts);
  }

  /** The certificate of the PKI applet currently selected. */
  async readCertificate(): Promise<Uint8Array> {
    const certificate = certificateFromBuffers(await this.readBuffer(1), await this.readBuffer(2));
    if (certificate !== null) return certificate;
    this.fail("no certificate tag");
  }

  async verify(pin: string | null): Promise<number> {
    const body = pin === null ? undefined : Buffer.from(pin.padEnd(8, "\xff"), "latin1");
    return (await this.transceive(apdu(0x00, 0x20, 0x00, 0x00, body))).sw;
  }

  /** Raw RSA on the selected PKI applet, in two chained halves, then GET RESPONSE. */
  async sign(input: Uint8Array): Promise<{ data: Uint8Array; sw: number }> {
    const half = input.length >> 1;
    const first = await this.send(apdu(0x80, 0x42, 0x80, 0x00, input.subarray(0, half)));
    if (sw(first) !== SW_OK) return { data: new Uint8Array(0), sw: sw(first) };
    return this.transceive(apdu(0x80, 0x42, 0x00, 0x00, input.subarray(half)));
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** A random operand below the modulus (first byte 00). */
function operand(): Uint8Array {
  const b = randomBytes(KEY_BITS / 8);
  b[0] = 0;
  return b;
}

function checkSignature(c: Conversation, k: number, input: Uint8Array, sig: Uint8Array): void {
  const back = publicEncrypt({ key: c.fx.publicKeys[k], padding: constants.RSA_NO_PADDING }, sig);
  if (!sameBytes(back, input)) c.fail(`signature from PKI ${k} does not verify under the card's own key ${k}`);
  // ... and under no other card's key (a cross-talk would show up here)
  const other = fixtures[(c.fx.index + 1) % CARDS].publicKeys[k];
  let crossTalk = false;
  try {
    crossTalk = sameBytes(publicEncrypt({ key: other, padding: constants.RSA_NO_PADDING }, sig), input);
  } catch {
    // at or above the other modulus: certainly not the other key's signature
  }
  if (crossTalk) c.fail("signature verifies under another card's key");
}

/** A barrier for `n` parties. */
function barrier(n: number): () => Promise<void> {
  let waiting = 0;
  let release!: () => void;
  const all = new Promise<void>((r) => (release = r));
  return () => {
    if (++waiting === n) release();
    return all;
  };
}

/**
 * The whole workload: 100 conversations at once. Phase 1 reads both
 * certificates (selection, READ BUFFER, GET RESPONSE interleaved across cards);
 * phase 2 has the even cards log in while the odd ones, not logged in, must be
 * refused SIGN and the even neighbour's PIN; phase 3 logs everyone in and signs
 * with both keys, leaving a signature pending for GET RESPONSE across the others.
 */
async function workload(tx: Transmit): Promise<{ apdus: number }> {
  const convs = fixtures.map((fx) => new Conversation(fx, tx));
  const phase2 = barrier(CARDS);
  const phase3 = barrier(CARDS);
  await Promise.all(
    convs.map(async (c) => {
      const i = c.fx.index;
      // Phase 1: certificates, in a per-card order.
      for (const k of i % 2 ? [1, 0] : [0, 1]) {
        await c.selectPki(k);
        const cert = await c.readCertificate();
        if (!sameBytes(cert, c.fx.certs[k])) c.fail(`PKI ${k} returned another certificate`);
      }
      // VERIFY status before any login: a counter only where configured.
      const status = await c.verify(null);
      const expectStatus = c.fx.pinTries ? 0x63c0 | c.fx.pinTries : SW_NO_DATA;
      if (status !== expectStatus) c.fail(`VERIFY status ${status.toString(16)}, expected ${expectStatus.toString(16)}`);

      // Phase 2.
      await phase2();
      if (i % 2 === 0) {
        if ((await c.verify(c.fx.pin)) !== SW_OK) c.fail("own PIN refused");
        await c.selectPki(0);
        const input = operand();
        const r = await c.sign(input);
        if (r.sw !== SW_OK) c.fail(`SIGN after login: ${r.sw.toString(16)}`);
        checkSignature(c, 0, input, r.data);
      } else {
        await c.selectPki(0);
        const r = await c.sign(operand());
        if (r.sw !== SW_CONDITION) c.fail(`SIGN without login answered ${r.sw.toString(16)} while card ${i - 1} is logged in`);
        const neighbour = fixtures[i - 1].pin;
        const wrong = await c.verify(neighbour);
        const expectWrong = c.fx.pinTries ? 0x63c0 | (c.fx.pinTries - 1) : SW_CONDITION;
        if (wrong !== expectWrong) c.fail(`the neighbour's PIN answered ${wrong.toString(16)}`);
      }

      // Phase 3: everybody logged in, both keys, pending responses everywhere.
      await phase3();
      if (i % 2 === 1 && (await c.verify(c.fx.pin)) !== SW_OK) c.fail("own PIN refused");
      if ((await c.verify(null)) !== SW_OK) c.fail("VERIFY status after login");
      for (const k of i % 3 ? [1, 0] : [0, 1]) {
        await c.selectPki(k);
        const input = operand();
        const r = await c.sign(input);
        if (r.sw !== SW_OK) c.fail(`SIGN with PKI ${k}: ${r.sw.toString(16)}`);
        checkSignature(c, k, input, r.data);
        // Nothing left pending on this card, whatever the others have pending.
        const again = await c.send(apdu(0x00, 0xc0, 0x00, 0x00, undefined, 0));
        if (sw(again) !== SW_NO_DATA) c.fail(`GET RESPONSE after the signature answered ${hex(again)}`);
      }
    }),
  );
  return { apdus: convs.reduce((n, c) => n + c.log.length, 0) };
}

// ---- a fake QEMU host for 100 readers on one connection ----------------------------------

class MultiReaderHost {
  readonly server = net.createServer({ noDelay: true });
  socket: net.Socket | null = null;
  /** Reader name → id, from ReaderAdd (ids 0, 1, 2, ... like a multi-slot host). */
  readonly ids = new Map<string, number>();
  readonly atrs = new Map<number, Uint8Array>();
  readonly #pending = new Map<number, { resolve: (r: Uint8Array) => void; reject: (e: Error) => void }>();
  readonly #framer = new VscFramer();
  #nextId = 0;
  #waiters: (() => void)[] = [];
  maxInFlight = 0;

  async listen(): Promise<number> {
    this.server.on("connection", (s) => this.#accept(s));
    await new Promise<void>((r) => this.server.listen({ host: "127.0.0.1", port: 0 }, () => r()));
    return (this.server.address() as net.AddressInfo).port;
  }

  #accept(s: net.Socket): void {
    if (this.socket) {
      s.destroy();
      return;
    }
    this.socket = s;
    s.on("error", () => {});
    s.on("data", (chunk: Buffer) => {
      for (const m of this.#framer.push(chunk)) this.#handle(m);
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  #send(m: VscMessage): void {
    this.socket!.write(encodeMessage(m));
  }

  #handle(m: VscMessage): void {
    switch (m.type) {
      case MsgType.Init:
        this.#send(initMessage(UNDEFINED_READER_ID));
        return;
      case MsgType.ReaderRemove:
      case MsgType.CardRemove:
        this.#send({ type: MsgType.Error, readerId: m.readerId, code: ErrorCode.Success });
        return;
      case MsgType.ReaderAdd: {
        const id = this.#nextId++;
        this.ids.set(m.name, id);
        this.#send({ type: MsgType.Error, readerId: id, code: ErrorCode.Success });
        return;
      }
      case MsgType.ATR:
        this.atrs.set(m.readerId, m.atr);
        this.#send({ type: MsgType.Error, readerId: m.readerId, code: ErrorCode.Success });
        return;
      case MsgType.APDU:
      case MsgType.Error: {
        const p = this.#pending.get(m.readerId);
        if (!p) throw new Error(`unexpected ${m.type} for reader ${m.readerId}`);
        this.#pending.delete(m.readerId);
        if (m.type === MsgType.APDU) p.resolve(m.apdu);
        else p.reject(new Error(`reader ${m.readerId}: VSC_Error ${m.code}`));
        return;
      }
      default:
        throw new Error(`unexpected message ${m.type}`);
    }
  }

  async until(pred: () => boolean, ms: number, what: string): Promise<void> {
    const t0 = Date.now();
    while (!pred()) {
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 50).unref();
      });
    }
  }

  /** One APDU to a reader; like a CCID slot, a reader has at most one in flight. */
  transmit(readerId: number, command: Uint8Array): Promise<Uint8Array> {
    if (this.#pending.has(readerId)) return Promise.reject(new Error(`reader ${readerId} already busy`));
    return new Promise((resolve, reject) => {
      this.#pending.set(readerId, { resolve, reject });
      this.maxInFlight = Math.max(this.maxInFlight, this.#pending.size);
      this.#send({ type: MsgType.APDU, readerId, apdu: command });
    });
  }

  async close(): Promise<void> {
    this.socket?.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

// ---- the tests -------------------------------------------------------------------------

describe(`${CARDS} cards in one process, concurrent, no cross-talk`, () => {
  it("key stores: 100 directories, 200 distinct keys and certificates", () => {
    expect(fixtures).toHaveLength(CARDS);
    const certs = new Set(fixtures.flatMap((f) => f.certs.map(hex)));
    expect(certs.size).toBe(2 * CARDS);
    expect(fixtures.every((f) => f.store!.loginRequired)).toBe(true);
  });

  it("in-process: interleaved APDU streams with seeded random yields", async () => {
    const cards = fixtures.map(newCard);
    await Promise.all(cards.map((c) => c.powerOn()));
    const random = prng(SEED);
    const tx: Transmit = async (i, command) => {
      for (let n = Math.floor(random() * 4); n > 0; n--) await new Promise((r) => setImmediate(r));
      return cards[i].transmit(command);
    };
    const t0 = Date.now();
    const { apdus } = await workload(tx);
    console.log(`[100 cards] in-process: ${apdus} APDUs in ${Date.now() - t0} ms`);
    expect(apdus).toBeGreaterThan(CARDS * 30);
  }, 60_000);

  it("VSCard: 100 readers on one connection to a fake QEMU host, an APDU in flight on each", async () => {
    const host = new MultiReaderHost();
    const port = await host.listen();
    const readers = fixtures.map((fx) => new VirtualReader(`cacard-${String(fx.index).padStart(3, "0")}`, newCard(fx)));
    const events: VscardEvent[] = [];
    const ac = new AbortController();
    const client = new VscardClient({
      readers,
      endpoint: { kind: "tcp", host: "127.0.0.1", port },
      signal: ac.signal,
      onEvent: (e) => events.push(e),
      maxAttempts: 1,
    });
    const running = client.run();
    try {
      const inserted = () => events.filter((e) => e.type === "card-inserted").length;
      await host.until(() => inserted() === CARDS, 20_000, `${CARDS} accepted ATRs`);
      expect(host.atrs.size).toBe(CARDS);
      const readerIds = readers.map((r) => host.ids.get(r.name));
      expect(new Set(readerIds).size).toBe(CARDS);
      readers.forEach((r, i) => expect(client.readerId(r)).toBe(readerIds[i]));
      const t0 = Date.now();
      const { apdus } = await workload((i, command) => host.transmit(readerIds[i]!, command));
      console.log(`[100 cards] VSCard: ${apdus} APDUs in ${Date.now() - t0} ms, up to ${host.maxInFlight} in flight`);
      expect(host.maxInFlight).toBeGreaterThan(CARDS / 2);
      expect(events.filter((e) => e.type === "warning" || e.type === "protocol-error")).toEqual([]);
    } finally {
      ac.abort();
      await running;
      await host.close();
    }
    // The goodbye removed every card and reader.
    expect(events.filter((e) => e.type === "disconnected")).toHaveLength(1);
  }, 60_000);
});
