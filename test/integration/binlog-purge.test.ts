import { BinlogError } from '../../src/errors/index.js';
import { openMysqlSession, type MysqlSession } from '../../src/net/index.js';
import { binlogEnd, collectTransactions, streamOf } from '../support/binlog.js';
import { PrivateMariaDb } from '../support/private-mariadb.js';

const PORT = 3393;
const server = new PrivateMariaDb({
  port: PORT,
  serverId: 93,
  extraArgs: ['--log-bin=binlog', '--binlog-format=ROW', '--binlog-row-metadata=FULL'],
});
const inst = {
  name: 'purge-test',
  flavour: 'mariadb' as const,
  host: '127.0.0.1',
  port: PORT,
  user: 'shardline',
  password: 'shardline',
  replication: { user: 'shardline', password: 'shardline' },
  serverId: 93,
};
let s: MysqlSession;

beforeAll(async () => {
  await server.start();
  s = await openMysqlSession({ host: '127.0.0.1', port: PORT, user: 'shardline', password: 'shardline' });
  await s.query('CREATE DATABASE p');
  await s.query('CREATE TABLE p.t (id INT PRIMARY KEY, v VARCHAR(10))');
});

afterAll(async () => {
  await s?.close();
  await server.destroy();
});

it('stops with BINLOG_PURGED naming the file when the binlog was purged past the checkpoint', async () => {
  await s.query("INSERT INTO p.t VALUES (1, 'a'), (2, 'b')");
  const { transactions } = await collectTransactions(streamOf(inst, 4_000_000_400, { from: 'start', stopAt: await binlogEnd(s) }));
  const checkpoint = transactions[transactions.length - 1]!.checkpoint;
  expect(checkpoint).toMatchObject({ file: 'binlog.000001', gtidSet: expect.stringMatching(/^0-93-\d+$/) });

  await s.query("INSERT INTO p.t VALUES (3, 'c')");
  await s.query('FLUSH BINARY LOGS');
  await s.query('FLUSH BINARY LOGS');
  const end = await binlogEnd(s);
  for (const row of await s.query<{ ID: number }>("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'"))
    await s.query(`KILL ${row.ID}`);
  let files: string[] = [];
  for (let i = 0; i < 100; i++) {
    // MariaDB keeps a file until its binlog checkpoint (crash recovery) has moved past it.
    await s.query(`PURGE BINARY LOGS TO '${end.file}'`);
    files = (await s.query<{ Log_name: string }>('SHOW BINARY LOGS')).map((r) => r.Log_name);
    if (files.length === 1) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(files).toEqual([end.file]);

  const fromFile = collectTransactions(streamOf(inst, 4_000_000_401, { from: checkpoint, stopAt: end }));
  await expect(fromFile).rejects.toThrow(BinlogError);
  await expect(fromFile).rejects.toMatchObject({
    code: 'BINLOG_PURGED',
    retriable: false,
    message: expect.stringContaining('binlog.000001 is not on the server any more'),
  });

  const fromGtid = collectTransactions(streamOf(inst, 4_000_000_402, { from: { gtid: checkpoint.gtidSet! }, stopAt: end }));
  await expect(fromGtid).rejects.toMatchObject({ code: 'BINLOG_PURGED', retriable: false });
});

it('names a file the server never had as unknown, not as purged', async () => {
  const end = await binlogEnd(s);
  for (const file of ['binlog.999999', 'other-host-bin.000001', '../../etc/passwd']) {
    const read = collectTransactions(streamOf(inst, 4_000_000_403, { from: { file, pos: 4 }, stopAt: end }));
    await expect(read).rejects.toMatchObject({
      code: 'BINLOG_PURGED',
      retriable: false,
      message: expect.stringContaining(`${JSON.stringify(file)} is not one of the server's binlogs`),
    });
  }
});
