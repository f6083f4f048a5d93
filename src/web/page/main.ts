/**
 * The page `cacard web` serves: pick certificate and key files (or the sample
 * card), give the VM chardev's WebSocket address, connect; then the card's
 * state, insert/remove, and a live APDU log with PINs redacted.
 *
 * `window.cacard` exposes the state for people in the console and for the
 * browser tests (test/web/browser.test.ts).
 */
import { BrowserToken, type CredentialFiles } from "../browser-token.js";
import { WebCard, type WebCardEvent, type WebCardState } from "../web-card.js";
import { describeExchange } from "../apdu-names.js";
import { pairFiles, type PickedFile } from "../pair-files.js";
import { describeAlgorithm, type Token } from "../../core/token/types.js";
import { PERSONALITIES, type Personality } from "../../core/create-card.js";

/** Rows kept in the APDU table (older ones scroll away). */
const MAX_LOG_ROWS = 1000;
/** Hex shown per cell; the whole value is in the cell's tooltip. */
const MAX_HEX_CHARS = 96;
const SAMPLE = ["cert1", "cert2", "cert3"];

interface PageState {
  state: WebCardState | "idle";
  detail: string;
  apdus: number;
  /** Finished loads of files or the sample card, successful or not. */
  loads: number;
  credentials: { label: string; subject: string; key: string }[];
  events: string[];
  error: string;
}

const status: PageState = { state: "idle", detail: "", apdus: 0, loads: 0, credentials: [], events: [], error: "" };
(globalThis as unknown as { cacard: PageState }).cacard = status;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const filesInput = $<HTMLInputElement>("files");
const passwordInput = $<HTMLInputElement>("password");
const personalitySelect = $<HTMLSelectElement>("personality");
const urlInput = $<HTMLInputElement>("url");
const buttons = {
  load: $<HTMLButtonElement>("load"),
  sample: $<HTMLButtonElement>("sample"),
  connect: $<HTMLButtonElement>("connect"),
  disconnect: $<HTMLButtonElement>("disconnect"),
  insert: $<HTMLButtonElement>("insert"),
  remove: $<HTMLButtonElement>("remove"),
};

let token: Token | null = null;
let web: WebCard | null = null;

const params = new URLSearchParams(location.search);
urlInput.value = params.get("ws") ?? "";

function showError(message: string): void {
  status.error = message;
  $("card-error").textContent = message;
}

function refreshButtons(): void {
  const connected = web !== null && web.state !== "disconnected";
  buttons.connect.disabled = token === null || connected;
  buttons.disconnect.disabled = !connected;
  buttons.insert.disabled = !connected || web!.reader.present;
  buttons.remove.disabled = !connected || !web!.reader.present;
  buttons.load.disabled = buttons.sample.disabled = connected;
}

function setState(state: WebCardState | "idle", detail = ""): void {
  status.state = state;
  status.detail = detail;
  const el = $("state");
  el.dataset.state = state;
  el.textContent = state;
  $("state-detail").textContent = detail;
  refreshButtons();
}

function showCredentials(t: Token): void {
  status.credentials = t.credentials.map((c) => ({ label: c.label, subject: c.subject, key: describeAlgorithm(c.algorithm) }));
  const body = $("credentials").querySelector("tbody")!;
  body.replaceChildren(
    ...t.credentials.map((c, i) => {
      const row = document.createElement("tr");
      for (const text of [String(i + 1), c.label, c.subject, describeAlgorithm(c.algorithm), c.hasPrivateKey ? "yes" : "no"]) {
        const td = document.createElement("td");
        td.textContent = text;
        row.append(td);
      }
      return row;
    }),
  );
  $("credentials").hidden = false;
}

async function openToken(files: CredentialFiles[], sample: boolean): Promise<void> {
  showError("");
  token = null;
  status.credentials = [];
  $("credentials").hidden = true;
  $("sample-note").hidden = !sample;
  const password = passwordInput.value === "" ? undefined : new TextEncoder().encode(passwordInput.value);
  try {
    token = await BrowserToken.open(files, { password, location: sample ? "certs-sample (public test keys)" : "files picked in this page" });
    showCredentials(token);
    setState("idle", token.loginRequired ? "card ready; the guest's PIN decrypts the keys" : "card ready");
  } catch (e) {
    showError((e as Error).message);
    setState("idle", "no card loaded");
  }
  status.loads++;
}

async function readPicked(list: FileList): Promise<PickedFile[]> {
  return Promise.all([...list].map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));
}

buttons.load.onclick = async () => {
  try {
    if (!filesInput.files || filesInput.files.length === 0) throw new Error("pick a certificate (.pem) and its key (.key)");
    await openToken(pairFiles(await readPicked(filesInput.files)), false);
  } catch (e) {
    showError((e as Error).message);
    status.loads++;
  }
};

buttons.sample.onclick = async () => {
  const fetchBytes = async (name: string) => {
    const r = await fetch(`sample/${name}`);
    if (!r.ok) throw new Error(`sample/${name}: HTTP ${r.status}`);
    return new Uint8Array(await r.arrayBuffer());
  };
  try {
    const files = await Promise.all(
      SAMPLE.map(async (label) => ({ label, certificate: await fetchBytes(`${label}.pem`), key: await fetchBytes(`${label}.key`) })),
    );
    passwordInput.value = "";
    await openToken(files, true);
  } catch (e) {
    showError((e as Error).message);
    status.loads++;
  }
};

function addLogRow(event: Extract<WebCardEvent, { type: "apdu" }>): void {
  status.apdus++;
  $("apdu-count").textContent = String(status.apdus);
  const line = describeExchange(event.command, event.response);
  const row = document.createElement("tr");
  if (!line.sw.startsWith("9") && !line.sw.startsWith("61")) row.className = "bad";
  const cells: [string, boolean][] = [
    [String(status.apdus), false],
    [line.ins, false],
    [line.command, true],
    [line.sw, false],
    [line.swName, false],
    [line.response ?? "", true],
  ];
  for (const [text, hex] of cells) {
    const td = document.createElement("td");
    if (hex && text.length > MAX_HEX_CHARS) {
      td.textContent = `${text.slice(0, MAX_HEX_CHARS)}… (${text.length / 2} bytes)`;
      td.title = text;
    } else {
      td.textContent = text;
    }
    if (hex) td.className = "hex";
    row.append(td);
  }
  const table = $("apdus");
  const body = table.querySelector("tbody")!;
  const atBottom = table.scrollTop + table.clientHeight >= table.scrollHeight - 4;
  body.append(row);
  while (body.rows.length > MAX_LOG_ROWS) body.deleteRow(0);
  // Follow the log unless the user scrolled up to read; only the table scrolls, never the page.
  if (atBottom) table.scrollTop = table.scrollHeight;
}

function onEvent(event: WebCardEvent): void {
  switch (event.type) {
    case "state":
      setState(event.state, event.detail ?? "");
      break;
    case "apdu":
      addLogRow(event);
      break;
    case "message":
      break;
    default:
      status.events.push(event.type);
  }
}

buttons.connect.onclick = async () => {
  if (token === null) return;
  showError("");
  const personality = personalitySelect.value as Personality;
  if (!PERSONALITIES.includes(personality)) return showError(`unknown personality ${personality}`);
  buttons.connect.disabled = true;
  try {
    web = await WebCard.connect({ url: urlInput.value.trim(), token, personality, onEvent });
  } catch (e) {
    web = null;
    showError((e as Error).message);
  }
  refreshButtons();
};

buttons.disconnect.onclick = () => void web?.disconnect();
buttons.insert.onclick = () => {
  web?.insert();
  refreshButtons();
};
buttons.remove.onclick = () => {
  web?.remove();
  refreshButtons();
};

addEventListener("pagehide", () => void web?.disconnect());
refreshButtons();
