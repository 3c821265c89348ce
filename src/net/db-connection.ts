import net, { type Socket } from 'node:net';
import mysql from 'mysql2';
import type { Connection, FieldPacket, ResultSetHeader } from 'mysql2';
import { streamRows, type RowStream } from './row-stream.js';
import { leavesConnectionUnusable, serverError } from './server-error-class.js';
import { committedGtid, gtidTrackingAssignment, type GtidTracking } from './gtid-tracking.js';
import type { KeepAliveSettings, SocketLayer } from './socket-layer.js';
import { mysqlSecurityOptions, pinTlsHost, securityFailure, type MysqlSecurity } from './mysql-security.js';
import { PIN_BACKSLASH_ESCAPES_ASSIGNMENT } from './session-sql-mode.js';
import { LOSSLESS_VALUES } from './value-options.js';
import { runBatch, type BatchReply, type BatchStatement } from './batch-query.js';
import { startQuery } from './query-command.js';

/** A row as the router returns it: BIGINT as bigint, DECIMAL and dates as strings, binary as Buffer. */
export type Row = Record<string, unknown>;

/** Name and MySQL type code of a result column. */
export interface FieldInfo {
  name: string;
  /** MySQL column type code (e.g. 8 = LONGLONG, 246 = NEWDECIMAL, 253 = VAR_STRING). */
  type: number;
  /** Column flags (e.g. 256 = ENUM, 2048 = SET). */
  flags?: number;
  /** The collation id of a text column (63: binary). */
  collation?: number;
}

/** The outcome of one statement. */
export type QueryOutcome =
  | { kind: 'rows'; rows: Row[]; fields: FieldInfo[] }
  | {
      kind: 'ok';
      affectedRows: number;
      insertId: number | bigint;
      /** The GTID the statement committed (autocommit write or COMMIT), on connections opened with `trackGtids`. */
      gtid?: string;
    };

/** How the raw TCP socket is tuned before the MySQL handshake. */
export interface SocketTuning {
  layer: SocketLayer;
  keepAlive: KeepAliveSettings;
}

/** Where one physical instance listens and how to log in (and, optionally, TLS and a pinned server key). */
export interface InstanceEndpoint extends MysqlSecurity {
  name: string;
  host: string;
  port: number;
  user: string;
  password: string;
  connectTimeoutMs?: number;
  /** Have the server report the GTID of every commit of the session (read-your-writes tokens). */
  trackGtids?: GtidTracking;
}

/** One open connection to a physical instance, promise-based, with no knowledge of shards. */
export interface DbConnection {
  readonly instance: string;
  /** Unique per connection (idle-watch token). */
  readonly id: number;
  /** The raw TCP socket (under TLS too), for probes and TCP_INFO. */
  readonly socket: Socket | null;
  /** The server's wait_timeout in ms. */
  readonly waitTimeoutMs: number;
  readonly createdAt: number;
  /** Set once the connection has failed fatally; it must be destroyed, not reused. */
  readonly broken: boolean;
  lastUsedAt: number;
  query(sql: string, params: readonly unknown[], timeoutMs?: number): Promise<QueryOutcome>;
  /**
   * Runs writes and transaction control in one round trip (one multi-statement packet); only on
   * a connection opened with `{ multipleStatements: true }` (see `openDbConnection`). Never
   * throws: a failure and where it happened are in the reply.
   */
  batch?(statements: readonly BatchStatement[], timeoutMs?: number): Promise<BatchReply>;
  /**
   * A SELECT's rows as they arrive, with back-pressure (see `streamRows`); stopping early destroys
   * the connection. `silenceMs` bounds how long the reader waits for the server's next row.
   */
  stream?(sql: string, params: readonly unknown[], silenceMs?: number): RowStream;
  ping(): Promise<void>;
  /** Graceful close (COM_QUIT). */
  close(): Promise<void>;
  destroy(): void;
}

/** Server error details mysql2 attaches to an Error. */
export interface ServerErrorInfo {
  errno?: number;
  sqlState?: string;
  code?: string;
  fatal?: boolean;
}

const LONGLONG = 8;

/** BIGINT columns arrive as decimal text (lossless); turn them into bigint in place. */
function bigintColumns(rows: Row[], fields: readonly FieldPacket[]): void {
  let names: string[] | undefined;
  for (const f of fields) if (f.columnType === LONGLONG) (names ??= []).push(f.name);
  if (!names) return;
  for (const row of rows) {
    for (const name of names) {
      const v = row[name];
      if (typeof v === 'string' || typeof v === 'number') row[name] = BigInt(v);
    }
  }
}

let nextId = 1;

/** How a connection is opened beyond its endpoint. */
export interface DbConnectionOptions {
  /**
   * Let the connection run several statements per packet (`batch`). Only the router's batched
   * writes use such connections: they carry statements the router planned (each one statement:
   * the router refuses a second statement in a string) and transaction control it writes itself.
   */
  multipleStatements?: boolean;
  /** Have the server report the GTID of every commit of the session (read-your-writes tokens). */
  trackGtids?: GtidTracking;
}

/**
 * Opens a connection with the router's value conventions: BIGINT → bigint, DECIMAL → string,
 * DATE/DATETIME/TIMESTAMP → strings as the server prints them, with the session in UTC so
 * TIMESTAMP reads as UTC, and backslash escaping pinned on (see `PIN_BACKSLASH_ESCAPES`).
 */
export async function openDbConnection(
  endpoint: InstanceEndpoint,
  tuning?: SocketTuning,
  options: DbConnectionOptions = {},
): Promise<DbConnection> {
  let socket: Socket | null = null;
  const stream = tuning
    ? () => {
        const s = pinTlsHost(net.connect({ host: endpoint.host, port: endpoint.port }), endpoint.host);
        s.once('connect', () => {
          try {
            tuning.layer.tune(s, tuning.keepAlive);
          } catch {
            /* tuning is best effort; the connection still works */
          }
        });
        socket = s;
        return s;
      }
    : undefined;
  const conn: Connection = mysql.createConnection({
    host: endpoint.host,
    port: endpoint.port,
    user: endpoint.user,
    password: endpoint.password,
    connectTimeout: endpoint.connectTimeoutMs ?? 5000,
    ...LOSSLESS_VALUES,
    ...mysqlSecurityOptions(endpoint),
    ...(stream ? { stream } : {}),
    multipleStatements: options.multipleStatements === true,
  });
  const trackGtids = endpoint.trackGtids ?? options.trackGtids;
  let broken = false;
  conn.on('error', () => {
    broken = true;
  });
  await new Promise<void>((resolve, reject) => conn.connect((err) => (err ? reject(securityFailure(err, endpoint)) : resolve())));
  const run = (sql: string, params: readonly unknown[], timeoutMs?: number) =>
    new Promise<QueryOutcome>((resolve, reject) => {
      startQuery(conn, sql, params as unknown[], timeoutMs, (err, result, fields) => {
        if (err) {
          if (leavesConnectionUnusable(err)) {
            broken = true;
            conn.destroy();
          }
          reject(serverError(err, sql));
          return;
        }
        if (Array.isArray(result)) {
          const packets = (fields ?? []) as FieldPacket[];
          bigintColumns(result as Row[], packets);
          resolve({
            kind: 'rows',
            rows: result as Row[],
            fields: packets.map((f) => ({
              name: f.name,
              type: f.columnType ?? 0,
              flags: typeof f.flags === 'number' ? f.flags : 0,
              collation: f.characterSet,
            })),
          });
        } else {
          const ok = result as ResultSetHeader;
          const gtid = trackGtids ? committedGtid(ok) : undefined;
          resolve(
            gtid === undefined
              ? { kind: 'ok', affectedRows: ok.affectedRows, insertId: ok.insertId }
              : { kind: 'ok', affectedRows: ok.affectedRows, insertId: ok.insertId, gtid },
          );
        }
      });
    });
  let waitTimeoutMs = 28_800_000;
  try {
    const tracking = trackGtids ? `, ${gtidTrackingAssignment(trackGtids)}` : '';
    await run(`SET time_zone = '+00:00', ${PIN_BACKSLASH_ESCAPES_ASSIGNMENT}${tracking}`, []);
    const w = await run('SELECT @@wait_timeout AS w', []);
    if (w.kind === 'rows') waitTimeoutMs = Number(w.rows[0]?.['w'] ?? 28800) * 1000;
  } catch (err) {
    conn.destroy();
    throw err;
  }
  const connection: DbConnection = {
    instance: endpoint.name,
    id: nextId++,
    socket,
    waitTimeoutMs,
    createdAt: Date.now(),
    get broken() {
      return broken;
    },
    lastUsedAt: Date.now(),
    query: run,
    stream: (sql: string, params: readonly unknown[], silenceMs?: number) =>
      streamRows(
        conn,
        sql,
        params,
        () => {
          broken = true;
          conn.destroy();
        },
        silenceMs,
      ),
    ...(options.multipleStatements
      ? {
          batch: (statements: readonly BatchStatement[], timeoutMs?: number) =>
            runBatch(conn, statements, timeoutMs, () => {
              broken = true;
              conn.destroy();
            }),
        }
      : {}),
    ping: () => new Promise((resolve, reject) => conn.ping((err) => (err ? reject(serverError(err)) : resolve()))),
    close: () =>
      new Promise((resolve) => {
        conn.end(() => resolve());
        setTimeout(() => {
          conn.destroy();
          resolve();
        }, 2000).unref();
      }),
    destroy: () => {
      broken = true;
      conn.destroy();
    },
  };
  return connection;
}
