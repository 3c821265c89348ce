import type { Clock } from '../../retry/index.js';
import { TimedPull } from './timed-pull.js';

/**
 * Reads an async iterator of batches one item at a time: `poll()` hands out the items of the batch
 * at hand without an async step, `next(timeoutMs)` waits for the next batch as {@link TimedPull}
 * does (the following batch is requested as soon as one arrives).
 */
export class BatchedPull<T> {
  private readonly pull: TimedPull<readonly T[]>;
  private batch: readonly T[] = [];
  private at = 0;

  constructor(batches: AsyncIterator<readonly T[]>, clock?: Clock) {
    this.pull = new TimedPull(batches, clock);
  }

  /** The next item of the batch at hand, or undefined when it is used up. */
  poll(): IteratorResult<T> | undefined {
    if (this.at >= this.batch.length) return undefined;
    const value = this.batch[this.at] as T;
    this.at++;
    return { value, done: false };
  }

  /** Ends the current wait of `next(timeoutMs)` early (it returns null as on a timeout). */
  interrupt(): void {
    this.pull.interrupt();
  }

  /**
   * The next item, or null when `timeoutMs` passed before the next batch came. Rejects with the
   * iterator's error (after every item of the batches before it).
   */
  next(): Promise<IteratorResult<T>>;
  next(timeoutMs: number): Promise<IteratorResult<T> | null>;
  async next(timeoutMs?: number): Promise<IteratorResult<T> | null> {
    for (;;) {
      const item = this.poll();
      if (item) return item;
      const result = timeoutMs === undefined ? await this.pull.next() : await this.pull.next(timeoutMs);
      if (result === null) return null;
      if (result.done) return { value: undefined, done: true };
      this.batch = result.value;
      this.at = 0;
    }
  }
}

/** Batches of one item each: how a source that only has `items()` is read batch-wise. */
export async function* singleItems<T>(items: AsyncIterable<T>): AsyncGenerator<readonly T[]> {
  for await (const item of items) yield [item];
}
