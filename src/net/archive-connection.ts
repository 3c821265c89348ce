import mysql, { type Connection, type ResultSetHeader } from 'mysql2/promise';
import { mysqlSecurityOptions, securityFailure, type MysqlSecurity } from './mysql-security.js';
import { leavesConnectionUnusable, serverError } from './server-error-class.js';
import { LOSSLESS_VALUES } from './value-options.js';

/** Where the archive store listens (a MySQL-protocol server: MySQL locally, TiDB in production). */
export interface ArchiveEndpoint extends MysqlSecurity {
  host: string;
  port: number;
  user: string;
  password: string;
  connectTimeoutMs?: number;
}

/** What a statement on the archive returned: its rows, or the OK packet's counts. */
export interface ArchiveOutcome {
  rows: Record<string, unknown>[];
  affectedRows: number;
  /** The server's info text (`Records: 3  Duplicates: 1  Warnings: 0` after a multi-row INSERT). */
  info: string;
}

/** One session on the archive store with the sink's session settings applied. */
export interface ArchiveConnection {
  /** Runs one statement; values are bound through the driver's placeholders (`?`). */
  query(sql: string, values?: readonly unknown[]): Promise<ArchiveOutcome>;
  /** True once the connection failed fatally; it must be replaced. */
  readonly broken: boolean;
  close(): Promise<void>;
  destroy(): void;
}

/**
 * The archive session's sql_mode: strict (a value that does not fit its column is an error, not
 * a silent truncation) but accepting what a source may hold — zero dates (`0000-00-00`), zero
 * parts (`2024-00-00`) and invalid dates. Deliberately without NO_BACKSLASH_ESCAPES, which the
 * driver's escaping of bound values relies on. Every mode listed is supported by TiDB.
 */
export const ARCHIVE_SQL_MODE = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION,ALLOW_INVALID_DATES';

/**
 * Opens one connection to the archive: utf8mb4, BIGINT/DECIMAL/dates read as text, no
 * CLIENT_FOUND_ROWS (so an upsert that changes nothing reports 0 affected rows), session in UTC
 * (TIMESTAMP values are written as UTC text) with {@link ARCHIVE_SQL_MODE}, READ COMMITTED where
 * the server allows it (fewer gap locks between concurrent writers).
 */
export async function openArchiveConnection(endpoint: ArchiveEndpoint): Promise<ArchiveConnection> {
  const conn: Connection = await mysql
    .createConnection({
      host: endpoint.host,
      port: endpoint.port,
      user: endpoint.user,
      password: endpoint.password,
      charset: 'utf8mb4_general_ci',
      connectTimeout: endpoint.connectTimeoutMs ?? 5000,
      ...LOSSLESS_VALUES,
      ...mysqlSecurityOptions({ name: 'archive', ...endpoint }),
      multipleStatements: false,
      flags: ['-FOUND_ROWS'],
    })
    .catch((err: unknown) => {
      throw securityFailure(err, { name: 'archive', ...endpoint });
    });
  let broken = false;
  conn.on('error', () => {
    broken = true;
  });
  const query = async (sql: string, values: readonly unknown[] = []): Promise<ArchiveOutcome> => {
    try {
      const [result] = await conn.query(sql, values as unknown[]);
      if (Array.isArray(result)) return { rows: result as Record<string, unknown>[], affectedRows: 0, info: '' };
      const ok = result as ResultSetHeader;
      return { rows: [], affectedRows: ok.affectedRows, info: ok.info ?? '' };
    } catch (err) {
      if (leavesConnectionUnusable(err)) {
        broken = true;
        conn.destroy();
      }
      throw serverError(err, sql);
    }
  };
  try {
    await query('SET SESSION sql_mode = ?', [ARCHIVE_SQL_MODE]);
    await query("SET SESSION time_zone = '+00:00'");
    await query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED').catch(() => undefined);
  } catch (err) {
    conn.destroy();
    throw err;
  }
  return {
    query,
    get broken() {
      return broken;
    },
    async close() {
      await conn.end().catch(() => conn.destroy());
    },
    destroy() {
      broken = true;
      conn.destroy();
    },
  };
}
