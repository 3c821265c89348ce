import { BinlogError } from '../../../errors/index.js';
import { positionAtOrAfter } from '../../checkpoint/checkpoint.js';
import { openReplicationConnection, type ReplicationConnection, type ReplicationEndpoint } from '../../../net/index.js';
import { BinlogDecoder } from '../decoder/binlog-decoder.js';
import type { BinlogEvent } from '../decoder/binlog-event.js';
import { binlogDumpGtidRequest, binlogDumpRequest } from './dump-request.js';
import { preflight, prepareDumpSession, type ServerFacts } from './preflight.js';

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
      throw new BinlogError('BINLOG_CONNECTION', `instance ${options.instance}: cannot connect as ${options.endpoint.user}: ${(err as Error).message}`, { file: '(connect)', pos: 0 }, { cause: err, retriable: true });
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
        throw new BinlogError('BINLOG_PURGED', `instance ${this.options.instance}: ${start.file} is not on the server any more (it has ${facts.files[0]} … ${facts.files[facts.files.length - 1]}); refusing to start from anywhere else`, start);
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
    const { payload, file } = await this.request();
    const decoder = new BinlogDecoder({ file, checksum: this.facts.checksum, includeTable: this.options.includeTable });
    const high = this.options.highWaterBytes ?? 8 * 1024 * 1024;
    let queue: Array<Buffer | undefined> = [];
    let head = 0;
    let queued = 0;
    let paused = false;
    let ended = false;
    let failure: Error | undefined;
    let wake: (() => void) | null = null;
    const notify = () => {
      const w = wake;
      wake = null;
      w?.();
    };
    this.abort = () => {
      ended = true;
      queue = [];
      head = 0;
      notify();
    };
    const heartbeatMs = this.options.heartbeatMs ?? 5000;
    let lastByteAt = Date.now();
    const watchdog = setInterval(() => {
      if (!paused && !ended && Date.now() - lastByteAt > 3 * heartbeatMs) {
        ended = true;
        failure = Object.assign(new Error(`no event or heartbeat for ${Date.now() - lastByteAt} ms (heartbeat period ${heartbeatMs} ms): connection presumed dead`), { errno: 0 });
        this.conn.destroy();
        notify();
      }
    }, Math.min(1000, heartbeatMs));
    watchdog.unref();
    this.conn.startDump(payload, {
      event: (bytes) => {
        lastByteAt = Date.now();
        queue.push(bytes);
        queued += bytes.length;
        if (!paused && queued > high) {
          paused = true;
          this.conn.pause();
        }
        notify();
      },
      end: (err) => {
        if (ended) return;
        ended = true;
        failure = err;
        notify();
      },
    });
    const stop = this.stopAt;
    let position = { file, pos: 0 };
    try {
      for (;;) {
        const bytes = queue[head];
        if (bytes) {
          queue[head++] = undefined;
          if (head > 4096 && head * 2 > queue.length) {
            queue = queue.slice(head);
            head = 0;
          }
        } else {
          if (head > 0) {
            queue = [];
            head = 0;
          }
          if (ended) break;
          await new Promise<void>((r) => (wake = r));
          continue;
        }
        queued -= bytes.length;
        if (paused && queued < high / 2) {
          paused = false;
          lastByteAt = Date.now();
          this.conn.resume();
        }
        for (const event of decoder.decodeAll(bytes)) {
          if (event.kind === 'rotate') position = { file: event.nextFile, pos: event.position };
          else if (event.nextPos > 0) position = { file: event.kind === 'heartbeat' ? event.logFile || event.file : event.file, pos: event.nextPos };
          if (!(event.kind === 'rotate' && event.artificial) && event.kind !== 'heartbeat') yield event;
        }
        if (stop && positionAtOrAfter(position, stop)) break;
      }
      if (failure) {
        const errno = (failure as { errno?: number }).errno;
        const purged = errno === 1236 && /purged|could not find|not find first log|log.*not.*found/i.test(failure.message);
        throw new BinlogError(purged ? 'BINLOG_PURGED' : 'BINLOG_CONNECTION', `instance ${this.options.instance}: ${failure.message}`, { file: decoder.currentFile, pos: 0 }, { cause: failure, retriable: !purged });
      }
    } finally {
      clearInterval(watchdog);
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
