/**
 * A set of vpcd cards: one reader and one VpcdClient per card, card i on
 * vpcd's port base + i (vpcd numbers its slots by port), with insert/remove
 * by index for runtime control.
 */
import type { SmartCard } from "../../core/card/reader.js";
import { VirtualReader } from "../../core/card/reader.js";
import { VpcdClient, type VpcdClientOptions } from "./client.js";
import { VPCD_DEFAULT_PORT } from "./protocol.js";

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
    const { basePort = VPCD_DEFAULT_PORT, onClient, ...clientOptions } = options;
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
