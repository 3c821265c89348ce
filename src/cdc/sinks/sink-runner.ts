import { isShardlineError } from '../../errors/index.js';
import { backoffDelayMs, sleep, type BackoffPolicy } from '../../retry/index.js';
import type { ChangeEvent } from '../events/change-event.js';
import { parseVersion, sourceVersion } from '../events/source-version.js';
import type { EventLog, GroupConsumer, InboundBatch } from '../kafka/event-log.js';
import type { CdcMetrics } from '../metrics/cdc-metrics.js';
import type { Logger } from '../../log/logger.js';
import { cdcTransactionChannel, traceWithoutResult, type CdcSinkTraceContext } from '../../tracing/index.js';
import { changeEventProblem } from './change-shape.js';
import { GroupCommit } from './group-commit.js';
import type { DeadLetter, Sink, SinkRecord } from './sink-record.js';

/** Wait before writing a failed batch again: 0.5 s doubling to 30 s, equal jitter. */
const WRITE_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000, jitter: 'equal' };

/** Options of a {@link SinkRunner}. */
export interface SinkRunnerOptions {
  name: string;
  sink: Sink;
  log: EventLog;
  groupId: string;
  topics: readonly string[];
  deadLetterTopic: string;
  metrics: CdcMetrics;
  logger: Logger;
  /**
   * Sink writes in flight at once (default 1; the sink must take concurrent writes). Every
   * partition's batch of a fetch is taken at once and joins one write ({@link GroupCommit}).
   */
  writesInFlight?: number;
  /** @deprecated the former name of {@link writesInFlight}. */
  partitionsConcurrently?: number;
}

/**
 * Partitions kafkajs hands to the runner at once: more than a fetch holds, so that every batch of
 * a fetch reaches the runner before the turn ends and joins the same sink write.
 */
const PARTITIONS_AT_ONCE = 256;

/** A fetched batch sorted into the records to write, dead letters, and messages that are not change events. */
interface ParsedBatch {
  topic: string;
  partition: number;
  records: SinkRecord[];
  dead: DeadLetter[];
  malformed: MalformedMessage[];
}

/** An error's code (ShardlineError) or name: what /healthz may show of it. */
function errorLabel(err: unknown): string {
  if (isShardlineError(err)) return err.code;
  if (err instanceof Error) return err.name;
  return typeof err;
}

function parsedBatch(batch: InboundBatch): ParsedBatch {
  const out: ParsedBatch = { topic: batch.topic, partition: batch.partition, records: [], dead: [], malformed: [] };
  for (const m of batch.messages) {
    const r = sinkRecordOf(batch.topic, batch.partition, m);
    if (r === null) continue;
    if ('malformed' in r) out.malformed.push(r);
    else if ('reason' in r) out.dead.push(r);
    else out.records.push(r);
  }
  return out;
}

/** How a sink is doing, for /healthz. */
export interface SinkStatus {
  sink: string;
  /** Its consumer crashed or its last write failed, and nothing was fetched or applied since. */
  failing: boolean;
  /** Since when (ms); 0 when not failing. */
  failingForMs: number;
  /** The failure's error code or name (never its message: it may quote row values), null when not failing. */
  error: string | null;
}

/** A message of a change topic that is not a change event: dead-lettered as it came, never applied. */
export interface MalformedMessage {
  /** Why it is not a change event. */
  malformed: string;
  key: Buffer | null;
  value: Buffer;
  origin: SinkRecord['origin'];
}

/**
 * A Kafka message of a change topic as a sink record (pure). Records without a key, or with a
 * version out of range, are dead letters; a value that is not a change event (not JSON, or not
 * shaped like one: see {@link changeEventProblem}) is a {@link MalformedMessage}. Never throws.
 */
export function sinkRecordOf(
  topic: string,
  partition: number,
  m: InboundBatch['messages'][number],
): SinkRecord | DeadLetter | MalformedMessage | null {
  if (!m.value) return null;
  const origin = { topic, partition, offset: m.offset };
  let event: ChangeEvent;
  try {
    event = JSON.parse(m.value.toString('utf8')) as ChangeEvent;
  } catch {
    return { malformed: 'the value is not JSON', key: m.key, value: m.value, origin };
  }
  const problem = changeEventProblem(event);
  if (problem !== null) return { malformed: problem, key: m.key, value: m.value, origin };
  const carried = event.source.version === undefined ? undefined : parseVersion(event.source.version);
  let derived: bigint | string = 0n;
  if (carried === undefined) {
    try {
      derived = sourceVersion(event.source);
    } catch (err) {
      derived = `source has no version and its binlog coordinates give none: ${(err as Error).message}`;
    }
  }
  const record: SinkRecord = {
    table: event.source.logical_table ?? event.source.table,
    id: m.key?.toString('utf8') ?? '',
    previousId: m.headers['previous_key'] ?? null,
    version: carried ?? (typeof derived === 'bigint' ? derived : 0n),
    event,
    origin,
  };
  if (carried === null)
    return { record, reason: `source.version is not a decimal integer below 2^63: ${JSON.stringify(event.source.version).slice(0, 40)}` };
  if (typeof derived === 'string') return { record, reason: derived };
  if (m.key === null) return { record, reason: `table ${record.table} has no primary key: its rows cannot be addressed in a sink` };
  return record;
}

/** The table label of dead letters that are not change events (their table is unknown). */
export const MALFORMED_TABLE_LABEL = '(malformed)';

/**
 * Bytes of a malformed message's key and value copied into its dead letter: base64 grows them by a
 * third, and a dead letter larger than the broker's `message.max.bytes` (1 MiB by default) would
 * fail to publish and stop the group after all. The message itself stays at its origin.
 */
export const MALFORMED_BYTES_KEPT = 256 * 1024;

const base64Prefix = (b: Buffer): string => b.subarray(0, MALFORMED_BYTES_KEPT).toString('base64');

/** The largest dead letter (UTF-8 bytes of its JSON) published with its change event in it. */
export const DEAD_LETTER_MAX_BYTES = 768 * 1024;

/**
 * A dead letter's JSON: the sink, the reason, the record's table, id, version, origin and change
 * event. A letter that would be larger than {@link DEAD_LETTER_MAX_BYTES} (an event near the
 * broker's message size limit, with the reason and metadata added) leaves the event out —
 * `event: null`, `event_omitted: true`, `event_bytes` — as publishing it would fail and stop the
 * sink's group; the change itself stays at its origin.
 */
export function deadLetterValue(sink: string, d: DeadLetter): string {
  const letter = {
    sink,
    reason: d.reason,
    table: d.record.table,
    id: d.record.id,
    version: d.record.version.toString(),
    origin: d.record.origin,
    event: d.record.event as ChangeEvent | null,
  };
  const json = JSON.stringify(letter);
  if (json.length * 3 <= DEAD_LETTER_MAX_BYTES || Buffer.byteLength(json) <= DEAD_LETTER_MAX_BYTES) return json;
  const eventBytes = Buffer.byteLength(JSON.stringify(d.record.event));
  return JSON.stringify({ ...letter, reason: d.reason.slice(0, 10_000), event: null, event_omitted: true, event_bytes: eventBytes });
}

/**
 * Feeds one sink from its own consumer group (read_committed: only committed source
 * transactions). The batches of every partition in a fetch are written together, in one sink
 * write (and batches that arrive while a write runs join the next one: {@link GroupCommit}), so
 * a write's size grows with the load rather than with the partition count. Offsets are committed
 * after the sink has applied a batch, so a crash replays at most the last write — harmless, as
 * sinks are idempotent by source version. Dead letters go
 * to the dead-letter topic with the sink and the reason, and are counted.
 */
export class SinkRunner {
  private consumer: GroupConsumer | null = null;
  private stopping = false;
  private readonly stopped = new AbortController();
  private readonly groups: GroupCommit<ParsedBatch>;
  private failingSince: number | null = null;
  private failure: string | null = null;
  /** Where the current failure came from: a successful fetch clears a consumer's, only an applied write a write's. */
  private failedIn: 'consumer' | 'write' | null = null;

  constructor(private readonly o: SinkRunnerOptions) {
    this.groups = new GroupCommit((batches) => this.apply(batches), o.writesInFlight ?? o.partitionsConcurrently ?? 1);
  }

  async start(): Promise<void> {
    const { o } = this;
    o.metrics.sinkFailing(o.name, false); // the series exists before its first failure (alerts see it)
    this.consumer = o.log.consumer({
      groupId: o.groupId,
      topics: o.topics,
      fromBeginning: true,
      partitionsConcurrently: PARTITIONS_AT_ONCE,
      onState: (state) => {
        if (state.ok) {
          if (this.failedIn === 'consumer') this.recovered();
        } else this.failed(state.error, 'consumer');
      },
    });
    await this.consumer.run((batch) => this.groups.submit(parsedBatch(batch)));
  }

  /** How the sink is doing: failing since when, and with what. */
  status(now = Date.now()): SinkStatus {
    const since = this.failingSince;
    return { sink: this.o.name, failing: since !== null, failingForMs: since === null ? 0 : now - since, error: this.failure };
  }

  private failed(err: unknown, where: 'consumer' | 'write'): void {
    const what = errorLabel(err);
    if (this.failingSince === null) {
      this.failingSince = Date.now();
      this.o.metrics.sinkFailing(this.o.name, true);
    }
    this.failure = what;
    this.failedIn = where;
  }

  private recovered(): void {
    if (this.failingSince === null) return;
    this.failingSince = null;
    this.failure = null;
    this.failedIn = null;
    this.o.metrics.sinkFailing(this.o.name, false);
  }

  /** One sink write for the batches of a group (every partition of a fetch, or what came while the last write ran). */
  private async apply(batches: ParsedBatch[]): Promise<void> {
    const { o } = this;
    const records = batches.length === 1 ? batches[0]!.records : batches.flatMap((b) => b.records);
    const dead = batches.flatMap((b) => b.dead);
    const malformed = batches.flatMap((b) => b.malformed);
    const started = process.hrtime.bigint();
    if (records.length) dead.push(...(await this.tracedWrite(batches, records)));
    this.recovered();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const now = Date.now();
    const byTable = new Map<string, number>();
    for (const r of records) {
      byTable.set(r.table, (byTable.get(r.table) ?? 0) + 1);
      o.metrics.sinkLatency(o.name, Math.max(0, now - r.event.source.ts_us / 1000) / 1000);
    }
    for (const [table, n] of byTable) o.metrics.sinkApplied(o.name, table, n, seconds);
    if (malformed.length) await this.deadLetterMalformed(malformed);
    if (dead.length) {
      await o.log.send(
        dead.map((d) => ({
          topic: o.deadLetterTopic,
          key: d.record.id || null,
          value: deadLetterValue(o.name, d),
          headers: { sink: o.name, reason: d.reason.slice(0, 1000) },
        })),
      );
      for (const d of dead) {
        o.metrics.deadLetter(o.name, d.record.table);
        o.logger.warn(
          { sink: o.name, table: d.record.table, id: d.record.id, origin: d.record.origin, reason: d.reason },
          'record sent to the dead-letter topic',
        );
      }
    }
  }

  /**
   * Publishes messages that are not change events to the dead-letter topic with their key and
   * value as they came (base64; the first {@link MALFORMED_BYTES_KEPT} bytes of each), counted under the table label {@link MALFORMED_TABLE_LABEL} and
   * logged without their content.
   */
  private async deadLetterMalformed(messages: readonly MalformedMessage[]): Promise<void> {
    const { o } = this;
    await o.log.send(
      messages.map((d) => ({
        topic: o.deadLetterTopic,
        key: d.key?.toString('utf8') ?? null,
        value: JSON.stringify({
          sink: o.name,
          reason: d.malformed,
          table: null,
          origin: d.origin,
          key_base64: d.key ? base64Prefix(d.key) : null,
          value_base64: base64Prefix(d.value),
          value_bytes: d.value.length,
          value_truncated: d.value.length > MALFORMED_BYTES_KEPT,
        }),
        headers: { sink: o.name, reason: d.malformed },
      })),
    );
    for (const d of messages) {
      o.metrics.deadLetter(o.name, MALFORMED_TABLE_LABEL);
      o.logger.warn(
        { sink: o.name, origin: d.origin, reason: d.malformed },
        'a message that is not a change event sent to the dead-letter topic',
      );
    }
  }

  /** {@link write} under `shardline:cdc:transaction` (stage `sink`) when anybody listens. */
  private tracedWrite(batches: readonly ParsedBatch[], records: readonly SinkRecord[]): Promise<DeadLetter[]> {
    if (!cdcTransactionChannel.hasSubscribers) return this.write(records);
    const transactions: CdcSinkTraceContext['transactions'] = [];
    const seen = new Set<string>();
    for (const r of records) {
      const { instance, gtid } = r.event.source;
      const key = `${instance}\u0000${gtid ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      transactions.push({ instance, gtid });
    }
    const written = batches.filter((b) => b.records.length > 0);
    const ctx: CdcSinkTraceContext = {
      stage: 'sink',
      sink: this.o.name,
      topic: written[0]!.topic,
      partition: written[0]!.partition,
      batches: written.map((b) => ({ topic: b.topic, partition: b.partition, records: b.records.length })),
      records: records.length,
      transactions,
    };
    return traceWithoutResult(cdcTransactionChannel, ctx, () => this.write(records));
  }

  /**
   * `sink.write` until it succeeds or the runner stops. A failure the sink does not retry itself
   * (e.g. `ES_SINK_FAILED`, `retriable: false`) must not reach kafkajs: it restarts a consumer only
   * after retriable errors, so the sink's group would stop for good while the worker stays up
   * and healthy. The batch is retried in place with back-off instead (its offsets are not
   * committed meanwhile; the heartbeats go on).
   */
  private async write(records: readonly SinkRecord[]): Promise<DeadLetter[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.o.sink.write(records);
      } catch (err) {
        if (this.stopping) throw err;
        this.failed(err, 'write');
        const delayMs = backoffDelayMs(WRITE_BACKOFF, attempt);
        const message = isShardlineError(err) ? `${err.code}: ${err.message}` : String(err);
        this.o.logger.error(
          { sink: this.o.name, err: message, attempt, delayMs, records: records.length },
          'sink write failed; retrying the batch',
        );
        await sleep(delayMs, this.stopped.signal).catch(() => undefined);
        if (this.stopping) throw err;
      }
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.stopped.abort();
    await this.consumer?.stop();
    await this.o.sink.close();
  }
}
