import type { Row, RowStream } from '../net/index.js';
import type { MergeSpec } from '../sql/index.js';
import { rowOrder, type OrderKey } from './collation-order.js';

/** One round trip's rows, opened on demand and closed (its connection released) when done. */
export interface OpenedStream {
  rows: RowStream;
  close(): Promise<void>;
}

interface Head {
  stream: OpenedStream;
  it: AsyncIterator<Row>;
  row: Row;
  keys: OrderKey[];
}

/**
 * The rows of a plan's round trips as an async iterator that never holds more than each open
 * stream's buffer: a concatenation opens one round trip at a time; a sorted merge opens them all
 * and takes the least head row each time (by collation weight, as {@link kWayMerge}). OFFSET and
 * LIMIT are applied on the way; every stream is closed when the iteration ends, early or not.
 */
export async function* streamMerge(
  merge: MergeSpec,
  opens: readonly (() => Promise<OpenedStream>)[],
): AsyncGenerator<Row, void, undefined> {
  const limit = merge.kind === 'concat' || merge.kind === 'sorted' ? merge.limit : null;
  const offset = merge.kind === 'sorted' ? merge.offset : 0;
  const max = limit === null ? Infinity : offset + limit;
  let seen = 0;
  if (merge.kind !== 'sorted' || merge.orderBy.length === 0) {
    const visible = rowOrder(merge.kind === 'sorted' ? merge.orderBy : []).visible;
    for (const open of opens) {
      if (seen >= max) return;
      const s = await open();
      try {
        for await (const row of s.rows) {
          if (seen >= max) break;
          if (seen++ >= offset) yield visible(row);
        }
      } finally {
        await s.close();
      }
    }
    return;
  }
  const order = rowOrder(merge.orderBy);
  const keysOf = (row: Row, s: OpenedStream): OrderKey[] => order.keys(row, (name) => s.rows.fields.find((f) => f.name === name));
  const cmp = order.compare;
  const opened: OpenedStream[] = [];
  const heads: Head[] = [];
  try {
    const settled = await Promise.allSettled(opens.map((open) => open()));
    for (const r of settled) if (r.status === 'fulfilled') opened.push(r.value);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    for (const s of opened) {
      const it = s.rows[Symbol.asyncIterator]();
      const first = await it.next();
      if (!first.done) heads.push({ stream: s, it, row: first.value, keys: keysOf(first.value, s) });
    }
    while (heads.length > 0 && seen < max) {
      let least = 0;
      for (let i = 1; i < heads.length; i++) if (cmp(heads[i]!.keys, heads[least]!.keys) < 0) least = i;
      const h = heads[least]!;
      if (seen++ >= offset) yield order.visible(h.row);
      const next = await h.it.next();
      if (next.done) heads.splice(least, 1);
      else {
        h.row = next.value;
        h.keys = keysOf(next.value, h.stream);
      }
    }
  } finally {
    await Promise.all(heads.map((h) => h.it.return?.().catch(() => undefined)));
    await Promise.all(opened.map((s) => s.close()));
  }
}
