import { quoteIdent } from './physical-names.js';

/**
 * Where published shard-map versions live: `<metaDatabase>.shard_map` on every instance, one row
 * per version (never updated). A shard move writes the new version on the instance that gains
 * shards first, then on every other; routers read the highest version any instance holds.
 */
export function shardMapTable(metaDatabase: string): string {
  return `${quoteIdent(metaDatabase)}.\`shard_map\``;
}

/** The statement that creates the table of published versions (idempotent). */
export function createShardMapTableSql(metaDatabase: string): string {
  return `CREATE TABLE IF NOT EXISTS ${shardMapTable(metaDatabase)} (version INT UNSIGNED NOT NULL PRIMARY KEY, ranges MEDIUMTEXT NOT NULL, move VARCHAR(64) NULL, published_at DATETIME(6) NOT NULL) ENGINE=InnoDB`;
}

/** The statement that reads the latest published version (columns `version`, `ranges`). */
export function latestShardMapSql(metaDatabase: string): string {
  return `SELECT version, ranges FROM ${shardMapTable(metaDatabase)} ORDER BY version DESC LIMIT 1`;
}

/**
 * The SQLSTATE a shard move's fence trigger fails a write with on the instance the shard is
 * leaving. The statement wrote nothing: routers wait for the next shard map and run it again.
 */
export const MOVE_FENCE_SQLSTATE = '45F01';
