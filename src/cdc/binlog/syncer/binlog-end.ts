import { openReplicationConnection, type ReplicationEndpoint } from '../../../net/index.js';

/** Where a server's binlog ends, with the GTID set (MySQL) or position (MariaDB) at exactly that point. */
export interface BinlogEnd {
  file: string;
  pos: number;
  gtidSet: string;
}

/**
 * The end of the binlog and the GTIDs at exactly that point, or null when the server cannot say
 * without privileges the account lacks. MySQL: `performance_schema.log_status`, which collects
 * both under the binlog's lock (BACKUP_ADMIN) — `SHOW BINARY LOG STATUS` reads them at two
 * moments, and a commit in between would leave a hole in the set; MariaDB: the position, then
 * `BINLOG_GTID_POS()` of it, exact by construction.
 */
export async function exactBinlogEnd(endpoint: ReplicationEndpoint, flavour: 'mysql' | 'mariadb'): Promise<BinlogEnd | null> {
  const conn = await openReplicationConnection(endpoint);
  try {
    if (flavour === 'mysql') {
      const [row] = await conn.query<{ local: unknown }>('SELECT LOCAL AS local FROM performance_schema.log_status').catch(() => []);
      if (!row) return null;
      const local = (typeof row.local === 'string' ? JSON.parse(row.local) : row.local) as {
        gtid_executed?: string;
        binary_log_file?: string;
        binary_log_position?: number;
      };
      if (typeof local.binary_log_file !== 'string' || typeof local.binary_log_position !== 'number') return null;
      return {
        file: local.binary_log_file,
        pos: local.binary_log_position,
        gtidSet: String(local.gtid_executed ?? '').replace(/\s+/g, ''),
      };
    }
    const [status] = await conn.query<Record<string, unknown>>('SHOW MASTER STATUS').catch(() => []);
    if (!status) return null;
    const file = String(status['File']);
    const pos = Number(status['Position']);
    const [g] = await conn.query<{ g: string | null }>('SELECT BINLOG_GTID_POS(?, ?) AS g', [file, pos]).catch(() => []);
    if (!g || g.g === null) return null;
    return { file, pos, gtidSet: String(g.g) };
  } finally {
    conn.destroy();
  }
}
