/**
 * Runtime control of a set of vpcd cards: the line commands read from stdin
 * (`remove [i]`, `insert [i]`, `status`, `help`) and a small card set that
 * owns one reader and one VpcdClient per card.
 */
import type { SmartCard } from "../../core/card/reader.js";
import { VirtualReader } from "../../core/card/reader.js";
import { VpcdClient, type VpcdClientOptions } from "./client.js";

export type ControlCommand =
  | { readonly op: "remove" | "insert"; readonly index: number | undefined }
  | { readonly op: "status" | "help" }
  | { readonly op: "none" };

export class ControlSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ControlSyntaxError";
  }
}

export const CONTROL_HELP = "commands: remove [i], insert [i], status, help (no index = every card)";

/** Parses one control line. Blank lines and `#` comments are "none". */
export function parseControlLine(line: string, cardCount: number): ControlCommand {
  const words = line.replace(/#.*/, "").trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return { op: "none" };
  const [verb, arg, ...extra] = words;
  const op = verb.toLowerCase();
  if (extra.length > 0) throw new ControlSyntaxError(`too many arguments: ${line.trim()}`);
  switch (op) {
    case "remove":
    case "insert": {
      if (arg === undefined) return { op, index: undefined };
      if (!/^\d+$/.test(arg)) throw new ControlSyntaxError(`${op}: '${arg}' is not a card index`);
      const index = Number(arg);
      if (index >= cardCount) {
        throw new ControlSyntaxError(`${op}: no card ${index} (cards are 0..${cardCount - 1})`);
      }
      return { op, index };
    }
    case "status":
    case "help":
      if (arg !== undefined) throw new ControlSyntaxError(`${op} takes no argument`);
      return { op };
    default:
      throw new ControlSyntaxError(`unknown command '${verb}' (${CONTROL_HELP})`);
  }
}

export interface VpcdCardSlot {
  readonly index: number;
  readonly reader: VirtualReader;
  readonly client: VpcdClient;
}

export type VpcdCardSetOptions = Omit<VpcdClientOptions, "reader" | "port"> & {
  /** Port of card 0; card i uses basePort + i (vpcd's slot numbering). */
  readonly basePort?: number;
  /** Called for each client right after it is created, before it starts (to attach listeners). */
  readonly onClient?: (slot: VpcdCardSlot) => void;
};

/** N cards, each in its own reader, each connected to vpcd on its own port. */
export class VpcdCardSet {
  readonly slots: readonly VpcdCardSlot[];

  constructor(cards: readonly SmartCard[], options: VpcdCardSetOptions = {}) {
    const { basePort = 35963, onClient, ...clientOptions } = options;
    if (basePort + cards.length - 1 > 0xffff) throw new RangeError("ports beyond 65535");
    this.slots = cards.map((card, index) => {
      const reader = new VirtualReader(`cacard vpcd ${index}`, card);
      const client = new VpcdClient({ ...clientOptions, reader, port: basePort + index });
      const slot = { index, reader, client };
      onClient?.(slot);
      return slot;
    });
  }

  start(): this {
    for (const s of this.slots) s.client.start();
    return this;
  }

  stop(): Promise<void> {
    return Promise.all(this.slots.map((s) => s.client.stop())).then(() => undefined);
  }

  #pick(index: number | undefined): readonly VpcdCardSlot[] {
    if (index === undefined) return this.slots;
    const slot = this.slots[index];
    if (!slot) throw new RangeError(`no card ${index}`);
    return [slot];
  }

  /** Removes card `index` (or all); returns the indices that changed. */
  remove(index?: number): number[] {
    return this.#pick(index)
      .filter((s) => s.reader.remove())
      .map((s) => s.index);
  }

  /** Inserts card `index` (or all); returns the indices that changed. */
  insert(index?: number): number[] {
    return this.#pick(index)
      .filter((s) => s.reader.insert())
      .map((s) => s.index);
  }

  /** One line per card: `card 0: port 35963 inserted connected`. */
  status(): string[] {
    return this.slots.map(
      (s) =>
        `card ${s.index}: port ${s.client.port} ${s.reader.present ? "inserted" : "removed"} ${s.client.state}`,
    );
  }
}
