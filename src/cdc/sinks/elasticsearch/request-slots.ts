/**
 * A fixed number of slots for requests in flight: `run` waits for a free slot, first come first
 * served, and hands its slot straight to the next waiter when its task settles.
 */
export class RequestSlots {
  private used = 0;
  private readonly queue: Array<() => void> = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`request slots must be a positive integer, found ${size}`);
  }

  /** Runs `task` once a slot is free; the slot is held until the task settles. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.used < this.size) this.used++;
    else await new Promise<void>((resolve) => this.queue.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.used--;
    }
  }
}

/**
 * Runs `task` on every item at once and waits until all have settled (none is left running behind
 * the caller); rejects with the first failure, in item order.
 */
export async function settleAll<T>(items: readonly T[], task: (item: T) => Promise<void>): Promise<void> {
  const results = await Promise.allSettled(items.map(task));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
