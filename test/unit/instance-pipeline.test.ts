import { pino } from 'pino';
import { CheckpointStore } from '../../src/cdc/checkpoint/checkpoint-store.js';
import type { Checkpoint } from '../../src/cdc/checkpoint/checkpoint.js';
import { InMemoryEventLog } from '../../src/cdc/kafka/in-memory-event-log.js';
import { createCdcMetrics, type CdcMetrics } from '../../src/cdc/metrics/cdc-metrics.js';
import type { CaptureRules } from '../../src/cdc/pipeline/capture-rules.js';
import { InstancePipeline, type InstancePipelineOptions } from '../../src/cdc/pipeline/instance-pipeline.js';
import { bundledClusterConfig, loadClusterConfig } from '../../src/config/index.js';
import { Topology } from '../../src/shard/index.js';
import { FakeBinlog } from '../support/fake-binlog.js';
import { ManualClock } from '../support/manual-clock.js';

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
const TOPIC = 'cdc.items';
const CHECKPOINTS = 'cdc.checkpoints';

/** Lets other tasks run (no time passes on any clock) until `cond` holds. */
async function until(cond: () => boolean | Promise<boolean>, what = 'condition'): Promise<void> {
  for (let i = 0; i < 20_000; i++) {
    if (await cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function setup(batch = { maxEvents: 10, maxMs: 5 }) {
  const log = new InMemoryEventLog();
  await log.ensureTopics([
    { topic: CHECKPOINTS, partitions: config.instances.length, replicationFactor: 1, compacted: true },
    { topic: TOPIC, partitions: 3, replicationFactor: 1 },
  ]);
  const checkpoints = new CheckpointStore(log, CHECKPOINTS, (name) => config.instances.findIndex((i) => i.name === name));
  const binlog = new FakeBinlog(instance.name);
  const commits: number[] = [];
  const metrics: CdcMetrics = { ...createCdcMetrics(), kafkaCommit: (_i, _s, events) => commits.push(events) };
  const pipeline = (o: Partial<InstancePipelineOptions> = {}) =>
    new InstancePipeline({
      instance,
      replicaServerId: 1001,
      log,
      checkpoints,
      rules: () => rules,
      topicPrefix: 'cdc.',
      batch,
      transactionalId: `test-cdc-${instance.name}`,
      logger: pino({ level: 'silent' }),
      metrics,
      sources: binlog,
      backoff: { initialMs: 0, maxMs: 0, jitter: 'none' },
      ...o,
    });
  /** Row ids visible to a read_committed reader, in offset order per partition. */
  const published = async () =>
    (await log.readToEnd(TOPIC)).map((m) => (JSON.parse(m.value!.toString()) as { after: { id: string } }).after.id);
  /** Every row id appended to the fake binlog, once. */
  const expected = () => binlog.transactions.flatMap((t) => (t.table.table === 'items' ? t.ids.map(String) : []));
  const stored = () => checkpoints.load(instance.name);
  return { log, binlog, checkpoints, pipeline, published, expected, stored, commits };
}

const sorted = (ids: string[]) => [...ids].sort((a, b) => Number(a) - Number(b));
const lastEnd = (binlog: FakeBinlog): number => binlog.transactions[binlog.transactions.length - 1]!.end;

/** Seeds a stored checkpoint at the fake binlog's start, so the pipeline reads everything appended. */
async function seed(s: Awaited<ReturnType<typeof setup>>): Promise<Checkpoint> {
  const cp = await s.binlog.current();
  await s.log.send([s.checkpoints.message(cp)]);
  return cp;
}

describe('InstancePipeline on an in-memory event log and a fake binlog', () => {
  it('first start: stores the current end of the binlog and captures only what comes after', async () => {
    const s = await setup();
    s.binlog.append([1, 2]);
    const p = s.pipeline();
    const run = p.run();
    await until(() => p.reading, 'reading');
    expect((await s.stored())?.pos).toBe(lastEnd(s.binlog));
    s.binlog.append([3, 4, 5]);
    await until(async () => (await s.stored())?.pos === lastEnd(s.binlog), 'checkpoint of the new transaction');
    p.stop();
    await run;
    expect(sorted(await s.published())).toEqual(['3', '4', '5']);
  });

  it('batches whole source transactions: every row once, in order per key, each Kafka transaction ending with its checkpoint', async () => {
    const s = await setup({ maxEvents: 10, maxMs: 60_000 });
    await seed(s);
    for (let i = 0; i < 40; i++) s.binlog.append(Array.from({ length: 1 + (i % 4) }, (_, k) => i * 10 + k));
    s.binlog.append([9999], { table: 'other' });
    const p = s.pipeline();
    const run = p.run();
    await until(() => s.binlog.idle, 'everything read');
    p.stop();
    await run;
    expect((await s.stored())?.pos).toBe(lastEnd(s.binlog));
    const got = await s.published();
    expect(sorted(got)).toEqual(sorted(s.expected()));
    expect(new Set(got).size).toBe(got.length);
    // maxEvents 10 with transactions of 1–4 rows: every Kafka transaction but the last holds 10–13 events.
    expect(s.commits.slice(0, -1).every((n) => n >= 10 && n <= 13)).toBe(true);
    expect(s.commits.reduce((a, b) => a + b, 0)).toBe(s.expected().length);
    // Every committed checkpoint is a source transaction's end.
    const ends = new Set(s.binlog.transactions.map((t) => t.end));
    const cps = (await s.log.readToEnd(CHECKPOINTS)).map((m) => (JSON.parse(m.value!.toString()) as Checkpoint).pos);
    expect(cps.slice(1).every((pos) => ends.has(pos))).toBe(true);
  });

  it('a crash mid-batch (the process is gone, a new one starts): nothing twice, nothing lost, resumes from the stored checkpoint', async () => {
    const s = await setup({ maxEvents: 6, maxMs: 60_000 });
    await seed(s);
    for (let i = 0; i < 12; i++) s.binlog.append([i * 3, i * 3 + 1, i * 3 + 2]);
    // The first run stalls inside the 6th source transaction (4 items each: begin, 2 rows events,
    // commit; item 22 is its second rows event) after two Kafka commits (6 events each), with the
    // 5th transaction and half the 6th in its open Kafka transaction.
    s.binlog.fault({ at: 22, action: 'stall' });
    const zombie = s.pipeline();
    const zombieRun = zombie.run();
    await until(() => s.commits.length === 2, 'two commits');
    const cp = await s.stored();
    expect(cp?.pos).toBe(s.binlog.transactions[3]!.end);
    // A new process with the same transactional id: fences the zombie and resumes after the checkpoint.
    const next = s.pipeline();
    const nextRun = next.run();
    await until(async () => (await s.stored())?.pos === lastEnd(s.binlog), 'last checkpoint');
    expect(s.binlog.opened[1]).toEqual(cp);
    s.binlog.release(); // the zombie wakes up: its next Kafka call is fenced and it returns
    await zombieRun;
    next.stop();
    await nextRun;
    const got = await s.published();
    expect(sorted(got)).toEqual(sorted(s.expected()));
    expect(new Set(got).size).toBe(got.length);
  });

  it('fencing: a second pipeline instance takes over; the first stops at its next Kafka call without publishing anything more', async () => {
    const s = await setup({ maxEvents: 1, maxMs: 60_000 });
    await seed(s);
    s.binlog.append([1]);
    const first = s.pipeline();
    const firstRun = first.run();
    await until(async () => (await s.published()).length === 1, 'first row');
    const second = s.pipeline();
    const secondRun = second.run();
    await until(() => second.reading, 'second reading');
    s.binlog.append([2, 3]);
    await until(async () => (await s.stored())?.pos === lastEnd(s.binlog), 'last checkpoint');
    await firstRun; // resolved (not rejected): fenced is a normal end
    expect(first.reading).toBe(false);
    second.stop();
    await secondRun;
    expect(sorted(await s.published())).toEqual(['1', '2', '3']);
  });

  it('stop() inside a source transaction finishes it, commits, and publishes nothing after it; a restart emits the rest once', async () => {
    const s = await setup({ maxEvents: 100, maxMs: 60_000 });
    await seed(s);
    for (let i = 0; i < 5; i++) s.binlog.append([i * 10, i * 10 + 1, i * 10 + 2, i * 10 + 3]);
    s.binlog.fault({ at: 2 * 4 + 2, action: 'stall' }); // inside the 3rd transaction (begin, rows, rows, commit each)
    const p = s.pipeline();
    const run = p.run();
    await until(() => s.binlog.stalled, 'stalled inside the 3rd transaction');
    await new Promise((r) => setImmediate(r));
    expect(s.commits).toEqual([]);
    p.stop();
    s.binlog.release();
    await run;
    expect(sorted(await s.published())).toEqual(['0', '1', '2', '3', '10', '11', '12', '13', '20', '21', '22', '23']);
    expect((await s.stored())?.pos).toBe(s.binlog.transactions[2]!.end);
    const again = s.pipeline();
    const againRun = again.run();
    await until(() => s.binlog.idle, 'everything read');
    again.stop();
    await againRun;
    const got = await s.published();
    expect(sorted(got)).toEqual(sorted(s.expected()));
    expect(new Set(got).size).toBe(got.length);
  });

  it('a connection lost inside a huge source transaction: its rows already sent are aborted, never visible; the retry emits it whole, once', async () => {
    const s = await setup({ maxEvents: 2, maxMs: 5 });
    await seed(s);
    s.binlog.append([1, 2]);
    const big = Array.from({ length: 1500 }, (_, i) => 1000 + i);
    s.binlog.append(big, { rowsPerEvent: 100 });
    s.binlog.append([3]);
    // Stream 0 (items: 0-2 the first transaction, 3 the big one's begin, 4-18 its rows events):
    // the connection is lost after 13 rows events, 1000 rows sent into the Kafka transaction.
    s.binlog.fault({ at: 17, action: 'drop', stream: 0 });
    const p = s.pipeline();
    const run = p.run();
    await until(async () => (await s.stored())?.pos === lastEnd(s.binlog), 'last checkpoint');
    p.stop();
    await run;
    expect(s.binlog.opened).toHaveLength(2);
    expect(s.binlog.opened[1]!.pos).toBe(s.binlog.transactions[0]!.end);
    const got = await s.published();
    expect(sorted(got)).toEqual(sorted(s.expected()));
    expect(new Set(got).size).toBe(got.length);
    // The first attempt's 1000 rows did reach the log, inside a Kafka transaction that was aborted.
    const everything = s.log.readUncommitted(TOPIC);
    expect(everything.length).toBe(got.length + 1000);
    expect(s.log.openTransactions()).toEqual([]);
  });

  it.each([
    ['lost before it took effect', false],
    ['applied, but its answer lost', true],
  ])('a Kafka commit failure (%s): restart from the stored checkpoint, no message twice or lost', async (_what, after) => {
    const s = await setup({ maxEvents: 4, maxMs: 60_000 });
    await seed(s);
    for (let i = 0; i < 6; i++) s.binlog.append([i * 2, i * 2 + 1]);
    s.log.failNext('commit', { after });
    const p = s.pipeline();
    const run = p.run();
    await until(async () => (await s.stored())?.pos === lastEnd(s.binlog), 'last checkpoint');
    p.stop();
    await run;
    expect(s.binlog.opened.length).toBe(2);
    expect(s.binlog.opened[1]!.pos).toBe(after ? s.binlog.transactions[1]!.end : s.binlog.opened[0]!.pos);
    const got = await s.published();
    expect(sorted(got)).toEqual(sorted(s.expected()));
    expect(new Set(got).size).toBe(got.length);
  });

  it('commits an open batch once batch.maxMs has passed on the injected clock, not before', async () => {
    const clock = new ManualClock();
    const s = await setup({ maxEvents: 1000, maxMs: 200 });
    await seed(s);
    const p = s.pipeline({ clock });
    const run = p.run();
    await until(() => s.binlog.opened.length === 1, 'open');
    s.binlog.append([1, 2]);
    await until(() => clock.pendingDelays().includes(200), 'waiting for the batch to fall due');
    await clock.advance(150);
    s.binlog.append([3]);
    await until(() => clock.pendingDelays().includes(50), 'waiting the rest of maxMs');
    expect(await s.published()).toEqual([]);
    await clock.advance(49);
    await new Promise((r) => setImmediate(r));
    expect(await s.published()).toEqual([]);
    await clock.advance(1);
    await until(async () => (await s.published()).length === 3, 'committed batch');
    expect(s.commits).toEqual([3]);
    p.stop();
    await run;
  });

  it('reports caught up after an idle second on the injected clock', async () => {
    const clock = new ManualClock();
    const s = await setup({ maxEvents: 1, maxMs: 10 });
    await seed(s);
    const p = s.pipeline({ clock });
    const run = p.run();
    await until(() => p.reading && clock.pending > 0, 'reading');
    expect(p.caughtUp).toBe(false);
    await clock.advance(999);
    await new Promise((r) => setImmediate(r));
    expect(p.caughtUp).toBe(false);
    await clock.advance(1);
    await until(() => p.caughtUp, 'caught up');
    p.stop();
    await run;
  });

  it('backs off on the injected clock with the given policy before it restarts', async () => {
    const clock = new ManualClock();
    const s = await setup();
    await seed(s);
    s.binlog.append([1]);
    s.binlog.fault({ at: 1, action: 'drop', stream: 0 });
    const p = s.pipeline({ clock, backoff: { initialMs: 500, maxMs: 30_000, jitter: 'none' } });
    const run = p.run();
    await until(() => clock.pendingDelays().includes(500), 'back-off timer');
    await clock.advance(499);
    await new Promise((r) => setImmediate(r));
    expect(s.binlog.opened).toHaveLength(1);
    await clock.advance(1);
    await until(() => s.binlog.opened.length === 2, 'restart');
    p.stop();
    await run;
  });

  it('a non-retriable error is thrown from run(), and the open Kafka transaction is aborted', async () => {
    const s = await setup({ maxEvents: 100, maxMs: 60_000 });
    await seed(s);
    s.binlog.append([1, 2]);
    s.log.failNext('send', { error: Object.assign(new Error('poison'), { retriable: false }) });
    s.binlog.append(
      Array.from({ length: 1000 }, (_, i) => 10 + i),
      { rowsPerEvent: 1000 },
    );
    const p = s.pipeline();
    await expect(p.run()).rejects.toThrow('poison');
    expect(s.log.openTransactions()).toEqual([]);
    expect(await s.published()).toEqual([]);
  });

  it('a failure while committing a batch aborts its Kafka transaction too (no open transaction left to hold consumers back)', async () => {
    const s = await setup({ maxEvents: 2, maxMs: 60_000 });
    await seed(s);
    s.binlog.append([1, 2]);
    s.log.failNext('send', { error: Object.assign(new Error('message too large'), { retriable: false }) });
    const p = s.pipeline();
    await expect(p.run()).rejects.toThrow('message too large');
    expect(s.log.openTransactions()).toEqual([]);
    expect(await s.published()).toEqual([]);
  });

  it('deletes after an archival marker row of their table in the same transaction carry source.archival; other deletes do not', async () => {
    const s = await setup({ maxEvents: 1, maxMs: 5 });
    await seed(s);
    const meta = 'shardline_meta';
    s.binlog.append([1, 2, 3, 4, 5, 6]);
    s.binlog.append([1, 2], { op: 'd', marker: { meta } }); // the archival job
    s.binlog.append([3], { op: 'd' }); // a user
    s.binlog.append([4], { op: 'd', marker: { meta, table: 'other' } }); // a marker naming another table
    s.binlog.append([5], { op: 'd', marker: { meta: 'not_meta' } }); // a table that only looks like the marker
    s.binlog.append([6], { op: 'd', marker: { meta } });
    const p = s.pipeline({ metaDatabase: meta });
    const run = p.run();
    await until(async () => (await s.stored())?.pos === lastEnd(s.binlog), 'everything committed');
    p.stop();
    await run;
    const deletes = (await s.log.readToEnd(TOPIC))
      .map((m) => JSON.parse(m.value!.toString()) as { op: string; before: { id: string }; source: { archival?: boolean } })
      .filter((e) => e.op === 'd')
      .map((e) => [e.before.id, e.source.archival ?? false])
      .sort((a, b) => Number(a[0]) - Number(b[0]));
    expect(deletes).toEqual([
      ['1', true],
      ['2', true],
      ['3', false],
      ['4', false],
      ['5', false],
      ['6', true],
    ]);
    // the marker rows themselves are never published
    expect((await s.log.readToEnd(TOPIC)).length).toBe(12);
  });
});
