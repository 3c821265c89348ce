import type { ObservedTransaction } from './snapshot-window.js';

/**
 * The transactions the stream handled lately, with the keys they changed: a chunk whose read
 * began before the pipeline received it must also see the transactions handled in between (and,
 * on MySQL, those the dump thread sent just before their GTID entered `gtid_executed`). Bounded
 * by age and by key count; `complete(since)` says whether nothing since then was evicted. Pure.
 */
export class RecentTransactions {
  private readonly entries: ObservedTransaction[] = [];
  private head = 0;
  private keyCount = 0;
  private evictedUntil = -Infinity;

  constructor(private readonly limits: { maxAgeMs: number; maxKeys: number }) {}

  /** Records a transaction handled at `txn.at`; evicts what is too old or too much. */
  add(txn: ObservedTransaction, keepSince = Infinity): void {
    this.entries.push(txn);
    this.keyCount += countKeys(txn);
    const oldest = Math.min(txn.at - this.limits.maxAgeMs, keepSince);
    while (this.head < this.entries.length - 1) {
      const first = this.entries[this.head]!;
      if (first.at >= oldest && this.keyCount <= this.limits.maxKeys) break;
      this.keyCount -= countKeys(first);
      this.evictedUntil = Math.max(this.evictedUntil, first.at);
      this.entries[this.head++] = undefined as unknown as ObservedTransaction;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
  }

  /** The transactions handled at or after `since`, oldest first. */
  *since(since: number): Iterable<ObservedTransaction> {
    for (let i = this.head; i < this.entries.length; i++) if (this.entries[i]!.at >= since) yield this.entries[i]!;
  }

  /** True when no transaction handled at or after `since` was evicted. */
  complete(since: number): boolean {
    return this.evictedUntil < since;
  }
}

function countKeys(txn: ObservedTransaction): number {
  let n = 0;
  for (const keys of txn.keys.values()) n += keys.size;
  return n;
}
