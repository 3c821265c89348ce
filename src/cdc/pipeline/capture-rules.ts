import type { ShardMap, Topology } from '../../shard/index.js';

/** Which tables a worker captures and under which name. */
export interface CaptureRules {
  topology: Topology;
  /** `db.table` of unsharded tables to pass through under their own name (beyond the sharding config's tables). */
  include: ReadonlySet<string> | null;
  /** Logical or `db.table` names never captured. */
  exclude: ReadonlySet<string>;
  /** The broadcast database (`app_global`); its tables are captured from one instance only. */
  broadcastDatabase: string;
  broadcastInstance: string;
}

/** Where a physical table's changes go: the logical table, and the shard when it is one. */
export interface CaptureTarget {
  logical: string;
  shard: number | null;
}

/**
 * Maps a physical table on an instance to its logical stream, or null when it is not captured
 * (pure). Shards of a logical table merge into it (`app_08.users_0513` → `users`, shard 513) —
 * only on the instance that owns the shard; broadcast tables come from one instance; other
 * tables pass through under their own name when included by `db.table`. Ownership is judged by
 * `map` (the topology's by default; null: any owner — what a decoder must keep, since the reader
 * may adopt a new map before it reaches these rows).
 */
export function captureTarget(
  rules: CaptureRules,
  instance: string,
  database: string,
  table: string,
  map: ShardMap | null = rules.topology.map,
): CaptureTarget | null {
  if (rules.exclude.has(`${database}.${table}`)) return null;
  const mapped = rules.topology.logicalOf(database, table);
  if (mapped) {
    if (rules.exclude.has(mapped.logical) || (map !== null && map.instanceOf(mapped.shard) !== instance)) return null;
    return { logical: mapped.logical, shard: mapped.shard };
  }
  if (database === rules.broadcastDatabase && rules.topology.table(table)?.kind === 'broadcast') {
    return instance === rules.broadcastInstance && !rules.exclude.has(table) ? { logical: table, shard: null } : null;
  }
  if (rules.include?.has(`${database}.${table}`) && !rules.exclude.has(table)) return { logical: table, shard: null };
  return null;
}
