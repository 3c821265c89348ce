import { Registry } from 'prom-client';
import { ArchiveSink, ArchiveSinkError } from '../../src/cdc/sinks/archive/index.js';
import type { ArchiveConnection, ArchiveOutcome } from '../../src/net/archive-connection.js';
import { serverError } from '../../src/net/index.js';
import type { LogicalTableSchema } from '../../src/cdc/schema/logical-columns.js';
import type { SinkRecord } from '../../src/cdc/sinks/sink-record.js';

const schema: LogicalTableSchema = {
  table: 'user',
  columns: [
    { name: 'uid', dataType: 'bigint', columnType: 'bigint unsigned', nullable: false, charset: null },
    { name: 'name', dataType: 'varchar', columnType: 'varchar(5)', nullable: true, charset: 'utf8mb4' },
  ],
  primaryKey: ['uid'],
};

function rec(uid: number, name: string, version = BigInt(uid)): SinkRecord {
  return {
    table: 'user',
    id: String(uid),
    previousId: null,
    version,
    event: {
      op: 'c',
      before: null,
      after: { uid: String(uid), name },
      source: {
        instance: 's',
        flavour: 'mysql',
        server_uuid: null,
        server_id: 1,
        db: 'd',
        table: 'user_0001',
        logical_table: 'user',
        shard: 1,
        gtid: null,
        file: 'binlog.000001',
        pos: 4,
        row: 0,
        ts_us: 0,
        snapshot: 'false',
      },
      ts_ms: 0,
    },
    origin: { topic: 't', partition: 0, offset: String(uid) },
  };
}

/** A driver error as net/ hands it over: sanitized and classified. */
const driverError = (errno: number, code: string, fatal = false) =>
  serverError(Object.assign(new Error(code), { errno, code, fatal })) as Error;

/** A fake archive: records statements; `fail` decides per statement whether (and how) it fails. */
function fakeArchive(fail: (sql: string, values: readonly unknown[]) => Error | null) {
  const log: string[] = [];
  let opened = 0;
  const connect = async (): Promise<ArchiveConnection> => {
    opened++;
    let broken = false;
    return {
      get broken() {
        return broken;
      },
      async query(sql: string, values: readonly unknown[] = []): Promise<ArchiveOutcome> {
        const e = sql.startsWith('INSERT') ? fail(sql, values) : null;
        log.push(e ? `FAIL ${sql.slice(0, 6)}` : sql.split(' ')[0]!);
        if (e) {
          if ((e as { fatal?: boolean }).fatal) broken = true;
          throw e;
        }
        if (sql.startsWith('SELECT COLUMN_NAME')) return { rows: schema.columns.map((c) => ({ name: c.name })), affectedRows: 0, info: '' };
        return { rows: [], affectedRows: 1, info: '' };
      },
      async close() {},
      destroy() {
        broken = true;
      },
    };
  };
  return { connect, log, opened: () => opened };
}

const options = (connect: () => Promise<ArchiveConnection>, extra: Partial<ConstructorParameters<typeof ArchiveSink>[0]> = {}) => ({
  archive: { host: 'x', port: 1, user: 'u', password: 'p' },
  database: 'arch',
  maxBatchRows: 100,
  maxBatchBytes: 1 << 20,
  schemaOf: async () => schema,
  retry: { baseMs: 1, maxMs: 2 },
  connect,
  ...extra,
});

describe('ArchiveSink retries and dead letters', () => {
  it('retries a deadlock and a lost connection until the batch commits', async () => {
    let failures = [driverError(1213, 'ER_LOCK_DEADLOCK'), driverError(0, 'PROTOCOL_CONNECTION_LOST', true)];
    const fake = fakeArchive(() => {
      const e = failures[0] ?? null;
      failures = failures.slice(1);
      return e;
    });
    const registry = new Registry();
    const sink = new ArchiveSink(options(fake.connect, { registry }));
    expect(await sink.write([rec(1, 'a'), rec(2, 'b')])).toEqual([]);
    expect(fake.log.filter((l) => l.startsWith('FAIL'))).toHaveLength(2);
    expect(fake.log.filter((l) => l === 'ROLLBACK')).toHaveLength(1); // none on the broken connection
    expect(fake.opened()).toBe(2);
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/shardline_archive_retries_total\{reason="ER_LOCK_DEADLOCK"\} 1/);
    expect(metrics).toMatch(/shardline_archive_retries_total\{reason="PROTOCOL_CONNECTION_LOST"\} 1/);
    expect(metrics).toMatch(/shardline_archive_rows_written_total\{table="user",kind="upsert"\} 2/);
    await sink.close();
  });

  it('isolates a refused record by splitting the batch; the others are applied', async () => {
    const applied = new Set<string>();
    const fake = fakeArchive((_sql, values) => {
      if (values.includes('toolong')) return driverError(1406, 'ER_DATA_TOO_LONG');
      for (const v of values) if (typeof v === 'bigint' && v < 1000n) applied.add(String(v));
      return null;
    });
    const sink = new ArchiveSink(options(fake.connect));
    const records = Array.from({ length: 9 }, (_, i) => rec(i + 1, i === 5 ? 'toolong' : 'ok'));
    const dead = await sink.write(records);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.record).toBe(records[5]);
    expect(dead[0]!.reason).toMatch(/ER_DATA_TOO_LONG \(1406\)/);
    expect([...applied].sort()).toEqual(['1', '2', '3', '4', '5', '7', '8', '9']);
    await sink.close();
  });

  it('dead-letters a value the column type cannot take without asking the server', async () => {
    const fake = fakeArchive(() => null);
    const sink = new ArchiveSink(options(fake.connect));
    const bad = rec(3, 'x');
    bad.event.after = { uid: 'not a number', name: 'x' };
    const dead = await sink.write([rec(1, 'a'), bad]);
    expect(dead.map((d) => d.record)).toEqual([bad]);
    expect(dead[0]!.reason).toMatch(/column uid/);
    await sink.close();
  });

  it('close() ends a retry loop with a retriable SINK_CLOSED', async () => {
    let failures = 0;
    let retried!: () => void;
    const retrying = new Promise<void>((resolve) => (retried = resolve));
    const fake = fakeArchive(() => {
      if (++failures === 2) retried();
      return driverError(1205, 'ER_LOCK_WAIT_TIMEOUT');
    });
    const sink = new ArchiveSink(options(fake.connect, { retry: { baseMs: 50, maxMs: 50 } }));
    const pending = sink.write([rec(1, 'a')]);
    await retrying;
    await sink.close();
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArchiveSinkError);
    expect(err).toMatchObject({ code: 'SINK_CLOSED', retriable: true });
    await expect(sink.write([rec(2, 'b')])).rejects.toMatchObject({ code: 'SINK_CLOSED' });
  });

  it('dead-letters every record of a table that cannot be archived', async () => {
    const fake = fakeArchive(() => null);
    const sink = new ArchiveSink(options(fake.connect, { schemaOf: async () => ({ ...schema, primaryKey: [] }) }));
    const dead = await sink.write([rec(1, 'a'), rec(2, 'b')]);
    expect(dead.map((d) => d.reason)).toEqual([expect.stringMatching(/no primary key/), expect.stringMatching(/no primary key/)]);
    await sink.close();
  });
});
