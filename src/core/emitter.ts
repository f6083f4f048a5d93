/**
 * A small typed event emitter for the platform-free core (node:events is not
 * there in a browser). Listeners run synchronously, in the order added; one
 * that throws does not stop the others, and the first error is rethrown once
 * all have run, as a bug must not pass silently.
 */
export type Listener<Args extends unknown[]> = (...args: Args) => void;
type AnyListener = (...args: unknown[]) => void;

export class Emitter<Events extends Record<keyof Events, unknown[]>> {
  readonly #listeners = new Map<keyof Events, AnyListener[]>();

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    const list = this.#listeners.get(event) ?? [];
    // Copy on write: emit() may be iterating the old array.
    this.#listeners.set(event, [...list, listener as unknown as AnyListener]);
    return this;
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    const list = this.#listeners.get(event);
    if (list === undefined) return this;
    const at = list.indexOf(listener as unknown as AnyListener);
    if (at >= 0) this.#listeners.set(event, [...list.slice(0, at), ...list.slice(at + 1)]);
    return this;
  }

  listenerCount<K extends keyof Events>(event: K): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  protected emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const list = this.#listeners.get(event);
    if (list === undefined) return;
    let first: unknown = undefined;
    let failed = false;
    for (const listener of list) {
      try {
        (listener as unknown as Listener<Events[K]>)(...args);
      } catch (e) {
        if (!failed) first = e;
        failed = true;
      }
    }
    if (failed) throw first;
  }
}
