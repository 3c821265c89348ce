import type { InstanceConfig } from '../../config/index.js';
import { ReplicationError } from '../../errors/index.js';
import { openMysqlSession } from '../../net/index.js';
import { ShardMap, latestShardMapSql, shardMapTable } from '../../shard/index.js';

/** Where a reader finds published shard-map versions (`<metaDatabase>.shard_map` on its instance). */
export interface ShardMapSource {
  /** The database whose `shard_map` rows in the binlog are new versions. */
  readonly metaDatabase: string;
  /** The config's map (version 1 unless configured otherwise): in force before any version is published. */
  readonly base: ShardMap;
  /** A published version (the base for its own version), or the latest one (never older than the base). */
  load(version: number | 'latest'): Promise<ShardMap>;
}

/**
 * Reads published shard-map versions from an instance's nodes (its primary, else a replica: the
 * rows replicate). A version that is nowhere to be read — the table is missing, or the version
 * was deleted by hand — fails the load; the reader then retries from its checkpoint.
 */
export function instanceShardMaps(instance: InstanceConfig, metaDatabase: string, base: ShardMap): ShardMapSource {
  const nodes = [instance, ...(instance.replicas ?? [])];
  const query = async (sql: string, values: unknown[]): Promise<Record<string, unknown>[]> => {
    let last: unknown = null;
    for (const node of nodes) {
      const session = await openMysqlSession({
        name: node.name,
        host: node.host,
        port: node.port,
        user: instance.user,
        password: instance.password,
        tls: instance.tls,
        serverPublicKey: node.serverPublicKey,
      }).catch((err: unknown) => {
        last = err;
        return null;
      });
      if (!session) continue;
      try {
        return await session.query(sql, values);
      } catch (err) {
        const errno = (err as { errno?: number }).errno ?? (err as { details?: { errno?: number } }).details?.errno;
        // no table or no database yet: nothing was ever published there
        if (errno === 1146 || errno === 1049) return [];
        last = err;
      } finally {
        await session.close();
      }
    }
    throw new ReplicationError(
      'SHARD_HANDOFF',
      `cannot read the published shard maps of ${instance.name}: ${last instanceof Error ? last.message : String(last)}`,
      {
        retriable: true,
        cause: last,
      },
    );
  };
  const parse = (row: Record<string, unknown>) => ShardMap.fromJson(Number(row['version']), base.shardCount, String(row['ranges']));
  return {
    metaDatabase,
    base,
    async load(version) {
      if (version === 'latest') {
        const [row] = await query(latestShardMapSql(metaDatabase), []);
        const latest = row ? parse(row) : null;
        return latest && latest.version > base.version ? latest : base;
      }
      if (version === base.version) return base;
      const [row] = await query(`SELECT version, ranges FROM ${shardMapTable(metaDatabase)} WHERE version = ?`, [version]);
      if (!row)
        throw new ReplicationError(
          'SHARD_HANDOFF',
          `shard map version ${version} is not in ${metaDatabase}.shard_map on ${instance.name}`,
          {
            retriable: true,
          },
        );
      return parse(row);
    },
  };
}
