import type { SnapshotTable } from '../snapshot/chunk-reader.js';
import type { ShardMap } from '../../shard/index.js';
import { captureTarget, type CaptureRules } from './capture-rules.js';

/**
 * The physical tables of an instance whose rows a snapshot reads: the shards of every captured
 * logical table that the instance owns, the broadcast tables on the instance that publishes
 * them, and passed-through `db.table` includes; shard ownership by `map` (the reader's, default the
 * topology's). Pure.
 */
export function snapshotTables(rules: CaptureRules, instance: string, map: ShardMap = rules.topology.map): SnapshotTable[] {
  const out: SnapshotTable[] = [];
  const add = (database: string, table: string) => {
    const target = captureTarget(rules, instance, database, table, map);
    if (target) out.push({ database, table, logical: target.logical, shard: target.shard });
  };
  const { topology } = rules;
  for (const [logical, kind] of topology.allTables()) {
    if (kind.kind === 'sharded')
      for (const shard of map.shardsOf(instance)) add(topology.names.database(shard), topology.names.table(logical, shard));
    else add(rules.broadcastDatabase, logical);
  }
  for (const name of rules.include ?? []) {
    const dot = name.indexOf('.');
    if (dot > 0) add(name.slice(0, dot), name.slice(dot + 1));
  }
  return out;
}
