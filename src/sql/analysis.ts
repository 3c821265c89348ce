import type { CountSource, ScatterRewrite } from './scatter-spec.js';
import type { SessionStateUse } from './session-state.js';

/** Where a shard-key value comes from: a placeholder (by index) or a literal in the SQL. */
export type KeySource = { param: number } | { literal: string };

/**
 * The text of a shard-key `IN (…)` list whose items are each one placeholder or literal:
 * [start, end) lies between its parentheses, and `items[i]` is the span of `values[i]`. A
 * multi-shard plan gives each shard only the items that hash to it.
 */
export interface InListText {
  start: number;
  end: number;
  items: { start: number; end: number }[];
}

/** A shard-key predicate: `key = v` or `key IN (v, …)`; `list` when the IN list can be pruned per shard. */
export interface KeyPredicate {
  table: string;
  column: string;
  values: KeySource[];
  list?: InListText | undefined;
}

/** A span of the SQL text naming a logical table, replaced by its physical name per shard. */
export interface Splice {
  start: number;
  end: number;
  table: string;
  kind: 'sharded' | 'broadcast';
}

/** One VALUES tuple of an INSERT, with the source of its shard key and its placeholders. */
export interface InsertRow {
  start: number;
  end: number;
  key: KeySource;
  firstParam: number;
  paramCount: number;
}

/** The VALUES list of an INSERT/REPLACE: [start, end) covers every tuple. */
export interface InsertRows {
  /** The logical table inserted into (its shard key's routing decides each row's shard). */
  table: string;
  start: number;
  end: number;
  rows: InsertRow[];
  /** Placeholders before the first tuple, and the index of the first one after the last tuple. */
  paramsBefore: number;
  paramsAfter: number;
}

/** What a SELECT needs to be merged across shards. */
export interface SelectShape {
  /** The LIMIT of a SELECT whose rows concatenate (no rewrite). */
  limit: CountSource | null;
  /** The partial statement and merge when the shards cannot answer as written; null when rows concatenate. */
  rewrite: (ScatterRewrite & { analysis: Analysis }) | null;
  /** Why rows of several shards cannot be merged (window functions, UNION, …); null when they can. */
  unmergeable: string | null;
}

/** The cached, parameter-independent analysis of one SQL text. */
export interface Analysis {
  sql: string;
  statement: 'select' | 'insert' | 'replace' | 'update' | 'delete';
  write: boolean;
  paramCount: number;
  /** Sorted by start, non-overlapping. */
  splices: Splice[];
  /** The static text between splices: pieces.length === splices.length + 1. */
  pieces: string[];
  shardedTables: string[];
  broadcastTables: string[];
  /** The shard-key predicate that bounds the statement when all its sharded tables form one co-located group. */
  key: KeyPredicate | null;
  /**
   * Every group of co-located sharded-table references (see key-groups.ts) with its predicate;
   * with more than one group the statement runs only when every group lands on one shard.
   * Empty for INSERT/REPLACE (their rows carry the key).
   */
  groups: { table: string; column: string; pin: KeyPredicate | null }[];
  /** Why the statement must not run on several shards at once (non-co-located subquery, LIMIT on a write), or null. */
  perShardBlocker: string | null;
  insert: InsertRows | null;
  select: SelectShape | null;
  /** A SELECT with FOR UPDATE, FOR SHARE or LOCK IN SHARE MODE anywhere in it: it reads on the primary only. */
  lockingRead: boolean;
  /** What the statement does with its connection's state (user variables, named locks, LAST_INSERT_ID(), …), or null. */
  session: SessionStateUse | null;
}
