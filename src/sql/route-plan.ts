import type { GroupedSpec } from './scatter-spec.js';

/** How a statement is routed. */
export type RouteKind = 'single' | 'multi' | 'scatter' | 'broadcast';

/** A value bound to a placeholder. */
export type SqlParam = string | number | bigint | boolean | null | Date | Buffer | readonly SqlParam[];

/** One round trip: physical SQL for one instance. */
export interface RouteTarget {
  instance: string;
  /** The logical shards this round trip covers (empty for broadcast tables). */
  shards: number[];
  sql: string;
  params: SqlParam[];
}

/** An ORDER BY item of a sorted merge: the output column, and the partial columns with its collation weight and collation. */
export interface SortItem {
  column: string;
  desc: boolean;
  /** The item has its own COLLATE: a wrapper orders by the weight column. */
  byWeight?: boolean;
  weight: string;
  collation: string;
}

/** How the rows of several round trips become one result. */
export type MergeSpec =
  | { kind: 'single' }
  | { kind: 'concat'; limit: number | null }
  /** k-way merge by the rows' collation weights (`__shardline_w<i>`), then OFFSET and LIMIT; no ORDER BY: concatenated. */
  | { kind: 'sorted'; orderBy: SortItem[]; limit: number | null; offset: number }
  /** Partial groups folded by the router (see merge-grouped.ts). */
  | { kind: 'grouped'; spec: GroupedSpec; params: SqlParam[]; limit: number | null; offset: number; maxGroups: number }
  | { kind: 'sum-affected' };

/** An executable, explainable plan. */
export interface RoutePlan {
  kind: RouteKind;
  statement: 'select' | 'insert' | 'replace' | 'update' | 'delete';
  write: boolean;
  /** Logical shards touched, ascending (empty for broadcast-only statements). */
  shards: number[];
  targets: RouteTarget[];
  merge: MergeSpec;
  /** A write to a broadcast table: every instance gets it. */
  fanOut: boolean;
  /** A locking read (FOR UPDATE / FOR SHARE): never sent to a replica. */
  lockingRead?: boolean;
  /** The statement leaves state on its connection (a variable set, a named lock): a transaction closes the connection after it. */
  setsSession?: boolean;
}
