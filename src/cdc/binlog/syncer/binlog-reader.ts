import { BinlogError } from '../../../errors/index.js';
import { openReplicationConnection, type ReplicationConnection, type ReplicationEndpoint } from '../../../net/index.js';
import { BinlogDecoder } from '../decoder/binlog-decoder.js';
import type { BinlogEvent } from '../decoder/binlog-event.js';
import { ByteBoundedQueue } from './byte-bounded-queue.js';
import { DecodeStep } from './decode-step.js';
import { dumpFailure } from './dump-failure.js';
import { binlogDumpGtidRequest, binlogDumpRequest } from './dump-request.js';
import { HeartbeatWatchdog } from './heartbeat-watchdog.js';
import { preflight, prepareDumpSession, type ServerFacts } from './preflight.js';

/**
 * A batch of {@link BinlogReader.batches} takes no further raw event once it holds this many
 * events (one compressed transaction payload still comes whole, however many events it holds).
 */
export const MAX_BATCH_EVENTS = 256;

/** Whether `file` is a binlog of the server's series older than the oldest it still has. */
function wasPurged(file: string, files: readonly string[]): boolean {
  const oldest = files[0];
  const m = /^(.*)\.(\d+)$/.exec(file);
  const o = oldest === undefined ? null : /^(.*)\.(\d+)$/.exec(oldest);
  return m !== null && o !== null && m[1] === o[1] && BigInt(m[2]!) < BigInt(o[2]!);
}

/** Where reading starts. */
export type StartPoint = { file: string; pos: number } | { gtid: string } | 'start' | 'current';

/** Options of a {@link BinlogReader}. */
export interface BinlogReaderOptions {
  instance: string;
  endpoint: ReplicationEndpoint;
  /** This reader's server_id on the source: unique per reader (a duplicate kicks the other off). */
  replicaServerId: number;
  from: StartPoint;
  /** Stop at the end of the binlog as it stood when the reader started. */
  untilNow?: boolean;
  /** Stop once this position is reached (wins over `untilNow`). */
  stopAt?: { file: string; pos: number };
  /** Heartbeat period the server is asked for; no byte for 3 periods counts as a dead connection. */
  heartbeatMs?: number;
  /** Which tables' rows to decode (others come out as filtered rows events); all when absent. */
  includeTable?: (database: string, table: string) => boolean;
  /** Bytes of undecoded events buffered before the socket is paused. */
  highWaterBytes?: number;
}

/**
 * Reads one server's binlog: preflight, checksum and heartbeat negotiation, MariaDB capability
 * and GTID state, COM_BINLOG_DUMP(_GTID), and decoded events as an async iterator. The socket is
 * paused while more than `highWaterBytes` of events wait for the consumer.
 */
export class BinlogReader {
  private abort: (() => void) | null = null;

  private constructor(
    private readonly conn: ReplicationConnection,
    readonly facts: ServerFacts,
    private readonly options: BinlogReaderOptions,
  ) {}

  /** Connects, checks the server and prepares the session. @throws {BinlogError} */
  static async open(options: BinlogReaderOptions): Promise<BinlogReader> {
    let conn: ReplicationConnection;
    try {
      conn = await openReplicationConnection(options.endpoint);
    } catch (err) {
      throw new BinlogError(
        'BINLOG_CONNECTION',
        `instance ${options.instance}: cannot connect as ${options.endpoint.user}: ${(err as Error).message}`,
        { file: '(connect)', pos: 0 },
        { cause: err, retriable: true },
      );
    }
    try {
      const facts = await preflight(conn, options.instance);
      await prepareDumpSession(conn, facts, options.heartbeatMs ?? 5000);
      return new BinlogReader(conn, facts, options);
    } catch (err) {
      conn.destroy();
      throw err;
    }
  }

  private async request(): Promise<{ payload: Buffer; file: string }> {
    const { from, replicaServerId } = this.options;
    const facts = this.facts;
    if (from === 'start' || from === 'current' || 'file' in from) {
      const start = from === 'start' ? { file: facts.files[0] ?? facts.current.file, pos: 4 } : from === 'current' ? facts.current : from;
      if (!facts.files.includes(start.file)) {
        const has = `it has ${facts.files[0]} … ${facts.files[facts.files.length - 1]}`;
        throw new BinlogError(
          'BINLOG_PURGED',
          wasPurged(start.file, facts.files)
            ? `instance ${this.options.instance}: ${start.file} is not on the server any more (${has}); refusing to start from anywhere else`
            : `instance ${this.options.instance}: ${JSON.stringify(start.file)} is not one of the server's binlogs (${has}); refusing to start from anywhere else`,
          start,
        );
      }
      return { payload: binlogDumpRequest(start.file, start.pos, replicaServerId), file: start.file };
    }
    if (facts.flavour === 'mariadb') {
      await this.conn.query('SET @slave_connect_state = ?', [from.gtid]);
      await this.conn.query('SET @slave_gtid_strict_mode = 1');
      await this.conn.query('SET @slave_gtid_ignore_duplicates = 0');
      return { payload: binlogDumpRequest('', 4, replicaServerId), file: '' };
    }
    return { payload: binlogDumpGtidRequest(from.gtid, replicaServerId), file: '' };
  }

  /** Decoded events, in order, until `untilNow` is reached, the stream ends, or `close()`. */
  async *events(): AsyncGenerator<BinlogEvent> {
    for await (const batch of this.batches()) yield* batch;
  }

  /**
   * Decoded events, in order, in batches: every event whose bytes have arrived when the consumer
   * asks (up to {@link MAX_BATCH_EVENTS}), so a consumer that keeps up pays one async step per
   * socket read instead of one per event. Ends as {@link events} does; an error comes after the
   * events decoded before it.
   */
  async *batches(): AsyncGenerator<BinlogEvent[]> {
    const { payload, file } = await this.request();
    const decoder = new BinlogDecoder({ file, checksum: this.facts.checksum, includeTable: this.options.includeTable });
    const step = new DecodeStep(decoder, { file, pos: 0 }, this.stopAt);
    const watchdog = new HeartbeatWatchdog({
      heartbeatMs: this.options.heartbeatMs ?? 5000,
      onTimeout: (err) => {
        queue.end(err);
        this.conn.destroy();
      },
    });
    const queue = new ByteBoundedQueue<Buffer>({
      highWaterBytes: this.options.highWaterBytes ?? 8 * 1024 * 1024,
      source: {
        pause: () => {
          watchdog.pause();
          this.conn.pause();
        },
        resume: () => {
          watchdog.resume();
          this.conn.resume();
        },
      },
    });
    this.abort = () => {
      watchdog.stop();
      queue.abort();
    };
    watchdog.start();
    this.conn.startDump(payload, {
      event: (bytes) => {
        watchdog.activity();
        queue.push(bytes, bytes.length);
      },
      end: (err) => {
        watchdog.stop();
        queue.end(err);
      },
    });
    const failed = (err: unknown) => dumpFailure(this.options.instance, err as Error, { file: decoder.currentFile, pos: 0 });
    try {
      for (;;) {
        let bytes = queue.poll();
        if (bytes === undefined) {
          let next: IteratorResult<Buffer>;
          try {
            next = await queue.next();
          } catch (err) {
            throw failed(err);
          }
          if (next.done) break;
          bytes = next.value;
        }
        const batch: BinlogEvent[] = [];
        try {
          for (;;) {
            for (const event of step.decode(bytes)) batch.push(event);
            if (step.reachedStop || batch.length >= MAX_BATCH_EVENTS) break;
            bytes = queue.poll();
            if (bytes === undefined) break;
          }
        } catch (err) {
          if (batch.length) yield batch;
          throw err;
        }
        if (batch.length) yield batch;
        if (step.reachedStop) {
          if (queue.error) throw failed(queue.error);
          break;
        }
      }
    } finally {
      watchdog.stop();
      this.close();
    }
  }

  /** Where the stream stops (`stopAt`, or the end of the binlog at open with `untilNow`), or null. */
  get stopAt(): { file: string; pos: number } | null {
    return this.options.stopAt ?? (this.options.untilNow ? this.facts.current : null);
  }

  /** The replication connection's id on the server (what `KILL` takes). */
  get threadId(): number {
    return this.conn.threadId;
  }

  /** Ends the stream: the iterator finishes after the event it is on. */
  close(): void {
    this.conn.destroy();
    this.abort?.();
  }
}
