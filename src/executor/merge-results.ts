import type { FieldInfo, QueryOutcome, Row } from '../net/index.js';
import type { MergeSpec } from '../sql/index.js';
import type { SortItem } from '../sql/index.js';
import { rowOrder } from './collation-order.js';
import { mergeGrouped } from './merge-grouped.js';

/** What a routed statement returns: rows for SELECT, counts for writes. */
export type RouterResult = Row[] | WriteResult;

/** The outcome of INSERT/UPDATE/DELETE/REPLACE. */
export interface WriteResult {
  affectedRows: number;
  /** The AUTO_INCREMENT id of a single-shard insert; 0 when several shards were written. */
  insertId: number | bigint;
  /**
   * Read-your-writes token: per instance, the GTID the write committed. Pass it as `after` to a
   * read (in this or another process) that must see the write. Absent when the servers report
   * no GTID (gtid_mode OFF) and inside a transaction (its commit has the GTID).
   */
  token?: string;
}

type RowsOutcome = Extract<QueryOutcome, { kind: 'rows' }>;

function rowsOf(outcomes: readonly QueryOutcome[]): RowsOutcome[] {
  return outcomes.map((o) => {
    if (o.kind !== 'rows') throw new TypeError('expected rows from a SELECT');
    return o;
  });
}

/**
 * k-way merge of individually sorted row lists (a small binary heap; no full sort). Text orders
 * by each row's collation weight (the item's `weight` column), numbers exactly; a second
 * collation among the rows fails the merge. Returns rows `offset` to `offset + limit` without
 * the weight and collation columns.
 */
export function kWayMerge(
  lists: readonly Row[][],
  orderBy: readonly SortItem[],
  fields: readonly FieldInfo[],
  limit: number | null,
  offset = 0,
): Row[] {
  const byName = new Map(fields.map((f) => [f.name, f]));
  const order = rowOrder(orderBy);
  const keyed = lists.map((list) => list.map((row) => order.keys(row, (name) => byName.get(name))));
  const cmp = order.compare;
  const heap: { list: number; index: number }[] = [];
  const less = (x: { list: number; index: number }, y: { list: number; index: number }) => {
    const c = cmp(keyed[x.list]![x.index]!, keyed[y.list]![y.index]!);
    return c < 0 || (c === 0 && x.list < y.list);
  };
  const push = (item: { list: number; index: number }) => {
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(heap[i]!, heap[p]!)) break;
      [heap[i], heap[p]] = [heap[p]!, heap[i]!];
      i = p;
    }
  };
  const pop = () => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && less(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && less(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  };
  lists.forEach((list, i) => list.length > 0 && push({ list: i, index: 0 }));
  const out: Row[] = [];
  const max = limit === null ? Infinity : offset + limit;
  let seen = 0;
  while (heap.length > 0 && seen < max) {
    const top = pop();
    if (seen++ >= offset) out.push(order.visible(lists[top.list]![top.index]!));
    if (top.index + 1 < lists[top.list]!.length) push({ list: top.list, index: top.index + 1 });
  }
  return out;
}

/** Combines the outcomes of a plan's round trips as its merge spec says. */
export function mergeResults(merge: MergeSpec, outcomes: readonly QueryOutcome[]): RouterResult {
  switch (merge.kind) {
    case 'single': {
      const only = outcomes[0]!;
      return only.kind === 'rows' ? only.rows : { affectedRows: only.affectedRows, insertId: only.insertId };
    }
    case 'sum-affected': {
      let affectedRows = 0;
      for (const o of outcomes) if (o.kind === 'ok') affectedRows += o.affectedRows;
      const only = outcomes.length === 1 ? outcomes[0] : undefined;
      return { affectedRows, insertId: only?.kind === 'ok' ? only.insertId : 0 };
    }
    case 'concat': {
      const rows = rowsOf(outcomes).flatMap((o) => o.rows);
      return merge.limit === null ? rows : rows.slice(0, merge.limit);
    }
    case 'sorted': {
      const rs = rowsOf(outcomes);
      if (merge.orderBy.length === 0) {
        const rows = rs.flatMap((o) => o.rows);
        return rows.slice(merge.offset, merge.limit === null ? undefined : merge.offset + merge.limit);
      }
      return kWayMerge(
        rs.map((o) => o.rows),
        merge.orderBy,
        rs.find((o) => o.fields.length)?.fields ?? [],
        merge.limit,
        merge.offset,
      );
    }
    case 'grouped':
      return mergeGrouped(merge.spec, outcomes, merge.params, merge);
  }
}
