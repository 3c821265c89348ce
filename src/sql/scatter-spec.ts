/**
 * How a multi-shard SELECT that the shards cannot answer as written (GROUP BY, HAVING, AVG,
 * DISTINCT, COUNT(DISTINCT …), OFFSET, ORDER BY on text) is split: every shard runs a partial
 * statement and the router finishes the work on the partial rows.
 *
 * Partial columns are named `__shardline_<kind><i>`:
 * - `g<i>` the i-th group key, `gw<i>` its `WEIGHT_STRING` (text keys group and sort by the
 *   column's collation, not by their bytes) and `gc<i>` its `COLLATION()` (weights of two
 *   collations must never meet: the merge refuses them);
 * - `d<i>` the argument of the i-th COUNT(DISTINCT …) (part of the partial GROUP BY), `dw<i>`, `dc<i>`;
 * - `a<i>` the i-th partial aggregate (COUNT, SUM, MIN or MAX) and, for MIN/MAX, `aw<i>`, `ac<i>`;
 * - `w<i>` and `c<i>`: weight and collation of the i-th ORDER BY item of a sorted (ungrouped) merge.
 */
export const PARTIAL_PREFIX = '__shardline_';

/** A partial aggregate every shard computes; the router folds them. */
export type PartialFn = 'count' | 'sum' | 'min' | 'max';

/** A value of one merged group. */
export type GroupValue =
  | { kind: 'key'; index: number }
  | { kind: 'agg'; fn: PartialFn; partial: number }
  | { kind: 'avg'; sum: number; count: number }
  | { kind: 'count-distinct'; distinct: number };

/** Where a LIMIT or OFFSET count comes from. */
export type CountSource = { value: number } | { param: number };

/** A HAVING condition, evaluated by the router on merged groups (MySQL's three-valued logic). */
export type HavingExpr =
  | { op: 'value'; value: GroupValue }
  | { op: 'param'; index: number }
  | { op: 'number'; text: string }
  | { op: 'null' }
  | { op: 'binary'; operator: string; left: HavingExpr; right: HavingExpr }
  | { op: 'not'; expr: HavingExpr }
  | { op: 'is-null'; expr: HavingExpr; negate: boolean }
  | { op: 'in'; expr: HavingExpr; list: HavingExpr[]; negate: boolean }
  | { op: 'between'; expr: HavingExpr; low: HavingExpr; high: HavingExpr; negate: boolean };

/** A SELECT whose groups are formed by the router (GROUP BY, DISTINCT, aggregates). */
export interface GroupedSpec {
  kind: 'grouped';
  /** {@link PARTIAL_PREFIX}: the partial columns' names start with it. */
  prefix: string;
  keys: number;
  distincts: number;
  partials: PartialFn[];
  outputs: { name: string; value: GroupValue }[];
  having: HavingExpr | null;
  orderBy: { value: GroupValue; desc: boolean }[];
  limit: CountSource | null;
  offset: CountSource | null;
}

/** An ungrouped SELECT merged in order: each ORDER BY item carries its collation weight `w<i>`. */
export interface SortedSpec {
  kind: 'sorted';
  /**
   * Output column names of the ORDER BY items (for a wrapper's ORDER BY and the values);
   * `byWeight` for an item with its own COLLATE, which a wrapper orders by its weight column.
   */
  orderBy: { column: string; desc: boolean; byWeight?: boolean }[];
  limit: CountSource | null;
  offset: CountSource | null;
}

/** A multi-shard SELECT's partial statement and how its rows merge. */
export interface ScatterRewrite {
  /** The partial statement on logical table names, without LIMIT (added per plan). */
  sql: string;
  /** For each placeholder of `sql`, the index of the original statement's parameter it takes. */
  params: number[];
  spec: GroupedSpec | SortedSpec;
}
