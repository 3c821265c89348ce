/**
 * Group commit: items submitted while a write is in flight, or within the same turn of the event
 * loop, are applied together by one call of `apply`. A quiet stream gets one call per item as
 * soon as the turn ends; a busy one gets fewer, larger calls — the batch grows with the load
 * instead of a fixed linger adding latency.
 *
 * Each `submit` resolves when the call that held its item succeeded, and rejects with that call's
 * error (every item of a failed call gets the same error).
 */
export class GroupCommit<T> {
  private pending: { item: T; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private inFlight = 0;
  private scheduled = false;

  /**
   * @param apply writes a group of items, in submission order.
   * @param maxInFlight calls of `apply` running at once (1: each group waits for the one before).
   */
  constructor(
    private readonly apply: (items: T[]) => Promise<void>,
    private readonly maxInFlight = 1,
  ) {
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1)
      throw new RangeError(`maxInFlight must be a positive integer, got ${maxInFlight}`);
  }

  /** Queues `item` for the next group; settles with that group's write. */
  submit(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Items waiting for a group. */
  get waiting(): number {
    return this.pending.length;
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.pending.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.inFlight >= this.maxInFlight || this.pending.length === 0) return;
    const group = this.pending;
    this.pending = [];
    this.inFlight++;
    let applied: Promise<void>;
    try {
      applied = this.apply(group.map((g) => g.item));
    } catch (err) {
      applied = Promise.reject(err);
    }
    const done = () => {
      this.inFlight--;
      this.schedule();
    };
    applied.then(
      () => {
        done();
        for (const g of group) g.resolve();
      },
      (err: unknown) => {
        done();
        for (const g of group) g.reject(err);
      },
    );
  }
}
