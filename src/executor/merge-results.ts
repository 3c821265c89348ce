import type { FieldInfo, QueryOutcome, Row } from '../net/index.js';
import type { MergeSpec } from '../sql/index.js';
import { compareValues } from './compare-values.js';
import { addDecimal } from './decimal.js';

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

/** k-way merge of individually sorted row lists (a small binary heap; no full sort). */
export function kWayMerge(
  lists: readonly Row[][],
  orderBy: readonly { column: string; desc: boolean }[],
  fields: readonly FieldInfo[],
  limit: number | null,
): Row[] {
  const types = orderBy.map((o) => fields.find((f) => f.name === o.column)?.type ?? -1);
  const cmp = (a: Row, b: Row): number => {
    for (let i = 0; i < orderBy.length; i++) {
      const o = orderBy[i]!;
      const c = compareValues(a[o.column], b[o.column], types[i]!);
      if (c !== 0) return o.desc ? -c : c;
    }
    return 0;
  };
  const heap: { list: number; index: number }[] = [];
  const less = (x: { list: number; index: number }, y: { list: number; index: number }) => {
    const c = cmp(lists[x.list]![x.index]!, lists[y.list]![y.index]!);
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
  const max = limit ?? Infinity;
  while (heap.length > 0 && out.length < max) {
    const top = pop();
    out.push(lists[top.list]![top.index]!);
    if (top.index + 1 < lists[top.list]!.length) push({ list: top.list, index: top.index + 1 });
  }
  return out;
}

/** Folds per-shard aggregate rows (COUNT/SUM/MIN/MAX, no GROUP BY) into one row. */
export function mergeAggregates(outcomes: readonly RowsOutcome[], aggregates: readonly string[]): Row[] {
  const rows = outcomes.flatMap((o) => o.rows);
  const fields = outcomes.find((o) => o.fields.length > 0)?.fields ?? [];
  if (rows.length === 0) return [];
  const names = fields.length ? fields.map((f) => f.name) : Object.keys(rows[0]!);
  const result: Row = {};
  names.forEach((name, i) => {
    const fn = aggregates[i];
    const type = fields[i]?.type ?? -1;
    let acc: unknown = null;
    for (const row of rows) {
      const v = row[name];
      if (v === null || v === undefined) continue;
      if (acc === null) acc = v;
      else if (fn === 'count' || fn === 'sum') {
        if (typeof acc === 'bigint' && typeof v === 'bigint') acc = acc + v;
        else if (typeof acc === 'number' && typeof v === 'number') acc = acc + v;
        else acc = addDecimal(String(acc), String(v));
      } else if (fn === 'min' && compareValues(v, acc, type) < 0) acc = v;
      else if (fn === 'max' && compareValues(v, acc, type) > 0) acc = v;
    }
    result[name] = acc === null && fn === 'count' ? 0n : acc;
  });
  return [result];
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
      return kWayMerge(
        rs.map((o) => o.rows),
        merge.orderBy,
        rs.find((o) => o.fields.length)?.fields ?? [],
        merge.limit,
      );
    }
    case 'aggregate':
      return mergeAggregates(rowsOf(outcomes), merge.aggregates);
  }
}
