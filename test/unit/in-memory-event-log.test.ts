import { InMemoryEventLog } from '../../src/cdc/kafka/in-memory-event-log.js';
import type { InboundBatch } from '../../src/cdc/kafka/event-log.js';
import { isShardlineError } from '../../src/errors/index.js';

const m = (value: string, o: { key?: string; partition?: number; topic?: string } = {}) => ({
  topic: o.topic ?? 't',
  key: o.key ?? value,
  value,
  ...(o.partition !== undefined ? { partition: o.partition } : {}),
});
const values = async (log: InMemoryEventLog, topic = 't', partitions?: number[]) =>
  (await log.readToEnd(topic, partitions)).map((x) => x.value!.toString());

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (isShardlineError(err)) return `${err.code}${err.retriable ? ' retriable' : ''}`;
    throw err;
  }
  return 'resolved';
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  if (!cond()) throw new Error('timed out');
}

describe('InMemoryEventLog (the EventLog contract without a broker)', () => {
  it('shows a transaction’s messages to read_committed readers only once it commits; an aborted one never', async () => {
    const log = new InMemoryEventLog();
    await log.ensureTopics([{ topic: 't', partitions: 1, replicationFactor: 1 }]);
    const p = await log.transactionalProducer('a');
    const t1 = await p.begin();
    await t1.send([m('1'), m('2')]);
    expect(await values(log)).toEqual([]);
    expect(log.readUncommitted('t').map((x) => x.value!.toString())).toEqual(['1', '2']);
    await t1.commit();
    expect(await values(log)).toEqual(['1', '2']);
    const t2 = await p.begin();
    await t2.send([m('3')]);
    await t2.abort();
    const t3 = await p.begin();
    await t3.send([m('4')]);
    await t3.commit();
    const read = await log.readToEnd('t');
    expect(read.map((x) => [x.value!.toString(), x.offset])).toEqual([
      ['1', '0'],
      ['2', '1'],
      ['4', '3'],
    ]);
  });

  it('read_committed stops at the first open transaction of a partition (the last stable offset)', async () => {
    const log = new InMemoryEventLog();
    await log.ensureTopics([{ topic: 't', partitions: 2, replicationFactor: 1 }]);
    const a = await (await log.transactionalProducer('a')).begin();
    const b = await (await log.transactionalProducer('b')).begin();
    await a.send([m('a1', { partition: 0 })]);
    await b.send([m('b1', { partition: 0 }), m('b2', { partition: 1 })]);
    await b.commit();
    expect(await values(log)).toEqual(['b2']);
    expect(await values(log, 't', [0])).toEqual([]);
    await a.commit();
    expect(await values(log, 't', [0])).toEqual(['a1', 'b1']);
  });

  it('a new producer of the same transactional id fences the old one: its open transaction is aborted, its calls fail KAFKA_FENCED', async () => {
    const log = new InMemoryEventLog();
    const zombie = await log.transactionalProducer('x');
    const t = await zombie.begin();
    await t.send([m('zombie')]);
    const fresh = await log.transactionalProducer('x');
    expect(log.openTransactions()).toEqual([]);
    expect(await codeOf(t.send([m('late')]))).toBe('KAFKA_FENCED');
    expect(await codeOf(t.commit())).toBe('KAFKA_FENCED');
    expect(await codeOf(zombie.begin())).toBe('KAFKA_FENCED');
    const ok = await fresh.begin();
    await ok.send([m('fresh')]);
    await ok.commit();
    expect(await values(log)).toEqual(['fresh']);
    // Another id is not fenced.
    const other = await (await log.transactionalProducer('y')).begin();
    expect(await codeOf(other.commit())).toBe('resolved');
  });

  it('refuses a second open transaction per producer and use after commit', async () => {
    const log = new InMemoryEventLog();
    const p = await log.transactionalProducer('a');
    const t = await p.begin();
    expect(await codeOf(p.begin())).toBe('KAFKA');
    await t.commit();
    expect(await codeOf(t.send([m('1')]))).toBe('KAFKA');
    await p.disconnect();
    expect(await codeOf(p.begin())).toBe('KAFKA retriable');
  });

  it('failNext: a failure before the commit leaves it undone; after it, the commit stands', async () => {
    const log = new InMemoryEventLog();
    const p = await log.transactionalProducer('a');
    const t1 = await p.begin();
    await t1.send([m('1')]);
    log.failNext('commit');
    expect(await codeOf(t1.commit())).toBe('KAFKA retriable');
    expect(await values(log)).toEqual([]);
    await t1.abort();
    const t2 = await p.begin();
    await t2.send([m('2')]);
    log.failNext('commit', { after: true });
    expect(await codeOf(t2.commit())).toBe('KAFKA retriable');
    expect(await values(log)).toEqual(['2']);
  });

  it('keeps one key in one partition; an explicit partition wins', async () => {
    const log = new InMemoryEventLog();
    await log.ensureTopics([{ topic: 't', partitions: 4, replicationFactor: 1 }]);
    await log.send(['k1', 'k2', 'k1', 'k3', 'k1'].map((k, i) => m(String(i), { key: k })));
    await log.send([m('x', { key: 'k1', partition: 3 })]);
    const byPartition = await Promise.all([0, 1, 2, 3].map((p) => values(log, 't', [p])));
    const k1 = byPartition.findIndex((vs) => vs.includes('0'));
    expect(byPartition[k1]).toEqual(expect.arrayContaining(['0', '2', '4']));
    expect(byPartition[3]).toContain('x');
  });

  it('a consumer group gets committed messages only, commits offsets after eachBatch, and gets a failed batch again', async () => {
    const log = new InMemoryEventLog({ consumerRetryMs: 1 });
    await log.ensureTopics([{ topic: 't', partitions: 1, replicationFactor: 1 }]);
    const seen: string[] = [];
    let failOnce = true;
    const c = log.consumer({ groupId: 'g', topics: ['t'] });
    await c.run(async (batch: InboundBatch) => {
      if (failOnce && batch.messages.some((x) => x.value!.toString() === 'boom')) {
        failOnce = false;
        throw new Error('sink down');
      }
      seen.push(...batch.messages.map((x) => x.value!.toString()));
    });
    const p = await log.transactionalProducer('a');
    const t = await p.begin();
    await t.send([m('1')]);
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([]);
    await t.commit();
    await until(() => seen.length === 1);
    const aborted = await p.begin();
    await aborted.send([m('never')]);
    await aborted.abort();
    await log.send([m('boom'), m('3')]);
    await until(() => seen.length === 3);
    expect(seen).toEqual(['1', 'boom', '3']);
    await c.stop();
    // A new member of the group starts at the committed offset.
    await log.send([m('4')]);
    const later: string[] = [];
    const c2 = log.consumer({ groupId: 'g', topics: [/^t$/] });
    await c2.run(async (batch) => void later.push(...batch.messages.map((x) => x.value!.toString())));
    await until(() => later.length === 1);
    expect(later).toEqual(['4']);
    await log.close();
  });

  it('members of a group share the partitions and are told their assignment', async () => {
    const log = new InMemoryEventLog();
    await log.ensureTopics([{ topic: 't', partitions: 4, replicationFactor: 1 }]);
    const assigned: Record<string, Record<string, number[]>> = {};
    const one = log.consumer({ groupId: 'g', topics: ['t'], onAssignment: (a) => (assigned.one = a) });
    await one.run(async () => {});
    expect(assigned.one).toEqual({ t: [0, 1, 2, 3] });
    const two = log.consumer({ groupId: 'g', topics: ['t'], onAssignment: (a) => (assigned.two = a) });
    await two.run(async () => {});
    expect([...assigned.one!.t!, ...assigned.two!.t!].sort()).toEqual([0, 1, 2, 3]);
    expect(assigned.one!.t).toHaveLength(2);
    await two.stop();
    expect(assigned.one).toEqual({ t: [0, 1, 2, 3] });
    await log.close();
  });
});
