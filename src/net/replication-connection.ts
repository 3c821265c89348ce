import mysql from 'mysql2';
import type { Connection } from 'mysql2';
import { mysqlSecurityOptions, securityFailure, type MysqlSecurity } from './mysql-security.js';
import { PIN_BACKSLASH_ESCAPES } from './session-sql-mode.js';
import { serverError } from './server-error-class.js';
import { LOSSLESS_VALUES } from './value-options.js';

/** Login of the replication account (TLS and the pinned server key are the instance's). */
export interface ReplicationEndpoint extends MysqlSecurity {
  host: string;
  port: number;
  user: string;
  password: string;
  connectTimeoutMs?: number;
}

/** Receives the raw events of a binlog dump (without the packet's 0x00 status byte). */
export interface DumpSink {
  event(bytes: Buffer): void;
  /** The server ended the stream (EOF with a non-blocking dump) or failed. */
  end(error?: Error): void;
}

/**
 * A replication connection: mysql2 does the handshake, authentication (caching_sha2_password,
 * TLS) and packet reassembly (16 MB packets); shardline owns the dump command and the events.
 */
export interface ReplicationConnection {
  query<T = Record<string, unknown>>(sql: string, values?: readonly unknown[]): Promise<T[]>;
  /** Sends a COM_BINLOG_DUMP/COM_BINLOG_DUMP_GTID payload and streams the events to `sink`. */
  startDump(payload: Buffer, sink: DumpSink): void;
  /** Stops reading from the socket (backpressure) / starts again. */
  pause(): void;
  resume(): void;
  /** The server's id for this connection (for KILL). */
  readonly threadId: number;
  destroy(): void;
}

interface Mysql2Packet {
  buffer: Buffer;
  start: number;
  end: number;
}

interface Mysql2Internals {
  stream: NodeJS.WritableStream & { pause(): void; resume(): void; destroy(): void };
  sequenceId: number;
  threadId: number;
  addCommand(cmd: unknown): unknown;
}

/**
 * The dump as a mysql2 command (duck-typed like mysql2's own commands): the first call writes
 * the request with sequence id 0, every later call receives one reassembled packet.
 */
class DumpCommand {
  private started = false;
  private done = false;

  constructor(
    private readonly payload: Buffer,
    private readonly sink: DumpSink,
  ) {}

  // mysql2 calls these.
  on(): this {
    return this;
  }
  once(): this {
    return this;
  }
  emit(): boolean {
    return true;
  }
  removeAllListeners(): this {
    return this;
  }
  stateName(): string {
    return 'binlogDump';
  }
  get _commandName(): string {
    return 'BinlogDump';
  }

  execute(packet: Mysql2Packet | null, connection: Mysql2Internals): boolean {
    if (!this.started) {
      this.started = true;
      const header = Buffer.alloc(4);
      header.writeUIntLE(this.payload.length, 0, 3);
      header[3] = 0;
      connection.stream.write(Buffer.concat([header, this.payload]));
      connection.sequenceId = 1;
      return false;
    }
    if (this.done || !packet) return this.done;
    const status = packet.buffer[packet.start + 4];
    if (status === 0x00) {
      this.sink.event(packet.buffer.subarray(packet.start + 5, packet.end));
      return false;
    }
    this.done = true;
    if (status === 0xfe && packet.end - packet.start - 4 < 9) {
      this.sink.end();
    } else if (status === 0xff) {
      const b = packet.buffer;
      const errno = b.readUInt16LE(packet.start + 5);
      const hasState = b[packet.start + 7] === 0x23;
      const message = b.toString('utf8', packet.start + (hasState ? 13 : 7), packet.end);
      const err = Object.assign(new Error(message), {
        errno,
        sqlState: hasState ? b.toString('latin1', packet.start + 8, packet.start + 13) : undefined,
      });
      this.sink.end(err);
    } else {
      this.sink.end(new Error(`unexpected packet 0x${(status ?? 0).toString(16)} in the binlog stream`));
    }
    return true;
  }
}

/** Opens a replication connection with the replication account. */
export async function openReplicationConnection(endpoint: ReplicationEndpoint): Promise<ReplicationConnection> {
  const conn: Connection = mysql.createConnection({
    host: endpoint.host,
    port: endpoint.port,
    user: endpoint.user,
    password: endpoint.password,
    connectTimeout: endpoint.connectTimeoutMs ?? 5000,
    ...LOSSLESS_VALUES,
    ...mysqlSecurityOptions(endpoint),
  });
  let failure: Error | undefined;
  let sink: DumpSink | undefined;
  conn.on('error', (raw: Error) => {
    const err = serverError(raw) as Error;
    failure = err;
    sink?.end(err);
    sink = undefined;
  });
  await new Promise<void>((resolve, reject) => conn.connect((err) => (err ? reject(securityFailure(err, endpoint)) : resolve())));
  try {
    await new Promise<void>((resolve, reject) =>
      conn.query(PIN_BACKSLASH_ESCAPES, (err) => (err ? reject(serverError(err, PIN_BACKSLASH_ESCAPES)) : resolve())),
    );
  } catch (err) {
    conn.destroy();
    throw err;
  }
  const internals = conn as unknown as Mysql2Internals;
  return {
    query: <T>(sql: string, values: readonly unknown[] = []) =>
      new Promise<T[]>((resolve, reject) => {
        if (failure) return reject(failure);
        conn.query({ sql, values: values as unknown[] }, (err, rows) =>
          err ? reject(serverError(err, sql)) : resolve((Array.isArray(rows) ? rows : [rows]) as T[]),
        );
      }),
    startDump(payload, s) {
      sink = s;
      internals.addCommand(
        new DumpCommand(payload, {
          event: (bytes) => s.event(bytes),
          end: (err) => {
            sink = undefined;
            s.end(err);
          },
        }),
      );
    },
    pause: () => internals.stream.pause(),
    resume: () => internals.stream.resume(),
    get threadId() {
      return internals.threadId;
    },
    destroy: () => {
      conn.destroy();
      internals.stream.destroy();
    },
  };
}
