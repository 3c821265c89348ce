import type { Topology } from '../shard/index.js';

/** One physical table of a moving shard. */
export interface MovedTable {
  logical: string;
  shard: number;
  database: string;
  table: string;
  /** `database.table`, the key of its progress. */
  key: string;
}

/** The physical tables of `shards`: every sharded logical table of each, in shard then table order. */
export function movedTables(topology: Topology, shards: readonly number[]): MovedTable[] {
  const logicals = topology
    .allTables()
    .filter(([, k]) => k.kind === 'sharded')
    .map(([n]) => n)
    .sort();
  return shards.flatMap((shard) =>
    logicals.map((logical) => {
      const database = topology.names.database(shard);
      const table = topology.names.table(logical, shard);
      return { logical, shard, database, table, key: `${database}.${table}` };
    }),
  );
}

/** The name a fenced (moved-away) physical table gets on the instance that gave it up. */
export function fencedName(table: string): string {
  return `_moved_${table}`;
}
