import { existsSync } from 'node:fs';
import { DevClusterError } from '../errors/index.js';
import { changeSourceSql, type MysqlSession } from '../net/index.js';
import { readReplicationState } from './replica-setup.js';
import { rejoinStep, type RejoinStep } from './rejoin-plan.js';
import type { ServiceSpec } from './service-spec.js';

/**
 * Rejoins a configured primary that another node replaced (its spec has `rejoin`, and
 * `replicaOf` names the node that takes writes now). It was started with a replica's options
 * (read_only, MySQL super_read_only), and is fenced again here before anything else, in case it
 * was already running. Then, unless it already replicates from the new primary: when everything
 * it holds reached the new primary, it replicates from it by GTID (MySQL auto-positioning,
 * MariaDB `current_pos`: its own binlog knows where it stopped); otherwise nothing is changed and
 * the caller re-provisions it (`reprovision`, with its errant GTIDs). Writes nothing but
 * replication settings: a local write would itself be errant.
 * @throws {DevClusterError} `DEV_START_FAILED` for a spec that is not rejoining
 */
export async function rejoinAsReplica(
  spec: ServiceSpec,
  sessions: { node: MysqlSession; writer: () => Promise<MysqlSession> },
  options: { writerPublicKeyPath?: string } = {},
): Promise<RejoinStep> {
  const source = spec.replicaOf;
  const account = spec.sql?.replication;
  if (!spec.rejoin || !source || !account)
    throw new DevClusterError('DEV_START_FAILED', `${spec.name}: not a primary rejoining as a replica, or no replication account`);
  const { node } = sessions;
  const mysql = spec.kind !== 'mariadb';
  await node.query(mysql ? 'SET GLOBAL super_read_only = ON' : 'SET GLOBAL read_only = ON');
  const state = await readReplicationState(node);
  const followsWriter = state.configured && state.sourcePort === source.port && state.sourceHost === source.host;
  const gtids = mysql ? 'SELECT @@global.gtid_executed AS g' : 'SELECT @@global.gtid_binlog_state AS g';
  let own = '';
  let writer = '';
  if (!followsWriter) {
    own = String((await node.query<{ g: string }>(gtids))[0]?.g ?? '');
    const w = await sessions.writer();
    try {
      writer = String((await w.query<{ g: string }>(gtids))[0]?.g ?? '');
    } finally {
      await w.close();
    }
  }
  const step = rejoinStep({ flavour: mysql ? 'mysql' : 'mariadb', followsWriter, own, writer });
  if (step.action !== 'replicate') return step;
  if (state.configured) await node.query(mysql ? 'STOP REPLICA' : 'STOP SLAVE');
  const key = options.writerPublicKeyPath && existsSync(options.writerPublicKeyPath) ? options.writerPublicKeyPath : undefined;
  const change = changeSourceSql(
    mysql ? 'mysql' : 'mariadb',
    source,
    account,
    { tls: spec.tls ? { ca: spec.tls.ca } : undefined, publicKeyPath: key },
    'current_pos',
  );
  await node.query(change.sql, change.values);
  await node.query(mysql ? 'START REPLICA' : 'START SLAVE');
  return step;
}
