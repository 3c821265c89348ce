import type { Checkpoint } from '../../src/cdc/checkpoint/checkpoint.js';
import { InMemoryEventLog } from '../../src/cdc/kafka/in-memory-event-log.js';
import { mergeWritten, mergeWrittenMaps, KafkaTransactionWriter } from '../../src/cdc/pipeline/kafka-transaction-writer.js';
import { ProgressTracker, appliedBy } from '../../src/cdc/progress/progress-tracker.js';
import { CheckpointStore } from '../../src/cdc/checkpoint/checkpoint-store.js';

const cp = (instance: string, seq: number, written: Record<string, string>, ts = seq * 1000): Checkpoint => ({
  instance,
  flavour: 'mysql',
  serverUuid: 'u',
  serverId: 1,
  file: 'binlog.000001',
  pos: seq,
  gtidSet: `u:1-${seq}`,
  written,
  sourceTsUs: ts,
});

describe('sink progress (pure)', () => {
  it('a checkpoint is applied once every partition it lists has a committed offset above its offset', () => {
    const c = { written: { 't:0': '4', 't:2': '10' } };
    expect(appliedBy(c, new Map([['t:0', 5n]]))).toBe(false); // t:2 never committed
    expect(
      appliedBy(
        c,
        new Map([
          ['t:0', 5n],
          ['t:2', 10n],
        ]),
      ),
    ).toBe(false); // offset 10 not yet read
    expect(
      appliedBy(
        c,
        new Map([
          ['t:0', 5n],
          ['t:2', 11n],
          ['t:1', 0n],
        ]),
      ),
    ).toBe(true);
    expect(appliedBy({ written: {} }, new Map())).toBe(true);
    expect(appliedBy({}, new Map())).toBe(true);
  });

  it('the tracker publishes the last applied checkpoint per instance and whether the sink caught up', () => {
    const t = new ProgressTracker();
    t.add(cp('a', 1, { 'x:0': '0' }));
    t.add(cp('a', 2, { 'x:0': '3', 'x:1': '1' }));
    t.add(cp('a', 3, { 'x:0': '3', 'x:1': '7' }));
    t.add(cp('b', 1, {}));
    expect(t.advance(new Map())).toEqual(['b']);
    expect(t.progress()).toEqual([
      { instance: 'a', flavour: 'mysql', gtidSet: null, sourceTsUs: 0, caughtUp: false },
      { instance: 'b', flavour: 'mysql', gtidSet: 'u:1-1', sourceTsUs: 1000, caughtUp: true },
    ]);
    expect(
      t.advance(
        new Map([
          ['x:0', 4n],
          ['x:1', 2n],
        ]),
      ),
    ).toEqual(['a']);
    expect(t.progress()[0]).toEqual({ instance: 'a', flavour: 'mysql', gtidSet: 'u:1-2', sourceTsUs: 2000, caughtUp: false });
    expect(
      t.advance(
        new Map([
          ['x:0', 4n],
          ['x:1', 2n],
        ]),
      ),
    ).toEqual([]);
    expect(
      t.advance(
        new Map([
          ['x:0', 4n],
          ['x:1', 8n],
        ]),
      ),
    ).toEqual(['a']);
    expect(t.progress()[0]).toEqual({ instance: 'a', flavour: 'mysql', gtidSet: 'u:1-3', sourceTsUs: 3000, caughtUp: true });
  });

  it('written offsets merge to the larger offset of each partition', () => {
    expect(
      mergeWritten({ 'a:0': '9', 'a:1': '2' }, [
        { topic: 'a', partition: 1, at: 'a:1', lastOffset: '5' },
        { topic: 'a', partition: 0, at: 'a:0', lastOffset: '3' },
        { topic: 'b', partition: 0, at: 'b:0', lastOffset: '0' },
      ]),
    ).toEqual({
      'a:0': '9',
      'a:1': '5',
      'b:0': '0',
    });
    expect(mergeWrittenMaps({ 'a:0': '12' }, { 'a:0': '100', 'c:3': '1' })).toEqual({ 'a:0': '100', 'c:3': '1' });
    expect(mergeWrittenMaps({ 'a:0': '12' }, undefined)).toEqual({ 'a:0': '12' });
  });
});

describe('written offsets through a Kafka transaction (in-memory log)', () => {
  it('each checkpoint lists where its instance wrote, cumulatively; a consumer group applies them in order', async () => {
    const log = new InMemoryEventLog({ defaultPartitions: 3 });
    await log.ensureTopics([
      { topic: 'ch', partitions: 3, replicationFactor: 1 },
      { topic: 'cp', partitions: 1, replicationFactor: 1, compacted: true },
    ]);
    const store = new CheckpointStore(log, 'cp', () => 0);
    const producer = await log.transactionalProducer('w');
    // resumed from a checkpoint that had written to another topic
    const writer = new KafkaTransactionWriter(producer, store, () => undefined, { 'old:0': '7' });
    const keys = ['k1', 'k2', 'k3', 'k4', 'k5', 'k6'];
    await writer.apply([
      { type: 'begin' },
      { type: 'send', messages: keys.slice(0, 3).map((key) => ({ topic: 'ch', key, value: '{}' })) },
      { type: 'commit', messages: [{ topic: 'ch', key: 'k4', value: '{}' }], checkpoint: cp('a', 1, {}), events: 4 },
    ]);
    await writer.apply([
      { type: 'begin' },
      { type: 'commit', messages: keys.slice(4).map((key) => ({ topic: 'ch', key, value: '{}' })), checkpoint: cp('a', 2, {}), events: 2 },
    ]);
    const checkpoints = (await log.readToEnd('cp')).map((m) => JSON.parse(m.value!.toString()) as Checkpoint);
    expect(checkpoints).toHaveLength(2);
    // where the messages landed, as a consumer reads them
    const seen: { key: string; at: string; offset: number }[] = [];
    const consumer = log.consumer({ groupId: 'g', topics: ['ch'] });
    void consumer.run(async (b) => {
      for (const m of b.messages) seen.push({ key: m.key!.toString(), at: `${b.topic}:${b.partition}`, offset: Number(m.offset) });
    });
    while (seen.length < 6) await new Promise((r) => setTimeout(r, 5));
    await consumer.stop();
    const lastOf = (upTo: number) => {
      const out: Record<string, string> = { 'old:0': '7' };
      for (const s of seen.filter((s) => keys.indexOf(s.key) < upTo)) out[s.at] = String(Math.max(s.offset, Number(out[s.at] ?? -1)));
      return out;
    };
    expect(checkpoints[0]!.written).toEqual(lastOf(4));
    expect(checkpoints[1]!.written).toEqual(lastOf(6));
    expect(writer.writtenOffsets).toEqual(lastOf(6));
    // the group read everything of `ch`: both applied once `old` is read past its offset 7 too
    const committed = await log.committedOffsets('g', ['ch']);
    expect([...committed.values()].reduce((a, b) => a + b, 0n)).toBe(6n);
    const t = new ProgressTracker();
    for (const c of checkpoints) t.add(c);
    expect(t.advance(committed)).toEqual([]);
    expect(t.advance(new Map([...committed, ['old:0', 8n]]))).toEqual(['a']);
    expect(t.progress()[0]).toMatchObject({ gtidSet: 'u:1-2', caughtUp: true });
    expect(await log.committedOffsets('nobody', ['ch'])).toEqual(new Map());
    // an ephemeral group (the publisher's own, read from the start at every worker start) is gone once it stops
    let read = 0;
    const own = log.consumer({ groupId: 'mine', topics: ['ch'], ephemeral: true });
    void own.run(async (b) => {
      read += b.messages.length;
    });
    while (read < 6) await new Promise((r) => setTimeout(r, 5));
    expect((await log.committedOffsets('mine', ['ch'])).size).toBeGreaterThan(0);
    await own.stop();
    expect(await log.committedOffsets('mine', ['ch'])).toEqual(new Map());
  });
});

/** An in-memory log with a change topic `ch` and a checkpoint topic `cp`, one partition each. */
async function changeAndCheckpointLog(): Promise<InMemoryEventLog> {
  const log = new InMemoryEventLog({ defaultPartitions: 1 });
  await log.ensureTopics([
    { topic: 'ch', partitions: 1, replicationFactor: 1 },
    { topic: 'cp', partitions: 1, replicationFactor: 1, compacted: true },
  ]);
  return log;
}

/** An archive connection that records the values of every INSERT. */
function recordingArchive() {
  const writes: unknown[][] = [];
  const conn = {
    broken: false,
    query: async (sql: string, values: readonly unknown[] = []) => {
      if (sql.startsWith('INSERT INTO')) writes.push([...values]);
      return { rows: [], affectedRows: 0, info: '' };
    },
    close: async () => undefined,
    destroy: () => undefined,
  };
  return { writes, conn };
}

describe('progress publisher: Elasticsearch refreshed at most once per refreshMs', () => {
  it('publishes a refreshed sink only after a refresh, and refreshes no more often than refreshMs', async () => {
    const { ProgressPublisher } = await import('../../src/cdc/progress/progress-publisher.js');
    const log = await changeAndCheckpointLog();
    let t = 10_000;
    const { writes, conn } = recordingArchive();
    const refreshes: number[] = [];
    const publisher = new ProgressPublisher({
      log,
      checkpointTopic: 'cp',
      groupPrefix: 'p',
      instances: ['a'],
      sinks: [{ name: 'elasticsearch', groupId: 'es', topics: ['ch'], refresh: async () => void refreshes.push(t) }],
      archive: { name: 'archive', host: 'h', port: 1, user: 'u', password: '' } as never,
      metaDatabase: 'meta',
      intervalMs: 60_000,
      heartbeatMs: 60_000,
      refreshMs: 1000,
      logger: { warn: () => undefined } as never,
      connect: async () => conn,
      now: () => t,
    });
    await publisher.start();
    // the sink's group reads everything of `ch` as it comes
    const sink = log.consumer({ groupId: 'es', topics: ['ch'] });
    void sink.run(async () => undefined);
    const step = async (n: number) => {
      await log.send([{ topic: 'ch', key: `k${n}`, value: '{}' }]);
      await log.send([{ topic: 'cp', key: 'a', value: JSON.stringify(cp('a', n, { 'ch:0': String(n - 1) })) }]);
      for (let i = 0; i < 50 && (await log.committedOffsets('es', ['ch'])).get('ch:0') !== BigInt(n); i++)
        await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 20));
    };
    await step(1);
    await publisher.tickNow();
    expect(refreshes).toEqual([10_000]);
    expect(writes).toHaveLength(1);
    // applied further 300 ms later: not searchable yet, so not published, and no refresh before 1 s
    t += 300;
    await step(2);
    await publisher.tickNow();
    expect(refreshes).toHaveLength(1);
    expect(writes).toHaveLength(1);
    t += 400;
    await publisher.tickNow();
    expect(writes).toHaveLength(1);
    // a second after the last refresh: refreshed, then published with the new position
    t += 300;
    await publisher.tickNow();
    expect(refreshes).toEqual([10_000, 11_000]);
    expect(writes).toHaveLength(2);
    expect(writes[1]).toContain('u:1-2');
    await sink.stop();
    await publisher.stop();
  });
});

describe('progress publisher: an idle worker polls nothing', () => {
  it("polls a sink's offsets only while a checkpoint is unapplied, and heartbeats every sink in one statement", async () => {
    const { ProgressPublisher } = await import('../../src/cdc/progress/progress-publisher.js');
    const log = await changeAndCheckpointLog();
    let polls = 0;
    const committedOffsets = log.committedOffsets.bind(log);
    log.committedOffsets = async (group: string, topics: readonly string[]) => {
      if (group !== 'probe') polls++;
      return committedOffsets(group, topics);
    };
    let t = 10_000;
    const { writes, conn } = recordingArchive();
    const publisher = new ProgressPublisher({
      log,
      checkpointTopic: 'cp',
      groupPrefix: 'p',
      instances: ['a'],
      sinks: [
        { name: 'elasticsearch', groupId: 'es', topics: ['ch'] },
        { name: 'archive', groupId: 'ar', topics: ['ch'] },
      ],
      archive: { name: 'archive', host: 'h', port: 1, user: 'u', password: '' } as never,
      metaDatabase: 'meta',
      intervalMs: 60_000,
      heartbeatMs: 250,
      logger: { warn: () => undefined } as never,
      connect: async () => conn,
      now: () => t,
    });
    await publisher.start();
    const sinks = ['es', 'ar'].map((groupId) => log.consumer({ groupId, topics: ['ch'] }));
    for (const sink of sinks) void sink.run(async () => undefined);
    const step = async (n: number) => {
      await log.send([{ topic: 'ch', key: `k${n}`, value: '{}' }]);
      await log.send([{ topic: 'cp', key: 'a', value: JSON.stringify(cp('a', n, { 'ch:0': String(n - 1) })) }]);
      for (const g of ['es', 'ar'])
        for (let i = 0; i < 50 && (await committedOffsets(g, ['ch'])).get('ch:0') !== BigInt(n); i++)
          await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 20));
    };
    await step(1);
    await publisher.tickNow();
    expect(polls).toBe(2);
    // both sinks' rows in one upsert: 2 rows × 7 values
    expect(writes).toHaveLength(1);
    expect(writes[0]).toHaveLength(14);
    expect(writes[0]).toEqual(expect.arrayContaining(['es', 'ar']));
    // caught up, nothing new: no poll; before the heartbeat nothing is written either
    t += 100;
    await publisher.tickNow();
    expect(polls).toBe(2);
    expect(writes).toHaveLength(1);
    // the heartbeat: one statement for both sinks, still without a poll
    t += 200;
    await publisher.tickNow();
    expect(polls).toBe(2);
    expect(writes).toHaveLength(2);
    expect(writes[1]).toHaveLength(14);
    // a new checkpoint: polled again, and published at its position
    await step(2);
    await publisher.tickNow();
    expect(polls).toBe(4);
    expect(writes).toHaveLength(3);
    expect(writes[2]).toContain('u:1-2');
    for (const sink of sinks) await sink.stop();
    await publisher.stop();
  });
});
