import { pino } from 'pino';
import { CheckpointStore } from '../../src/cdc/checkpoint/checkpoint-store.js';
import { InMemoryEventLog } from '../../src/cdc/kafka/in-memory-event-log.js';
import { createCdcMetrics } from '../../src/cdc/metrics/cdc-metrics.js';
import type { CaptureRules } from '../../src/cdc/pipeline/capture-rules.js';
import { InstancePipeline } from '../../src/cdc/pipeline/instance-pipeline.js';
import { SnapshotStore } from '../../src/cdc/snapshot/snapshot-store.js';
import { newSnapshotRequest, parseSnapshotRequest, requestMessage } from '../../src/cdc/snapshot/snapshot-request.js';
import { parseShardRange } from '../../src/cli/cdc-snapshot-command.js';
import { snapshotStatus } from '../../src/cli/cdc-status-command.js';
import { isShardlineError } from '../../src/errors/index.js';
import { bundledClusterConfig, loadClusterConfig } from '../../src/config/index.js';
import type { RawRowSession, RawRows } from '../../src/net/index.js';
import { Topology } from '../../src/shard/index.js';
import { FakeBinlog } from '../support/fake-binlog.js';

const config = loadClusterConfig(bundledClusterConfig, {});
const instance = { ...config.instances[0]!, flavour: 'mysql' as const, replication: { user: 'repl', password: 'unused' } };
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
const UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562';

async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

interface Event {
  op: string;
  after: { id: string; v?: string } | null;
  source: { file: string; pos: number; snapshot: string };
}

/**
 * The source table `shop.items` (ids 1…n, a text column) behind a fake raw-row session: SELECTs
 * see the table as it is when called; `gtid_executed` and the binlog end follow the fake binlog.
 */
class FakeTable {
  readonly rows = new Map<bigint, string>();
  selects = 0;
  /** Runs after a chunk's rows are taken and before it is returned (writes "during" the read). */
  duringSelect: ((chunk: number) => void) | null = null;

  constructor(
    private readonly binlog: FakeBinlog,
    n: number,
  ) {
    for (let i = 1n; i <= BigInt(n); i++) this.rows.set(i, `v${i}`);
  }

  session(): RawRowSession {
    return {
      query: async <T>(sql: string): Promise<T[]> => {
        const cp = await this.binlog.current();
        if (sql.includes('gtid_executed')) return [{ executed: cp.gtidSet ?? '' }] as T[];
        if (sql.includes('BINARY LOG STATUS')) return [{ File: cp.file, Position: cp.pos }] as T[];
        if (sql.includes('information_schema.COLUMNS'))
          return [
            { name: 'id', dataType: 'bigint', columnType: 'bigint unsigned', nullable: 'NO', charset: null, collation: null },
            { name: 'v', dataType: 'varchar', columnType: 'varchar(20)', nullable: 'YES', charset: 'utf8mb4', collation: 'utf8mb4_bin' },
          ] as T[];
        if (sql.includes('KEY_COLUMN_USAGE')) return [{ name: 'id' }] as T[];
        if (sql.includes('information_schema.TABLES')) return [{ n: this.rows.size }] as T[];
        throw new Error(`unexpected query ${sql}`);
      },
      select: async (sql: string, params: readonly unknown[] = []): Promise<RawRows> => {
        const limit = Number(/LIMIT (\d+)$/.exec(sql)![1]);
        const after = params.length ? BigInt(String(params[0])) : 0n;
        const ids = [...this.rows.keys()].filter((id) => id > after).sort((a, b) => (a < b ? -1 : 1));
        const rows = ids.slice(0, limit).map((id) => [Buffer.from(String(id)), Buffer.from(this.rows.get(id)!)]);
        if (limit > 0) {
          const chunk = this.selects++;
          this.duringSelect?.(chunk);
        }
        return {
          rows,
          fields: [
            { name: 'id', type: 8, charset: 63, flags: 32 | 2 },
            { name: 'v', type: 253, charset: 45, flags: 0 },
          ],
        };
      },
      close: async () => undefined,
    };
  }
}

async function setup(rowsInTable: number, chunkRows: number, mode: 'initial' | 'never' = 'initial', batchMaxMs = 5) {
  const log = new InMemoryEventLog();
  await log.ensureTopics([
    { topic: CHECKPOINTS, partitions: config.instances.length, replicationFactor: 1, compacted: true },
    { topic: TOPIC, partitions: 3, replicationFactor: 1 },
  ]);
  const partitionOf = (name: string) => config.instances.findIndex((i) => i.name === name);
  const checkpoints = new CheckpointStore(log, CHECKPOINTS, partitionOf);
  const store = new SnapshotStore(log, CHECKPOINTS, partitionOf);
  const binlog = new FakeBinlog(instance.name);
  const table = new FakeTable(binlog, rowsInTable);
  const pipeline = () =>
    new InstancePipeline({
      instance,
      replicaServerId: 1001,
      log,
      checkpoints,
      rules: () => rules,
      topicPrefix: 'cdc.',
      batch: { maxEvents: 500, maxMs: batchMaxMs },
      transactionalId: `test-cdc-${instance.name}`,
      logger: pino({ level: 'silent' }),
      metrics: createCdcMetrics(),
      sources: binlog,
      backoff: { initialMs: 0, maxMs: 0, jitter: 'none' },
      snapshot: {
        mode,
        chunkRows,
        tablesPerInstance: 1,
        maxRowsPerSecond: null,
        store,
        tables: () => [{ database: 'shop', table: 'items', logical: 'items', shard: null }],
        openSession: async () => table.session(),
      },
    });
  const events = async () => (await log.readToEnd(TOPIC)).map((m) => JSON.parse(m.value!.toString()) as Event);
  const planDone = async () => (await store.load(instance.name)) === null;
  return { log, binlog, table, pipeline, events, planDone, store, checkpoints };
}

describe('snapshot through the instance pipeline (fake source, in-memory Kafka)', () => {
  it('publishes every existing row once as an r event at the stream position, then removes its plan', async () => {
    const s = await setup(1000, 128);
    s.binlog.append([5000]);
    const p = s.pipeline();
    const run = p.run();
    await until(async () => (await s.events()).filter((e) => e.op === 'r').length === 1000 && (await s.planDone()), 'the snapshot');
    s.binlog.append([5001]);
    await until(async () => (await s.events()).some((e) => e.after?.id === '5001'), 'a change after the snapshot');
    p.stop();
    await run;
    const events = await s.events();
    const reads = events.filter((e) => e.op === 'r');
    expect(new Set(reads.map((e) => e.after!.id)).size).toBe(1000);
    expect(reads.every((e) => e.source.snapshot === 'initial' && e.after!.v === `v${e.after!.id}`)).toBe(true);
    expect(events.filter((e) => e.op !== 'r').every((e) => e.source.snapshot === 'false')).toBe(true);
    // r events stand at the stream's position: after the binlog's end at the first start, before the later change.
    const start = s.binlog.transactions[0]!.end;
    expect(reads.every((e) => e.source.pos === start)).toBe(true);
    const later = events.find((e) => e.after?.id === '5001')!;
    expect(later.source.pos).toBeGreaterThan(start);
    expect(s.table.selects).toBe(8);
  });

  it('drops from a chunk every key a transaction its read did not see changed (the binlog carries the newer row)', async () => {
    const s = await setup(300, 100);
    s.table.duringSelect = (chunk) => {
      if (chunk !== 1) return;
      // Committed after gtid_executed was read and after the SELECT took its rows: the chunk holds the old 150.
      s.table.rows.set(150n, 'new');
      s.binlog.append([150]);
    };
    const p = s.pipeline();
    const run = p.run();
    await until(async () => (await s.events()).filter((e) => e.op === 'r').length > 0 && (await s.planDone()), 'the snapshot');
    p.stop();
    await run;
    const events = await s.events();
    const reads = events.filter((e) => e.op === 'r').map((e) => e.after!.id);
    expect(reads).toHaveLength(299);
    expect(reads).not.toContain('150');
    expect(events.filter((e) => e.op === 'c').map((e) => e.after!.id)).toEqual(['150']);
  });

  it('keeps a chunk row that a transaction inside its low watermark changed, though the stream handles it after the read', async () => {
    const s = await setup(300, 100);
    // A snapshot planned at a checkpoint before the change; the stream stalls before its first item
    // while the change is committed (in gtid_executed) and read by the chunk.
    await s.log.send([
      s.checkpoints.message(await s.binlog.current()),
      s.store.planMessage({ instance: instance.name, kind: 'initial', tables: ['shop.items'], startedAtMs: 1 }),
    ]);
    s.binlog.fault({ at: 0, action: 'stall' });
    s.table.rows.set(250n, 'seen');
    s.binlog.append([250]);
    const p = s.pipeline();
    const run = p.run();
    await until(async () => (await s.events()).filter((e) => e.op === 'r').length === 300, 'the chunks');
    s.binlog.release();
    await until(async () => (await s.events()).some((e) => e.op === 'c'), 'the lagging change');
    p.stop();
    await run;
    const events = await s.events();
    const reads = events.filter((e) => e.op === 'r');
    expect(reads.find((e) => e.after!.id === '250')?.after!.v).toBe('seen');
    const change = events.find((e) => e.op === 'c')!;
    expect(change.after!.id).toBe('250');
    expect(`${UUID}:1`).toBe(s.binlog.transactions[0]!.gtid);
  });

  it('resumes after a crash from the committed progress: at most one chunk read twice, none lost', async () => {
    const s = await setup(1000, 100);
    let stopAt: (() => void) | null = null;
    s.table.duringSelect = (chunk) => {
      if (chunk === 4) stopAt?.();
    };
    const first = s.pipeline();
    const firstRun = first.run();
    await new Promise<void>((resolve) => (stopAt = resolve));
    first.stop();
    await firstRun;
    const before = (await s.events()).filter((e) => e.op === 'r').length;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(1000);
    const second = s.pipeline();
    const secondRun = second.run();
    await until(async () => await s.planDone(), 'the resumed snapshot');
    second.stop();
    await secondRun;
    const ids = (await s.events()).filter((e) => e.op === 'r').map((e) => e.after!.id);
    expect(new Set(ids).size).toBe(1000);
    expect(ids.length - 1000).toBeLessThanOrEqual(100);
    expect(s.table.selects).toBeLessThanOrEqual(12);
  });

  it('puts at most one chunk of a table in a Kafka transaction: an aborted commit re-reads one chunk only', async () => {
    // Reads are instant and a batch stays open 40 ms: without the rule, many chunks of the table would share it.
    const s = await setup(2000, 100, 'initial', 40);
    const p = s.pipeline();
    const run = p.run();
    await until(async () => (await s.store.load(instance.name)) !== null, 'the committed plan');
    s.log.failNext('commit');
    await until(async () => await s.planDone(), 'the snapshot, resumed after the failed commit');
    p.stop();
    await run;
    const committed = (await s.events()).filter((e) => e.op === 'r').map((e) => e.after!.id);
    expect(committed).toHaveLength(2000);
    expect(new Set(committed).size).toBe(2000);
    const everything = s.log
      .readUncommitted(TOPIC)
      .map((m) => JSON.parse(m.value!.toString()) as Event)
      .filter((e) => e.op === 'r');
    const aborted = everything.length - committed.length;
    expect(aborted).toBeGreaterThan(0);
    expect(aborted).toBeLessThanOrEqual(100);
  });

  it('on demand: a running reader carries out a cdc snapshot request once, publishes incremental r events and records it done', async () => {
    const s = await setup(250, 100, 'never');
    const p = s.pipeline();
    const run = p.run();
    await until(() => p.reading, 'reading');
    const request = newSnapshotRequest('items', null, null);
    p.requestSnapshot(request);
    p.requestSnapshot(request);
    await until(async () => (await s.store.done(request.id)).length === 1, 'the request to be done');
    p.stop();
    await run;
    const reads = (await s.events()).filter((e) => e.op === 'r');
    expect(reads).toHaveLength(250);
    expect(reads.every((e) => e.source.snapshot === 'incremental')).toBe(true);
    const [done] = await s.store.done(request.id);
    expect(done).toMatchObject({ instance: instance.name, rows: 250, chunks: 3, tables: 1 });
    // A restart does not carry it out again.
    const again = s.pipeline();
    again.requestSnapshot(request);
    const againRun = again.run();
    await until(() => again.reading, 'reading again');
    s.binlog.append([7]);
    await until(async () => (await s.events()).some((e) => e.op === 'c'), 'a change after the restart');
    again.stop();
    await againRun;
    expect((await s.events()).filter((e) => e.op === 'r')).toHaveLength(250);
  });

  it('a request for another instance is not carried out here', async () => {
    const s = await setup(50, 100, 'never');
    const p = s.pipeline();
    const run = p.run();
    await until(() => p.reading, 'reading');
    p.requestSnapshot(newSnapshotRequest('items', null, 'shard-9'));
    s.binlog.append([1]);
    await until(async () => (await s.events()).some((e) => e.op === 'c'), 'a change');
    p.stop();
    await run;
    expect((await s.events()).filter((e) => e.op === 'r')).toHaveLength(0);
  });
});

describe('snapshot requests on the signal topic', () => {
  it('round-trips a request and refuses malformed records', () => {
    const r = newSnapshotRequest('users', [768, 831], 'shard-3');
    const m = requestMessage('sig', r);
    expect(parseSnapshotRequest(Buffer.from(m.key!), Buffer.from(m.value!))).toEqual(r);
    const bad = (value: unknown, key = m.key!) => parseSnapshotRequest(Buffer.from(key), Buffer.from(JSON.stringify(value)));
    expect(bad(r, 'other:1')).toBeNull();
    expect(bad({ ...r, id: "x'; DROP" })).toBeNull();
    expect(bad({ ...r, shards: [5, 1] })).toBeNull();
    expect(bad({ ...r, shards: [-1, 3] })).toBeNull();
    expect(bad({ ...r, table: '' })).toBeNull();
    expect(bad({ ...r, table: 'x'.repeat(300) })).toBeNull();
    expect(parseSnapshotRequest(Buffer.from(m.key!), Buffer.from('{not json'))).toBeNull();
    expect(parseSnapshotRequest(Buffer.from(m.key!), Buffer.alloc(10_000, 32))).toBeNull();
    expect(parseSnapshotRequest(null, Buffer.from(m.value!))).toBeNull();
  });

  it('parses --shards ranges within the shard count', () => {
    expect(parseShardRange('768-831', 1024)).toEqual([768, 831]);
    expect(parseShardRange('5', 1024)).toEqual([5, 5]);
    for (const v of ['1024', '5-1', 'a-b', '-1', '1-2-3', '']) {
      let err: unknown;
      try {
        parseShardRange(v, 1024);
      } catch (e) {
        err = e;
      }
      expect(isShardlineError(err) && err.code === 'USAGE').toBe(true);
    }
  });
});

describe('cdc status', () => {
  it('reports a running snapshot with its rate and an ETA from the tables done, and none when finished', () => {
    const plan = { instance: 'shard-0', kind: 'initial' as const, tables: ['a.t1', 'a.t2', 'a.t3', 'a.t4'], startedAtMs: 10_000 };
    const progress = new Map([
      ['a.t1', { instance: 'shard-0', table: 'a.t1', after: null, done: true, rows: 600, chunks: 3 }],
      ['a.t2', { instance: 'shard-0', table: 'a.t2', after: [{ s: '9' }], done: false, rows: 400, chunks: 2 }],
    ]);
    expect(snapshotStatus({ state: { plan, progress }, handled: new Set() }, 20_000)).toEqual({
      kind: 'initial',
      request: null,
      tablesDone: 1,
      tables: 4,
      rows: 1000,
      rowsPerSecond: 100,
      etaSeconds: 30,
    });
    expect(snapshotStatus({ state: null, handled: new Set(['x']) }, 20_000)).toBeNull();
  });
});
