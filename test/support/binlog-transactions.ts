import type { MysqlSession } from '../../src/net/index.js';

/** The binary log's end: `SHOW BINARY LOG STATUS` (MySQL 8.4+), else `SHOW MASTER STATUS`. */
export async function binlogEnd(s: MysqlSession): Promise<{ file: string; pos: number }> {
  let rows: Record<string, unknown>[];
  try {
    rows = await s.query('SHOW BINARY LOG STATUS');
  } catch {
    rows = await s.query('SHOW MASTER STATUS');
  }
  return { file: String(rows[0]!['File']), pos: Number(rows[0]!['Position']) };
}

/**
 * The transactions written to the binary log since `from` (same file), each as the set of
 * `db.table` its table-map events name — read with SHOW BINLOG EVENTS (MySQL and MariaDB).
 */
export async function binlogTransactionTables(s: MysqlSession, from: { file: string; pos: number }): Promise<Set<string>[]> {
  const events = await s.query<{ Event_type: string; Info: string }>(`SHOW BINLOG EVENTS IN '${from.file}' FROM ${from.pos}`);
  const out: Set<string>[] = [];
  let current = new Set<string>();
  for (const e of events) {
    if (e.Event_type === 'Table_map') {
      const m = /\(([^)]+)\)/.exec(e.Info);
      if (m) current.add(m[1]!.replace(/`/g, ''));
    } else if (e.Event_type === 'Xid' || (e.Event_type === 'Query' && /^\s*COMMIT/i.test(e.Info))) {
      if (current.size) out.push(current);
      current = new Set();
    }
  }
  return out;
}
