import { tracingChannel } from 'node:diagnostics_channel';
import { pino } from 'pino';
import { CheckpointStore } from '../../src/cdc/checkpoint/checkpoint-store.js';
import { InMemoryEventLog } from '../../src/cdc/kafka/in-memory-event-log.js';
import { createCdcMetrics, type CdcMetrics } from '../../src/cdc/metrics/cdc-metrics.js';
import type { CaptureRules } from '../../src/cdc/pipeline/capture-rules.js';
import { InstancePipeline } from '../../src/cdc/pipeline/instance-pipeline.js';
import type { SinkRecord } from '../../src/cdc/sinks/sink-record.js';
import { SinkRunner } from '../../src/cdc/sinks/sink-runner.js';
import { bundledClusterConfig, loadClusterConfig } from '../../src/config/index.js';
import { Topology } from '../../src/shard/index.js';
import type { CdcKafkaTraceContext, CdcSinkTraceContext } from '../../src/tracing/index.js';
import { FakeBinlog } from '../support/fake-binlog.js';

const config = loadClusterConfig(bundledClusterConfig, {});
const instance = { ...config.instances[0]!, replication: { user: 'repl', password: 'unused' } };
const rules: CaptureRules = {
  topology: new Topology(
    config.sharding,
    config.instances.map((i) => i.name),
  ),
  include: new Set(['shop.items']),
  exclude: new Set(),
  broadcastDatabase: config.sharding.naming.broadcastDatabase,
  broadcastInstance: instance.name,
};

async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 20_000; i++) {
    if (await cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`timed out waiting for ${what}`);
}

type Event = { kind: string; ctx: CdcKafkaTraceContext; kafkaCommits: number };

/** Subscribes to `shardline:cdc:transaction` by its public name, as an APM agent would. */
function subscribe(kafkaCommits: () => number) {
  const events: Event[] = [];
  const record = (kind: string) => (ctx: unknown) => events.push({ kind, ctx: ctx as CdcKafkaTraceContext, kafkaCommits: kafkaCommits() });
  const handlers = {
    start: record('start'),
    end: record('end'),
    asyncStart: record('asyncStart'),
    asyncEnd: record('asyncEnd'),
    error: record('error'),
  };
  const channel = tracingChannel('shardline:cdc:transaction');
  channel.subscribe(handlers);
  return { events, unsubscribe: () => channel.unsubscribe(handlers) };
}

async function setup() {
  const log = new InMemoryEventLog();
  await log.ensureTopics([
    { topic: 'cdc.checkpoints', partitions: config.instances.length, replicationFactor: 1, compacted: true },
    { topic: 'cdc.items', partitions: 3, replicationFactor: 1 },
  ]);
  const checkpoints = new CheckpointStore(log, 'cdc.checkpoints', (name) => config.instances.findIndex((i) => i.name === name));
  const binlog = new FakeBinlog(instance.name);
  await log.send([checkpoints.message(await binlog.current())]);
  let commits = 0;
  const metrics: CdcMetrics = { ...createCdcMetrics(), kafkaCommit: () => void commits++ };
  const pipeline = new InstancePipeline({
    instance,
    replicaServerId: 1001,
    log,
    checkpoints,
    rules: () => rules,
    topicPrefix: 'cdc.',
    batch: { maxEvents: 5, maxMs: 60_000 },
    transactionalId: `trace-${instance.name}`,
    logger: pino({ level: 'silent' }),
    metrics,
    sources: binlog,
    backoff: { initialMs: 0, maxMs: 0, jitter: 'none' },
  });
  return { log, binlog, pipeline, commits: () => commits, stored: () => checkpoints.load(instance.name) };
}

describe('shardline:cdc:transaction', () => {
  it('starts at each source commit and ends when the Kafka transaction holding it commits', async () => {
    const s = await setup();
    const sub = subscribe(s.commits);
    try {
      const txns = [s.binlog.append([1, 2]), s.binlog.append([3]), s.binlog.append([4, 5, 6]), s.binlog.append([7, 8])];
      const run = s.pipeline.run();
      await until(() => s.binlog.idle, 'everything read');
      s.pipeline.stop();
      await run;
      const starts = sub.events.filter((e) => e.kind === 'start');
      expect(starts.map((e) => e.ctx)).toEqual(
        txns.map((t) => ({
          stage: 'kafka',
          instance: instance.name,
          gtid: t.gtid,
          file: expect.any(String),
          pos: t.end,
          rows: t.ids.length,
          topics: ['cdc.items'],
        })),
      );
      for (const t of txns) {
        const kinds = sub.events.filter((e) => e.ctx.gtid === t.gtid).map((e) => e.kind);
        expect(kinds).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
      }
      // maxEvents 5: the first three source transactions (6 rows) share one Kafka transaction, the 4th is committed at stop.
      const ends = sub.events.filter((e) => e.kind === 'asyncEnd');
      expect(ends.map((e) => e.kafkaCommits)).toEqual([1, 1, 1, 2]);
      expect(starts.map((e) => e.kafkaCommits)).toEqual([0, 0, 0, 1]);
      expect(sub.events.some((e) => e.kind === 'error')).toBe(false);
    } finally {
      sub.unsubscribe();
    }
  });

  it('a Kafka transaction given up (the connection dropped) ends its pending traces with error; the retry traces them again', async () => {
    const s = await setup();
    const sub = subscribe(s.commits);
    try {
      const a = s.binlog.append([1, 2]);
      const b = s.binlog.append([3, 4]);
      // Items: a = begin, rows, commit (0–2); b's begin is item 3: drop before b's rows.
      s.binlog.fault({ at: 4, action: 'drop' });
      const run = s.pipeline.run();
      await until(() => s.binlog.idle && s.binlog.opened.length === 2, 'everything read again');
      s.pipeline.stop();
      await run;
      expect((await s.stored())?.pos).toBe(b.end);
      const ofA = sub.events.filter((e) => e.ctx.gtid === a.gtid);
      expect(ofA.map((e) => e.kind)).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd', 'start', 'end', 'asyncStart', 'asyncEnd']);
      expect(ofA[2]!.ctx.error).toMatchObject({ code: 'BINLOG_CONNECTION' });
      expect(ofA[2]!.kafkaCommits).toBe(0);
      expect(ofA[8]!.kafkaCommits).toBe(1);
    } finally {
      sub.unsubscribe();
    }
  });

  it('keeps nothing without a subscriber (a source commit waiting for its Kafka commit leaves no trace behind)', async () => {
    const s = await setup();
    s.binlog.append([1]); // 1 row < maxEvents 5: its Kafka transaction stays open until stop
    const run = s.pipeline.run();
    await until(() => s.binlog.idle, 'everything read');
    const traces = (s.pipeline as unknown as { traces: { pending: unknown[]; rows: number } }).traces;
    expect(traces.pending).toEqual([]);
    expect(traces.rows).toBe(0);
    s.pipeline.stop();
    await run;
    expect(s.commits()).toBe(1);
  });

  it('sink side: each sink write is traced with the sink, the partition, the record count and the source transactions it holds', async () => {
    const s = await setup();
    const txns = [s.binlog.append([1, 2]), s.binlog.append([3]), s.binlog.append([4, 5, 6])];
    const run = s.pipeline.run();
    await until(() => s.binlog.idle, 'everything read');
    s.pipeline.stop();
    await run;
    const written: SinkRecord[][] = [];
    let writes = 0;
    const runner = new SinkRunner({
      name: 'recording',
      sink: {
        write: async (records) => {
          written.push([...records]);
          writes++;
          return [];
        },
        close: async () => undefined,
      },
      log: s.log,
      groupId: 'trace-sink',
      topics: ['cdc.items'],
      deadLetterTopic: 'cdc.dead',
      metrics: createCdcMetrics(),
      logger: pino({ level: 'silent' }),
    });
    const events: { kind: string; ctx: CdcSinkTraceContext; writes: number }[] = [];
    const record = (kind: string) => (ctx: unknown) => {
      if ((ctx as CdcSinkTraceContext).stage === 'sink') events.push({ kind, ctx: ctx as CdcSinkTraceContext, writes });
    };
    const handlers = {
      start: record('start'),
      end: record('end'),
      asyncStart: record('asyncStart'),
      asyncEnd: record('asyncEnd'),
      error: record('error'),
    };
    const channel = tracingChannel('shardline:cdc:transaction');
    channel.subscribe(handlers);
    try {
      await runner.start();
      await until(() => written.flat().length === 6, 'six records written');
      await until(() => events.filter((e) => e.kind === 'asyncEnd').length === written.length, 'traces ended');
    } finally {
      channel.unsubscribe(handlers);
      await runner.stop();
    }
    const starts = events.filter((e) => e.kind === 'start');
    expect(starts).toHaveLength(written.length);
    starts.forEach((e, i) => {
      expect(e.writes).toBe(i); // published before the write
      const batch = written[i]!;
      expect(e.ctx).toEqual({
        stage: 'sink',
        sink: 'recording',
        topic: 'cdc.items',
        partition: batch[0]!.origin.partition,
        batches: [...new Set(batch.map((r) => r.origin.partition))].map((partition) => ({
          topic: 'cdc.items',
          partition,
          records: batch.filter((r) => r.origin.partition === partition).length,
        })),
        records: batch.length,
        transactions: [...new Set(batch.map((r) => r.event.source.gtid))].map((gtid) => ({ instance: instance.name, gtid })),
      });
    });
    expect(new Set(starts.flatMap((e) => e.ctx.transactions.map((t) => t.gtid)))).toEqual(new Set(txns.map((t) => t.gtid)));
    expect(
      events.filter((e) => e.kind === 'asyncEnd').every((e) => e.writes > 0 && (e.ctx as { result?: unknown }).result === undefined),
    ).toBe(true);
  });
});
