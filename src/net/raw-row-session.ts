import mysql from 'mysql2/promise';
import type { FieldPacket } from 'mysql2/promise';
import { mysqlSecurityOptions, securityFailure } from './mysql-security.js';
import type { MysqlEndpoint } from './mysql-session.js';
import { PIN_BACKSLASH_ESCAPES_ASSIGNMENT } from './session-sql-mode.js';
import { serverError } from './server-error-class.js';

/** Result-set metadata of one column: what a reader needs to interpret its raw bytes. */
export interface RawField {
  name: string;
  /** Client-protocol column type (1 TINY … 255 GEOMETRY). */
  type: number;
  /** Collation id of the value as sent (63 = binary). */
  charset: number;
  /** Column flags (UNSIGNED = 32, BINARY = 128…). */
  flags: number;
}

/** Rows as the server sent them: one array of raw text-protocol bytes (or null) per row. */
export interface RawRows {
  rows: (Buffer | null)[][];
  fields: RawField[];
}

/** A connection that reads result sets as raw bytes and runs plain statements. */
export interface RawRowSession {
  /** Runs a SELECT; every value arrives as the server's bytes, never converted by the driver. */
  select(sql: string, values?: readonly unknown[]): Promise<RawRows>;
  /** Runs any statement with bound values; rows converted as usual (strings, numbers). */
  query<T = Record<string, unknown>>(sql: string, values?: readonly unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/**
 * Opens one connection whose result sets are read as raw bytes (text protocol, utf8mb4 results,
 * session time_zone '+00:00' so TIMESTAMPs print as UTC, sql_mode pinned without
 * NO_BACKSLASH_ESCAPES): the snapshot reader converts them itself, exactly as the binlog decoder
 * would render the same row.
 */
export async function openRawRowSession(endpoint: MysqlEndpoint): Promise<RawRowSession> {
  const connection = await mysql
    .createConnection({
      ...(endpoint.socketPath ? { socketPath: endpoint.socketPath } : { host: endpoint.host, port: endpoint.port }),
      user: endpoint.user,
      password: endpoint.password,
      database: endpoint.database,
      connectTimeout: endpoint.connectTimeoutMs ?? 5000,
      charset: 'utf8mb4_general_ci',
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      ...mysqlSecurityOptions(endpoint),
      multipleStatements: false,
    })
    .catch((err: unknown) => {
      throw securityFailure(err, endpoint);
    });
  connection.on('error', () => {
    /* a dropped connection surfaces on the next statement */
  });
  try {
    await connection.query(`SET time_zone = '+00:00', ${PIN_BACKSLASH_ESCAPES_ASSIGNMENT}`);
  } catch (err) {
    connection.destroy();
    throw serverError(err, 'SET time_zone, sql_mode');
  }
  return {
    async select(sql: string, values: readonly unknown[] = []): Promise<RawRows> {
      const [rows, fields] = (await connection
        .query({ sql, values: values as unknown[], rowsAsArray: true, typeCast: (field) => field.buffer() })
        .catch((err: unknown) => {
          throw serverError(err, sql);
        })) as unknown as [(Buffer | null)[][], FieldPacket[]];
      return {
        rows,
        fields: fields.map((f) => ({
          name: f.name,
          type: f.columnType ?? f.type ?? -1,
          charset: f.characterSet ?? f.charsetNr ?? 0,
          flags: typeof f.flags === 'number' ? f.flags : 0,
        })),
      };
    },
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
