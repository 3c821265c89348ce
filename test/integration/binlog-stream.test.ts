import { canonicalRow } from '../../src/cdc/binlog/index.js';
import { MariadbGtidState, MysqlGtidSet, positionAtOrAfter } from '../../src/cdc/checkpoint/index.js';
import type { MysqlSession } from '../../src/net/index.js';
import { testConfig } from '../support/cluster.js';
import { binlogEnd, collectTransactions, rootSession, rowsOf, streamOf } from '../support/binlog.js';

const config = testConfig();
const instances = config.instances;

describe.each(instances.map((inst, n) => [inst.name, inst, n] as const))('transaction stream on %s', (_name, inst, n) => {
  const db = `binlog_stream_it_${n}`;
  let s: MysqlSession;

  beforeAll(async () => {
    s = await rootSession(inst);
    await s.query(`DROP DATABASE IF EXISTS ${db}`);
    await s.query(`CREATE DATABASE ${db}`);
    await s.query(`USE ${db}`);
  });

  afterAll(async () => {
    await s?.query(`DROP DATABASE IF EXISTS ${db}`);
    await s?.close();
  });

  it('follows ADD/DROP/MODIFY COLUMN, RENAME TABLE and FLUSH BINARY LOGS with rows before and after', async () => {
    await s.query('CREATE TABLE t (id INT PRIMARY KEY, a INT, b VARCHAR(10) CHARACTER SET utf8mb4) ENGINE=InnoDB');
    const start = await binlogEnd(s);
    await s.query("INSERT INTO t VALUES (1, 1, 'x'), (2, 2, 'y')");
    await s.query('ALTER TABLE t ADD COLUMN c DECIMAL(6,2) DEFAULT 1.50');
    await s.query("INSERT INTO t VALUES (3, 3, 'z', 2.25)");
    await s.query('FLUSH BINARY LOGS');
    await s.query("UPDATE t SET b = 'w', c = 9.99 WHERE id = 1");
    await s.query('ALTER TABLE t DROP COLUMN a');
    await s.query("INSERT INTO t VALUES (4, 'q', 0.10)");
    await s.query('ALTER TABLE t MODIFY COLUMN b VARCHAR(20) CHARACTER SET latin1');
    await s.query("INSERT INTO t VALUES (5, 'é€', 1)");
    await s.query('RENAME TABLE t TO t2');
    await s.query("INSERT INTO t2 VALUES (6, 'r', 2)");
    await s.query('DELETE FROM t2 WHERE id = 2');
    const end = await binlogEnd(s);

    const { transactions, aborts } = await collectTransactions(streamOf(inst, 4_000_000_200 + n, { from: start, stopAt: end }));
    expect(aborts).toBe(0);
    const rows = rowsOf(transactions, db).map((e) => ({
      table: e.table.table,
      op: e.op,
      rows: e.rows.map((r) => ({ before: canonicalRow(r.before), after: canonicalRow(r.after) })),
    }));
    expect(rows).toEqual([
      {
        table: 't',
        op: 'c',
        rows: [
          { before: null, after: { id: 1, a: 1, b: 'x' } },
          { before: null, after: { id: 2, a: 2, b: 'y' } },
        ],
      },
      { table: 't', op: 'c', rows: [{ before: null, after: { id: 3, a: 3, b: 'z', c: '2.25' } }] },
      { table: 't', op: 'u', rows: [{ before: { id: 1, a: 1, b: 'x', c: '1.50' }, after: { id: 1, a: 1, b: 'w', c: '9.99' } }] },
      { table: 't', op: 'c', rows: [{ before: null, after: { id: 4, b: 'q', c: '0.10' } }] },
      { table: 't', op: 'c', rows: [{ before: null, after: { id: 5, b: 'é€', c: '1.00' } }] },
      { table: 't2', op: 'c', rows: [{ before: null, after: { id: 6, b: 'r', c: '2.00' } }] },
      { table: 't2', op: 'd', rows: [{ before: { id: 2, b: 'y', c: '1.50' }, after: null }] },
    ]);

    const ddl = transactions.flatMap((t) => t.items.flatMap((i) => (i.type === 'query' && i.event.database === db ? [i.event.sql] : [])));
    expect(ddl).toEqual([
      'ALTER TABLE t ADD COLUMN c DECIMAL(6,2) DEFAULT 1.50',
      'ALTER TABLE t DROP COLUMN a',
      'ALTER TABLE t MODIFY COLUMN b VARCHAR(20) CHARACTER SET latin1',
      'RENAME TABLE t TO t2',
    ]);
    for (const t of transactions) {
      expect(t.items[0]!.type).toBe('begin');
      expect(t.items[t.items.length - 1]!.type).toBe('commit');
    }
    const checkpoints = transactions.map((t) => t.checkpoint);
    for (let i = 1; i < checkpoints.length; i++) expect(positionAtOrAfter(checkpoints[i]!, checkpoints[i - 1]!)).toBe(true);
    expect(new Set(checkpoints.map((c) => c.file)).size).toBe(2);
    expect(checkpoints[checkpoints.length - 1]).toMatchObject({ file: end.file, pos: end.pos, instance: inst.name });

    const gtids = transactions.map((t) => t.gtid);
    expect(gtids.every((g) => g !== null)).toBe(true);
    expect(new Set(gtids).size).toBe(gtids.length);
    const last = transactions[transactions.length - 1]!;
    expect(last.checkpoint.gtidSet).not.toBeNull();
    if (inst.flavour === 'mysql') {
      expect(MysqlGtidSet.parse(last.checkpoint.gtidSet!).has(last.gtid!)).toBe(true);
      expect(checkpoints[0]!.gtidSet).toBeNull();
    } else {
      expect(MariadbGtidState.parse(last.checkpoint.gtidSet!).toString().split(',')).toContain(last.gtid);
    }
  });

  it('reconnects after KILL of its connection mid-transaction: no gap, no transaction twice', async () => {
    await s.query('CREATE TABLE big (id INT PRIMARY KEY, pad VARCHAR(2000)) ENGINE=InnoDB');
    const start = await binlogEnd(s);
    await s.query("INSERT INTO big VALUES (1, 'first')");
    await s.query('START TRANSACTION');
    for (let b = 0; b < 20; b++) await s.query(`INSERT INTO big SELECT 2 + ${b * 1000} + seq, REPEAT('x', 1500) FROM (${seq(1000)}) q`);
    await s.query('COMMIT');
    await s.query("INSERT INTO big VALUES (1000000, 'last')");
    const end = await binlogEnd(s);

    const stream = streamOf(inst, 4_000_000_300 + n, { from: start, stopAt: end, highWaterBytes: 256 * 1024 });
    const killer = await rootSession(inst);
    let killed: number | null = null;
    let seenRows = 0;
    const { transactions, aborts } = await collectTransactions(stream, async (item) => {
      if (item.type === 'rows' && item.event.table.table === 'big') seenRows += item.event.rows.length;
      if (killed === null && seenRows > 3000) {
        killed = stream.threadId;
        await killer.query(`KILL ${killed}`);
      }
    });
    await killer.close();
    expect(killed).not.toBeNull();
    expect(aborts).toBe(1);
    const bigTxns = transactions.filter((t) => t.items.some((i) => i.type === 'rows' && i.event.table.table === 'big'));
    expect(bigTxns).toHaveLength(3);
    expect(new Set(bigTxns.map((t) => t.gtid)).size).toBe(3);
    const ids = rowsOf(bigTxns, db).flatMap((e) => e.rows.map((r) => Number(r.after!['id'])));
    expect(ids).toHaveLength(20_002);
    expect(new Set(ids).size).toBe(20_002);
    expect(rowsOf([bigTxns[1]!], db).reduce((k, e) => k + e.rows.length, 0)).toBe(20_000);
  });
});

/** 1 … n as a derived table, on MySQL and MariaDB alike. */
function seq(n: number): string {
  return `SELECT (a.d + 10 * b.d + 100 * c.d) AS seq FROM ${digits('a')} CROSS JOIN ${digits('b')} CROSS JOIN ${digits('c')} WHERE a.d + 10 * b.d + 100 * c.d < ${n}`;
}
function digits(alias: string): string {
  return `(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) ${alias}`;
}
