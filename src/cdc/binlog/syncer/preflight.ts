import { BinlogError } from '../../../errors/index.js';
import type { ReplicationConnection } from '../../../net/index.js';

/** What the reader learned about the server before dumping. */
export interface ServerFacts {
  flavour: 'mysql' | 'mariadb';
  version: string;
  serverId: number;
  serverUuid: string | null;
  checksum: 'crc32' | 'none';
  /** Where the binlog ends now. */
  current: { file: string; pos: number };
  /** Executed GTID set (MySQL) or current GTID position (MariaDB). */
  gtidExecuted: string;
  /** MariaDB: `@@gtid_binlog_state`, the last GTID of every (domain, server) in the binlog; '' on MySQL. */
  binlogState: string;
  /** Binlog files the server still has, oldest first. */
  files: string[];
}

/**
 * Checks the server variables and grants CDC depends on, naming the first one that is wrong.
 * @throws {BinlogError} BINLOG_PRECONDITION
 */
export async function preflight(conn: ReplicationConnection, instance: string): Promise<ServerFacts> {
  const at = { file: '(preflight)', pos: 0 };
  const fail = (message: string) => new BinlogError('BINLOG_PRECONDITION', `instance ${instance}: ${message}`, at);
  const [vars] = await conn.query<Record<string, string | number | null>>(
    'SELECT VERSION() AS version, @@log_bin AS log_bin, @@binlog_format AS format, @@binlog_row_image AS image, @@binlog_row_metadata AS metadata, @@server_id AS server_id, @@global.binlog_checksum AS checksum',
  );
  if (!vars) throw fail('cannot read server variables');
  const flavour = /mariadb/i.test(String(vars['version'])) ? 'mariadb' : 'mysql';
  if (Number(vars['log_bin']) !== 1) throw fail('log_bin is OFF: the binary log must be enabled (--log-bin)');
  if (vars['format'] !== 'ROW') throw fail(`binlog_format is ${vars['format']}: it must be ROW`);
  if (vars['image'] !== 'FULL') throw fail(`binlog_row_image is ${vars['image']}: it must be FULL`);
  if (vars['metadata'] !== 'FULL')
    throw fail(
      `binlog_row_metadata is ${vars['metadata']}: it must be FULL (column names, signedness, charsets and ENUM/SET labels come from it)`,
    );
  let serverUuid: string | null = null;
  let gtidExecuted: string;
  let binlogState = '';
  if (flavour === 'mysql') {
    const [u] = await conn.query<Record<string, string>>('SELECT @@server_uuid AS uuid, @@gtid_executed AS gtids');
    serverUuid = u?.['uuid'] ?? null;
    gtidExecuted = String(u?.['gtids'] ?? '').replace(/\s+/g, '');
  } else {
    const [g] = await conn.query<Record<string, string>>('SELECT @@gtid_binlog_pos AS pos, @@gtid_binlog_state AS state');
    gtidExecuted = String(g?.['pos'] ?? '');
    binlogState = String(g?.['state'] ?? '');
  }
  let status: Record<string, unknown> | undefined;
  try {
    [status] = await conn.query<Record<string, unknown>>('SHOW MASTER STATUS');
  } catch {
    try {
      [status] = await conn.query<Record<string, unknown>>('SHOW BINARY LOG STATUS');
    } catch (err) {
      throw fail(`cannot read the binlog position (${(err as Error).message}): grant REPLICATION CLIENT (MariaDB: BINLOG MONITOR)`);
    }
  }
  if (!status) throw fail('SHOW MASTER STATUS returned nothing: is the binary log enabled?');
  let files: string[];
  try {
    files = (await conn.query<Record<string, string>>('SHOW BINARY LOGS')).map((r) => String(r['Log_name']));
  } catch (err) {
    throw fail(`cannot list binlog files (${(err as Error).message}): grant REPLICATION CLIENT (MariaDB: BINLOG MONITOR)`);
  }
  const checksum = String(vars['checksum']).toUpperCase() === 'CRC32' ? 'crc32' : 'none';
  return {
    flavour,
    version: String(vars['version']),
    serverId: Number(vars['server_id']),
    serverUuid,
    checksum,
    current: { file: String(status['File']), pos: Number(status['Position']) },
    gtidExecuted,
    binlogState,
    files,
  };
}

/** Session settings a replica must make before dumping. */
export async function prepareDumpSession(conn: ReplicationConnection, facts: ServerFacts, heartbeatMs: number): Promise<void> {
  const trySet = async (...statements: string[]) => {
    let last: unknown;
    for (const sql of statements) {
      try {
        await conn.query(sql);
        return;
      } catch (err) {
        last = err;
      }
    }
    throw last;
  };
  await trySet(
    'SET @source_binlog_checksum = @@global.binlog_checksum, @master_binlog_checksum = @@global.binlog_checksum',
    'SET @master_binlog_checksum = @@global.binlog_checksum',
  );
  const ns = BigInt(heartbeatMs) * 1_000_000n;
  await trySet(`SET @source_heartbeat_period = ${ns}, @master_heartbeat_period = ${ns}`, `SET @master_heartbeat_period = ${ns}`);
  if (facts.flavour === 'mariadb') await conn.query('SET @mariadb_slave_capability = 4');
}
