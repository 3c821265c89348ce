/** Whatever feeds a {@link ByteBoundedQueue} and can be held back (a socket). */
export interface FlowControl {
  pause(): void;
  resume(): void;
}

/** Options of a {@link ByteBoundedQueue}. */
export interface ByteBoundedQueueOptions {
  /** The source is paused once more than this many bytes wait for the consumer. */
  highWaterBytes: number;
  /** A paused source is resumed once fewer than this many bytes wait; half `highWaterBytes` when absent. */
  lowWaterBytes?: number;
  source: FlowControl;
}

/**
 * A single-consumer queue bounded by the bytes it holds, not by its length: `push` pauses the
 * source above the high-water mark, taking items resumes it below the low-water mark. The
 * producer ends it with `end(error?)`; the consumer still gets every item pushed before, then
 * the end (or the error, rejected from `next`). `abort()` drops what is buffered and ends it.
 */
export class ByteBoundedQueue<T> implements AsyncIterableIterator<T> {
  private items: Array<T | undefined> = [];
  private sizes: number[] = [];
  private head = 0;
  private queued = 0;
  private holding = false;
  private done = false;
  private failure: Error | undefined;
  private wake: (() => void) | null = null;
  private readonly high: number;
  private readonly low: number;

  constructor(private readonly options: ByteBoundedQueueOptions) {
    this.high = options.highWaterBytes;
    this.low = options.lowWaterBytes ?? options.highWaterBytes / 2;
    if (!(this.low <= this.high)) throw new RangeError(`lowWaterBytes ${this.low} is above highWaterBytes ${this.high}`);
  }

  /** Bytes waiting for the consumer. */
  get bytes(): number {
    return this.queued;
  }

  /** Items waiting for the consumer. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Whether the source is paused by this queue. */
  get paused(): boolean {
    return this.holding;
  }

  /** Whether the producer has ended the queue (items may still wait). */
  get ended(): boolean {
    return this.done;
  }

  /** The error the queue was ended with, if any. */
  get error(): Error | undefined {
    return this.failure;
  }

  /** Adds an item of `bytes` bytes; ignored once the queue has ended. */
  push(item: T, bytes: number): void {
    if (this.done) return;
    this.items.push(item);
    this.sizes.push(bytes);
    this.queued += bytes;
    if (!this.holding && this.queued > this.high) {
      this.holding = true;
      this.options.source.pause();
    }
    this.notify();
  }

  /** Ends the queue after the items already pushed; the first end wins. */
  end(error?: Error): void {
    if (this.done) return;
    this.done = true;
    this.failure = error;
    this.notify();
  }

  /** Drops every buffered item and ends the queue (keeping an error it already ended with). */
  abort(): void {
    this.done = true;
    this.items = [];
    this.sizes = [];
    this.head = 0;
    this.queued = 0;
    this.notify();
  }

  /** The next item if one is buffered now, without waiting (the fast path of a busy consumer). */
  poll(): T | undefined {
    return this.head < this.items.length ? this.take() : undefined;
  }

  /** The next item; done once the queue has ended and is empty, rejected with its error if it has one. */
  next(): Promise<IteratorResult<T>> {
    if (this.head < this.items.length) return Promise.resolve({ value: this.take(), done: false });
    return this.wait();
  }

  /** Stops iterating: aborts the queue. */
  return(): Promise<IteratorResult<T>> {
    this.abort();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private async wait(): Promise<IteratorResult<T>> {
    for (;;) {
      if (this.head < this.items.length) return { value: this.take(), done: false };
      if (this.head > 0) {
        this.items = [];
        this.sizes = [];
        this.head = 0;
      }
      if (this.done) {
        if (this.failure) throw this.failure;
        return { value: undefined, done: true };
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private take(): T {
    const item = this.items[this.head] as T;
    const bytes = this.sizes[this.head] as number;
    this.items[this.head++] = undefined;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
    this.queued -= bytes;
    if (this.holding && this.queued < this.low) {
      this.holding = false;
      this.options.source.resume();
    }
    return item;
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
