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

/**
 * Rows of the text protocol, one array per row: a value the server sends as text (numbers,
 * temporal values, decimals, JSON, strings of a text collation) as that text — decoded as UTF-8
 * by the driver straight from the packet —, a value it sends as binary data (strings of the binary
 * collation, BIT, GEOMETRY, VECTOR, …) as its bytes, NULL as null.
 */
export interface RawRows {
  rows: (string | Buffer | null)[][];
  fields: RawField[];
}

/** A connection that reads result sets as raw bytes and runs plain statements. */
export interface RawRowSession {
  /** Runs a SELECT; every value arrives as the server's text or bytes ({@link RawRows}), never converted further by the driver. */
  select(sql: string, values?: readonly unknown[]): Promise<RawRows>;
  /** Runs any statement with bound values; rows converted as usual (strings, numbers). */
  query<T = Record<string, unknown>>(sql: string, values?: readonly unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/** mysql2 type names whose values the server always sends as ASCII text. */
const TEXT_TYPES: ReadonlySet<string> = new Set([
  'TINY',
  'SHORT',
  'LONG',
  'INT24',
  'LONGLONG',
  'YEAR',
  'FLOAT',
  'DOUBLE',
  'DECIMAL',
  'NEWDECIMAL',
  'DATE',
  'NEWDATE',
  'DATETIME',
  'TIMESTAMP',
  'TIME',
]);
/** String types: the driver's own read gives a string for a text collation and a Buffer for the binary one. */
const STRING_TYPES: ReadonlySet<string> = new Set([
  'VAR_STRING',
  'STRING',
  'VARCHAR',
  'BLOB',
  'TINY_BLOB',
  'MEDIUM_BLOB',
  'LONG_BLOB',
  'ENUM',
  'SET',
]);

/**
 * One value as {@link RawRows} carries it, read straight from the packet (no Buffer per text
 * value): text types and JSON (MySQL marks it binary, its text is utf8mb4) as UTF-8 text, string
 * types by the driver's read (text or bytes by collation; jsonStrings keeps MariaDB's JSON text),
 * everything else as bytes.
 */
const rawValue = (
  field: { type: string; string(encoding?: string): string | null; buffer(): Buffer | null },
  next: () => unknown,
): unknown => {
  if (TEXT_TYPES.has(field.type) || field.type === 'JSON') return field.string('utf8');
  if (STRING_TYPES.has(field.type)) return next();
  return field.buffer();
};

/**
 * Opens one connection whose result sets are read as the server's text or bytes (text protocol, utf8mb4 results,
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
      jsonStrings: true,
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
        .query({ sql, values: values as unknown[], rowsAsArray: true, typeCast: (field, next) => rawValue(field, next) })
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
