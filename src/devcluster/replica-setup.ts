import { existsSync } from 'node:fs';
import { DevClusterError } from '../errors/index.js';
import { changeSourceSql, type BoundStatement, type MysqlSession } from '../net/index.js';
import type { Health } from './health.js';
import type { ServiceSpec } from './service-spec.js';

/** What `SHOW REPLICA STATUS` says about one replica (MySQL's and MariaDB's column names alike). */
export interface ReplicationState {
  /** A source is configured (an empty result means `CHANGE … SOURCE/MASTER TO` never ran). */
  configured: boolean;
  sourceHost: string;
  sourcePort: number;
  /** `Yes`, `No` or `Connecting`. */
  ioRunning: string;
  sqlRunning: string;
  lastIoError: string;
  lastSqlError: string;
  /** Seconds behind the source, null while a thread is stopped. */
  secondsBehind: number | null;
}

function field(row: Record<string, unknown>, ...names: string[]): string {
  for (const n of names) {
    const v = row[n];
    if (v !== undefined && v !== null) return String(v);
  }
  return '';
}

/** Reads a `SHOW REPLICA STATUS` row (MySQL 8.0.22+: `Replica_*`/`Source_*`; MariaDB: `Slave_*`/`Master_*`). */
export function parseReplicaStatus(row: Record<string, unknown> | undefined): ReplicationState {
  if (!row) {
    return {
      configured: false,
      sourceHost: '',
      sourcePort: 0,
      ioRunning: 'No',
      sqlRunning: 'No',
      lastIoError: '',
      lastSqlError: '',
      secondsBehind: null,
    };
  }
  const behind = field(row, 'Seconds_Behind_Source', 'Seconds_Behind_Master');
  return {
    configured: field(row, 'Source_Host', 'Master_Host') !== '',
    sourceHost: field(row, 'Source_Host', 'Master_Host'),
    sourcePort: Number(field(row, 'Source_Port', 'Master_Port') || 0),
    ioRunning: field(row, 'Replica_IO_Running', 'Slave_IO_Running') || 'No',
    sqlRunning: field(row, 'Replica_SQL_Running', 'Slave_SQL_Running') || 'No',
    lastIoError: field(row, 'Last_IO_Error'),
    lastSqlError: field(row, 'Last_SQL_Error'),
    secondsBehind: behind === '' ? null : Number(behind),
  };
}

/** Healthy when both replication threads run; otherwise why not, with the server's last errors. */
export function replicationHealth(state: ReplicationState): Health {
  if (!state.configured) return { healthy: false, reason: 'replication is not configured (no source)' };
  if (state.ioRunning === 'Yes' && state.sqlRunning === 'Yes') return { healthy: true };
  const errors = [
    state.lastIoError && `Last_IO_Error: ${state.lastIoError}`,
    state.lastSqlError && `Last_SQL_Error: ${state.lastSqlError}`,
  ].filter(Boolean);
  return {
    healthy: false,
    reason: `replication from ${state.sourceHost}:${state.sourcePort} is not running (IO thread ${state.ioRunning}, SQL thread ${state.sqlRunning})${errors.length ? `; ${errors.join('; ')}` : ''}`,
  };
}

export type { BoundStatement } from '../net/index.js';

/**
 * The statement that points a replica at its primary with GTID auto-positioning: MySQL's
 * `CHANGE REPLICATION SOURCE TO … SOURCE_AUTO_POSITION=1` (caching_sha2_password over plain TCP
 * with the primary's RSA key from its datadir, or TLS with the dev CA), MariaDB's
 * `CHANGE MASTER TO … MASTER_USE_GTID=slave_pos`.
 */
export function changeSourceStatement(
  spec: Pick<ServiceSpec, 'kind' | 'name' | 'replicaOf' | 'sql' | 'tls'>,
  options: { primaryPublicKeyPath?: string } = {},
): BoundStatement {
  const source = spec.replicaOf;
  const account = spec.sql?.replication;
  if (!source || !account)
    throw new DevClusterError('DEV_START_FAILED', `${spec.name}: not a replica, or its primary has no replication account`);
  return changeSourceSql(spec.kind === 'mariadb' ? 'mariadb' : 'mysql', source, account, {
    tls: spec.tls ? { ca: spec.tls.ca } : undefined,
    publicKeyPath: options.primaryPublicKeyPath,
  });
}

/** `SHOW REPLICA STATUS` on MySQL 8.0.22+ and MariaDB 10.5+. */
export async function readReplicationState(session: MysqlSession): Promise<ReplicationState> {
  const [row] = await session.query('SHOW REPLICA STATUS');
  return parseReplicaStatus(row);
}

/**
 * Why a fresh replica cannot catch up from the primary's binlogs, or null: the primary purged
 * transactions the replica does not have (MySQL: `gtid_purged` not within the replica's
 * `gtid_executed`; MariaDB: the oldest binlog's Gtid_list is not empty while the replica has
 * no position yet).
 */
async function purgedHistory(spec: ServiceSpec, primary: MysqlSession, replica: MysqlSession): Promise<string | null> {
  if (spec.kind === 'mariadb') {
    const [pos] = await replica.query<{ p: string | null }>('SELECT @@gtid_slave_pos AS p');
    if (pos?.p) return null;
    const [first] = await primary.query<{ Log_name: string }>('SHOW BINARY LOGS');
    if (!first) return null;
    const events = await primary.query<{ Event_type: string; Info: string }>(
      `SHOW BINLOG EVENTS IN '${first.Log_name.replace(/'/g, "''")}' LIMIT 4`,
    );
    const list = events.find((e) => e.Event_type === 'Gtid_list');
    return list && !/^\[\s*\]$/.test(list.Info.trim()) ? `its oldest binlog ${first.Log_name} starts after ${list.Info}` : null;
  }
  const [have] = await replica.query<{ e: string }>('SELECT @@gtid_executed AS e');
  const [row] = await primary.query<{ p: string; ok: number }>('SELECT @@gtid_purged AS p, GTID_SUBSET(@@gtid_purged, ?) AS ok', [
    have?.e ?? '',
  ]);
  return row && row.p !== '' && Number(row.ok) !== 1 ? `it purged ${row.p.replace(/\n/g, '')} from its binlogs` : null;
}

/**
 * Points a replica at its primary (once) and starts replication; on a configured replica it
 * only starts the threads that are not running. Nothing is written on the replica itself: the
 * accounts arrive by replication (a local write would be an errant GTID).
 * @throws {DevClusterError} `DEV_START_FAILED` when the primary no longer has the binlogs a
 * fresh replica needs.
 */
export async function ensureReplication(
  spec: ServiceSpec,
  sessions: { replica: MysqlSession; primary: () => Promise<MysqlSession> },
  options: { primaryPublicKeyPath?: string; primaryDataDir: string; replicaDataDir: string },
): Promise<void> {
  const { replica } = sessions;
  const state = await readReplicationState(replica);
  if (!state.configured) {
    const primary = await sessions.primary();
    try {
      const purged = await purgedHistory(spec, primary, replica);
      if (purged) {
        throw new DevClusterError(
          'DEV_START_FAILED',
          `${spec.name}: cannot start replicating from ${spec.replicaOf!.name}: ${purged}, so a fresh replica would miss those transactions ` +
            `(this dev cluster does not provision replicas from a dump). Start the shard over: \`shardline dev down\`, remove ${options.primaryDataDir} ` +
            `and ${options.replicaDataDir} (their data is lost), then \`shardline dev up\`.`,
        );
      }
    } finally {
      await primary.close();
    }
    const publicKey = options.primaryPublicKeyPath && existsSync(options.primaryPublicKeyPath) ? options.primaryPublicKeyPath : undefined;
    const change = changeSourceStatement(spec, publicKey ? { primaryPublicKeyPath: publicKey } : {});
    await replica.query(change.sql, change.values);
  }
  if (state.ioRunning !== 'Yes' || state.sqlRunning !== 'Yes') {
    await replica.query(spec.kind === 'mariadb' ? 'START SLAVE' : 'START REPLICA');
  }
}

/**
 * Whether the replica has applied everything the primary had committed when asked (MySQL: the
 * primary's `gtid_executed` within the replica's; MariaDB: `MASTER_GTID_WAIT` on the primary's
 * `gtid_binlog_pos`, without waiting). Null when caught up, else how far it is.
 */
export async function caughtUp(kind: ServiceSpec['kind'], primary: MysqlSession, replica: MysqlSession): Promise<string | null> {
  if (kind === 'mariadb') {
    const [p] = await primary.query<{ pos: string }>('SELECT @@gtid_binlog_pos AS pos');
    const target = p?.pos ?? '';
    if (!target) return null;
    const [r] = await replica.query<{ w: number; pos: string }>('SELECT MASTER_GTID_WAIT(?, 0) AS w, @@gtid_slave_pos AS pos', [target]);
    return Number(r?.w) === 0 ? null : `applied up to ${r?.pos || 'nothing'}, the primary is at ${target}`;
  }
  const [p] = await primary.query<{ e: string }>('SELECT @@gtid_executed AS e');
  const target = (p?.e ?? '').replace(/\n/g, '');
  const [r] = await replica.query<{ ok: number; e: string }>('SELECT GTID_SUBSET(?, @@gtid_executed) AS ok, @@gtid_executed AS e', [
    target,
  ]);
  return Number(r?.ok) === 1 ? null : `applied ${(r?.e ?? '').replace(/\n/g, '') || 'nothing'}, the primary has ${target}`;
}
