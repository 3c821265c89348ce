import { systemClock, type Clock, type TimerHandle } from '../../retry/index.js';

/**
 * Reads an async iterator one item at a time, waiting for the pending item with an optional
 * timeout. Each pending `next()` gets exactly one reaction, however often a wait times out:
 * racing the pending promise against a timer on every wait (`Promise.race([next, sleep(ms)])`)
 * added a reaction to it per wait, all kept until the item came — on an idle instance, one per
 * second for as long as it stayed idle — and left the losing timer running.
 */
export class TimedPull<T> {
  private settled: { ok: true; value: IteratorResult<T> } | { ok: false; error: unknown } | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly it: AsyncIterator<T>,
    private readonly clock: Clock = systemClock,
  ) {
    this.pull();
  }

  private pull(): void {
    this.it.next().then(
      (value) => this.settle({ ok: true, value }),
      (error: unknown) => this.settle({ ok: false, error }),
    );
  }

  private settle(s: { ok: true; value: IteratorResult<T> } | { ok: false; error: unknown }): void {
    this.settled = s;
    this.wake?.();
  }

  /** Ends the current wait of `next(timeoutMs)` early (it returns null as on a timeout). */
  interrupt(): void {
    this.wake?.();
  }

  /**
   * The next item (the following one is requested at once, before the caller handles this one),
   * or null when `timeoutMs` passed first; the item then stays pending for the next call.
   * Rejects with the iterator's error.
   */
  next(): Promise<IteratorResult<T>>;
  next(timeoutMs: number): Promise<IteratorResult<T> | null>;
  async next(timeoutMs?: number): Promise<IteratorResult<T> | null> {
    if (!this.settled) {
      let timer: TimerHandle | undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        if (timeoutMs !== undefined) timer = this.clock.setTimeout(resolve, Math.max(0, timeoutMs));
      });
      if (timer !== undefined) this.clock.clearTimeout(timer);
      this.wake = null;
      if (!this.settled) return null;
    }
    const s = this.settled;
    this.settled = null;
    if (!s.ok) throw s.error;
    if (!s.value.done) this.pull();
    return s.value;
  }
}
