import mysql from 'mysql2/promise';
import { mysqlSecurityOptions, securityFailure, type MysqlSecurity } from './mysql-security.js';
import { PIN_BACKSLASH_ESCAPES } from './session-sql-mode.js';
import { serverError } from './server-error-class.js';
import { LOSSLESS_VALUES } from './value-options.js';

/** Where and how to open one MySQL-protocol connection. */
export interface MysqlEndpoint extends MysqlSecurity {
  host?: string;
  port?: number;
  /** Unix socket path; wins over host/port. */
  socketPath?: string;
  user: string;
  password: string;
  database?: string;
  connectTimeoutMs?: number;
}

/** A single administrative connection: plain statements, bound values, explicit close. */
export interface MysqlSession {
  /** Runs one statement with bound values and returns its rows (or the OK packet). */
  query<T = Record<string, unknown>>(sql: string, values?: readonly unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/**
 * Opens one connection (no pool) for administration and checks: cluster bootstrap, health
 * probes, smoke tests. Application traffic goes through the router's pools instead.
 */
export async function openMysqlSession(endpoint: MysqlEndpoint): Promise<MysqlSession> {
  const connection = await mysql
    .createConnection({
      ...(endpoint.socketPath ? { socketPath: endpoint.socketPath } : { host: endpoint.host, port: endpoint.port }),
      user: endpoint.user,
      password: endpoint.password,
      database: endpoint.database,
      connectTimeout: endpoint.connectTimeoutMs ?? 5000,
      ...LOSSLESS_VALUES,
      ...mysqlSecurityOptions(endpoint),
      multipleStatements: false,
    })
    .catch((err: unknown) => {
      throw securityFailure(err, endpoint);
    });
  connection.on('error', () => {
    /* a dropped admin connection surfaces on the next query */
  });
  try {
    await connection.query(PIN_BACKSLASH_ESCAPES);
  } catch (err) {
    connection.destroy();
    throw err;
  }
  return {
    async query<T>(sql: string, values: readonly unknown[] = []): Promise<T[]> {
      const [rows] = await connection.query(sql, values as unknown[]).catch((err: unknown) => {
        throw serverError(err, sql);
      });
      return (Array.isArray(rows) ? rows : [rows]) as T[];
    },
    async close(): Promise<void> {
      await connection.end().catch(() => connection.destroy());
    },
  };
}
