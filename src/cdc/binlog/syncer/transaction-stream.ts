import { BinlogError, isShardlineError } from '../../../errors/index.js';
import { backoffDelayMs, sleep } from '../../../retry/index.js';
import { otherServer, readFrom, type Checkpoint } from '../../checkpoint/checkpoint.js';
import { nextEpoch, type VersionEpoch } from '../../events/source-version.js';
import { mariadbResumePosition } from '../../../gtid/index.js';
import { SchemaHistory } from '../../schema/schema-history.js';
import { BinlogReader, type BinlogReaderOptions, type StartPoint } from './binlog-reader.js';
import type { ServerFacts } from './preflight.js';
import { TransactionAssembler } from './transaction-assembler.js';
import type { TransactionItem } from './transaction-items.js';

/** Back-off between reconnects: exponential with full jitter. */
export interface RetryPolicy {
  initialMs: number;
  maxMs: number;
  /** Consecutive failed attempts before giving up (Infinity: never). */
  maxAttempts: number;
}

/** Options of a {@link TransactionStream}. */
export interface TransactionStreamOptions extends Omit<BinlogReaderOptions, 'from'> {
  /** Where to start: a start point, or the checkpoint of an earlier run (resumes right after it). */
  from: StartPoint | Checkpoint;
  retry?: Partial<RetryPolicy>;
  /**
   * Called when the stream resumes on another server than its checkpoint's (a failover), with
   * the new version epoch and, on MariaDB, the GTIDs read on the old server that the new one does
   * not hold (committed on a dead primary and never replicated: they are not read again).
   */
  onServerChange?: (info: { from: string; to: string; epoch: number; missing: string[] }) => void;
  /** Called before each reconnect (for logs and metrics). */
  onReconnect?: (info: { attempt: number; delayMs: number; error: Error; resumeFrom: string }) => void;
}

const isCheckpoint = (from: StartPoint | Checkpoint): from is Checkpoint =>
  typeof from === 'object' && 'instance' in from && 'serverId' in from;

function describe(p: StartPoint): string {
  return typeof p === 'string' ? p : 'gtid' in p ? `GTID set ${p.gtid}` : `${p.file}:${p.pos}`;
}

/**
 * One server's binlog as transactions with explicit boundaries, surviving dropped connections:
 * on a retriable failure it hands out `abort` for a transaction left open, backs off, reconnects
 * and resumes right after the last transaction it committed — so nothing is skipped and no
 * committed transaction is handed out twice. Tables are checked against a {@link SchemaHistory}.
 */
export class TransactionStream {
  private reader: BinlogReader | null = null;
  /** Aborted by close(): cuts a back-off sleep short. */
  private readonly closing = new AbortController();
  private lastFacts: ServerFacts | null = null;
  private closed = false;
  private lastCheckpoint: Checkpoint | null;
  private versionEpoch: VersionEpoch | undefined;
  readonly schema = new SchemaHistory();

  constructor(private readonly options: TransactionStreamOptions) {
    this.lastCheckpoint = isCheckpoint(options.from) ? options.from : null;
    this.versionEpoch = this.lastCheckpoint?.epoch;
  }

  /**
   * How positions of the server being read become versions: the checkpoint's epoch, or the next
   * one once the stream resumed on another server (a failover). Set before any item of that server.
   */
  get epoch(): VersionEpoch | undefined {
    return this.versionEpoch;
  }

  /** The checkpoint of the last transaction handed out (or the one it started from). */
  get checkpoint(): Checkpoint | null {
    return this.lastCheckpoint;
  }

  /** What the last connection learned about the server (flavour, uuid, version…), once connected. */
  get facts(): ServerFacts | null {
    return this.lastFacts;
  }

  /** The current replication connection's id on the server, if connected. */
  get threadId(): number | null {
    return this.reader?.threadId ?? null;
  }

  /** The items, in binlog order, until the stop position, `close()`, or a non-retriable error. */
  async *items(): AsyncGenerator<TransactionItem> {
    for await (const batch of this.batches()) yield* batch;
  }

  /**
   * The items of {@link items} in batches: those of every event the reader had decoded when asked
   * (see {@link BinlogReader.batches}); never empty. The checkpoint (`checkpoint`) moves as a
   * batch is made, before the consumer has seen its commits.
   */
  async *batches(): AsyncGenerator<TransactionItem[]> {
    const retry: RetryPolicy = { initialMs: 200, maxMs: 30_000, maxAttempts: Infinity, ...this.options.retry };
    const from = this.options.from;
    let start: StartPoint = isCheckpoint(from) ? { file: readFrom(from).file, pos: readFrom(from).pos } : from;
    let startGtidSet: string | null = isCheckpoint(from)
      ? readFrom(from).gtidSet
      : typeof from === 'object' && 'gtid' in from
        ? from.gtid
        : null;
    let stopAt = this.options.stopAt ?? null;
    let failures = 0;
    while (!this.closed) {
      let reader: BinlogReader;
      try {
        reader = await BinlogReader.open({
          ...this.options,
          from: start,
          stopAt: stopAt ?? undefined,
          untilNow: stopAt === null && this.options.untilNow === true,
        });
      } catch (err) {
        await this.backOff(err, ++failures, retry, start);
        continue;
      }
      // close() while the connection was being opened found no reader to close: this one would read forever
      if (this.closed) {
        reader.close();
        return;
      }
      this.reader = reader;
      this.lastFacts = reader.facts;
      const cp = this.lastCheckpoint;
      if (cp && 'file' in (start as object) && otherServer(cp, reader.facts)) {
        reader.close();
        if (readFrom(cp).gtidSet === null) {
          throw new BinlogError(
            'BINLOG_PRECONDITION',
            `instance ${this.options.instance}: the checkpoint ${cp.file}:${cp.pos} belongs to server ${cp.serverUuid ?? `id ${cp.serverId}`} but the server is now ${reader.facts.serverUuid ?? `id ${reader.facts.serverId}`}, and the checkpoint has no GTID set to resume by`,
            cp,
          );
        }
        this.versionEpoch = nextEpoch(cp.epoch, cp, reader.facts.files[0] ?? reader.facts.current.file);
        let gtid = readFrom(cp).gtidSet!;
        let missing: string[] = [];
        if (reader.facts.flavour === 'mariadb') ({ position: gtid, missing } = mariadbResumePosition(gtid, reader.facts.binlogState));
        this.options.onServerChange?.({
          from: cp.serverUuid ?? `server_id ${cp.serverId}`,
          to: reader.facts.serverUuid ?? `server_id ${reader.facts.serverId}`,
          epoch: this.versionEpoch.n,
          missing,
        });
        start = { gtid };
        continue;
      }
      stopAt ??= reader.stopAt;
      if (start === 'current') start = reader.facts.current;
      else if (start === 'start') start = { file: reader.facts.files[0] ?? reader.facts.current.file, pos: 4 };
      const assembler = new TransactionAssembler(
        {
          instance: this.options.instance,
          flavour: reader.facts.flavour,
          serverUuid: reader.facts.serverUuid,
          serverId: reader.facts.serverId,
          ...(this.versionEpoch ? { epoch: this.versionEpoch } : {}),
        },
        this.lastCheckpoint ? readFrom(this.lastCheckpoint).gtidSet : startGtidSet,
        this.lastCheckpoint,
      );
      try {
        for await (const events of reader.batches()) {
          failures = 0;
          const out: TransactionItem[] = [];
          try {
            for (const event of events) {
              if (event.kind === 'table-map') {
                if (!this.options.includeTable || this.options.includeTable(event.map.database, event.map.table))
                  this.schema.tableMap(event.map, event);
              } else if (event.kind === 'query') this.schema.query(event.sql, event.database);
              for (const item of assembler.accept(event)) {
                if (item.type === 'commit') {
                  this.lastCheckpoint = item.checkpoint;
                  const next = readFrom(item.checkpoint);
                  start = { file: next.file, pos: next.pos };
                  startGtidSet = next.gtidSet;
                }
                out.push(item);
              }
            }
          } catch (err) {
            if (out.length) yield out;
            throw err;
          }
          if (out.length) yield out;
        }
        if (assembler.inTransaction) yield [{ type: 'abort', reason: 'stream closed inside a transaction' }];
        return;
      } catch (err) {
        if (this.closed || !isShardlineError(err) || !err.retriable) throw err;
        if (assembler.inTransaction) yield [{ type: 'abort', reason: `connection lost inside a transaction: ${err.message}` }];
        await this.backOff(err, ++failures, retry, start);
      } finally {
        reader.close();
        this.reader = null;
      }
    }
  }

  private async backOff(err: unknown, attempt: number, retry: RetryPolicy, start: StartPoint): Promise<void> {
    if (!isShardlineError(err) || !err.retriable || attempt > retry.maxAttempts || this.closed) throw err;
    const delayMs = backoffDelayMs({ initialMs: retry.initialMs, maxMs: retry.maxMs, jitter: 'full' }, attempt);
    this.options.onReconnect?.({ attempt, delayMs, error: err, resumeFrom: describe(start) });
    await sleep(delayMs, this.closing.signal).catch(() => undefined);
  }

  /** Stops the stream: the iterator ends after the item it is on. */
  close(): void {
    this.closed = true;
    this.closing.abort();
    this.reader?.close();
  }
}
