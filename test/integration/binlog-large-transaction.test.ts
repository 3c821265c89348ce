import { createHash, randomBytes } from 'node:crypto';
import type { MysqlSession } from '../../src/net/index.js';
import { testConfig } from '../support/cluster.js';
import { binlogEnd, rootSession, streamOf } from '../support/binlog.js';

const config = testConfig();
const picks = ['shard-0', 'shard-2'].map((name) => config.instances.find((i) => i.name === name)!);
const ROWS = 1600;
const ROW_BYTES = 64 * 1024;

describe.each(picks.map((inst, n) => [inst.name, inst, n] as const))('a 100 MB transaction on %s', (_name, inst, n) => {
  const db = `binlog_large_it_${n}`;
  let s: MysqlSession;

  beforeAll(async () => {
    s = await rootSession(inst);
    await s.query(`DROP DATABASE IF EXISTS ${db}`);
    await s.query(`CREATE DATABASE ${db}`);
    await s.query(`CREATE TABLE ${db}.blobs (id INT PRIMARY KEY, body LONGBLOB)`);
  });

  afterAll(async () => {
    await s?.query(`DROP DATABASE IF EXISTS ${db}`);
    await s?.close();
  });

  it('streams its rows with memory bounded by the high-water mark, not by the transaction', async () => {
    const start = await binlogEnd(s);
    const digests: string[] = [];
    const sha = (b: Buffer) => createHash('sha1').update(b).digest('hex');
    await s.query('START TRANSACTION');
    for (let i = 0; i < ROWS; i += 16) {
      const ids = Array.from({ length: 16 }, (_, k) => i + k);
      const bodies = ids.map(() => randomBytes(ROW_BYTES));
      bodies.forEach((b, k) => (digests[i + k] = sha(b)));
      await s.query(
        `INSERT INTO ${db}.blobs VALUES ${ids.map(() => '(?, ?)').join(', ')}`,
        ids.flatMap((id, k) => [id, bodies[k]]),
      );
    }
    await s.query('COMMIT');
    const end = await binlogEnd(s);
    expect(end.pos - start.pos + (end.file === start.file ? 0 : 1e9)).toBeGreaterThan(ROWS * ROW_BYTES);

    global.gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    let rows = 0;
    let rowsItemsBeforeCommit = 0;
    let bytesOk = true;
    let commits = 0;
    const stream = streamOf(inst, 4_000_000_500 + n, { from: start, stopAt: end, highWaterBytes: 4 * 1024 * 1024 });
    for await (const item of stream.items()) {
      if (item.type === 'rows' && item.event.table.database === db) {
        rowsItemsBeforeCommit++;
        for (const r of item.event.rows) {
          const id = Number(r.after!['id']);
          const body = r.after!['body'] as Buffer;
          bytesOk &&= sha(body) === digests[id];
          rows++;
        }
        peak = Math.max(peak, process.memoryUsage().rss);
      } else if (item.type === 'commit' && rows > 0) commits++;
    }
    expect(rows).toBe(ROWS);
    expect(bytesOk).toBe(true);
    expect(commits).toBe(1);
    expect(rowsItemsBeforeCommit).toBeGreaterThan(100);
    const growthMb = (peak - base) / 1024 / 1024;
    process.stderr.write(`${inst.name}: rss growth ${growthMb.toFixed(1)} MB for ${(ROWS * ROW_BYTES) / 1048576} MB of rows\n`);
    expect(growthMb).toBeLessThan(64);
  });
});
