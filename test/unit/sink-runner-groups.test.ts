import { InMemoryEventLog } from '../../src/cdc/kafka/in-memory-event-log.js';
import type { SinkRecord } from '../../src/cdc/sinks/sink-record.js';
import { changeEvent } from '../support/change-events.js';
import { usersSinkRunner } from '../support/sink-runner.js';

const until = async (cond: () => boolean, what: string, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('SinkRunner: one sink write for every partition of a fetch', () => {
  const PARTITIONS = 8;
  const ROWS = 200;

  async function run(sinkWrite: (records: readonly SinkRecord[]) => Promise<void>) {
    const log = new InMemoryEventLog({ maxBatchMessages: 1000 });
    await log.ensureTopics([{ topic: 'cdc.users', partitions: PARTITIONS, replicationFactor: 1 }]);
    await log.send(
      Array.from({ length: ROWS }, (_, i) => ({
        topic: 'cdc.users',
        key: String(i),
        value: JSON.stringify(changeEvent(String(i), { version: String(1000 + i), pos: 400 + i })),
      })),
    );
    const sink = { write: async (records: readonly SinkRecord[]) => (await sinkWrite(records), []), close: async () => undefined };
    const runner = usersSinkRunner('recording', sink, log, 'groups');
    await runner.start();
    return runner;
  }

  it(`${ROWS} rows over ${PARTITIONS} partitions already in the topic reach the sink in one write, each partition in offset order`, async () => {
    const writes: SinkRecord[][] = [];
    const runner = await run(async (records) => void writes.push([...records]));
    try {
      await until(() => writes.flat().length >= ROWS, 'every row written');
    } finally {
      await runner.stop();
    }
    expect(writes).toHaveLength(1);
    const rows = writes[0]!;
    expect(new Set(rows.map((r) => r.id)).size).toBe(ROWS);
    const partitions = new Set(rows.map((r) => r.origin.partition));
    expect(partitions.size).toBeGreaterThan(1);
    for (const p of partitions) {
      const offsets = rows.filter((r) => r.origin.partition === p).map((r) => BigInt(r.origin.offset));
      expect(offsets).toEqual([...offsets].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    }
  });

  it('a failing write is retried whole, and no row is lost or written twice in the write that succeeds', async () => {
    const attempts: number[] = [];
    const written: SinkRecord[] = [];
    const runner = await run(async (records) => {
      attempts.push(records.length);
      if (attempts.length === 1) throw new Error('the sink refused the write');
      written.push(...records);
    });
    try {
      await until(() => written.length >= ROWS, 'every row written after the retry', 10_000);
    } finally {
      await runner.stop();
    }
    expect(attempts).toEqual([ROWS, ROWS]);
    expect(new Set(written.map((r) => r.id)).size).toBe(ROWS);
  });
});
