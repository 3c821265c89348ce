import { BinlogDecoder, EventType, TransactionAssembler, type BinlogEvent, type TransactionItem } from '../../src/cdc/binlog/index.js';
import type { StreamOrigin } from '../../src/cdc/binlog/index.js';
import { parseXaStatement, xaXidKey } from '../../src/cdc/binlog/decoder/xa-xid.js';
import { readFrom, type Checkpoint } from '../../src/cdc/checkpoint/checkpoint.js';
import { BinlogError } from '../../src/errors/index.js';
import { event, queryBody, rowsV2Body, tableMapBody, xidBody } from '../support/binlog-builders.js';

const UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const FILE = 'binlog.000003';
const FORMAT = 21324;

/** A binlog file built event by event: each event's next position follows the one before. */
class BuiltLog {
  readonly events: Buffer[] = [];
  private pos = 4;
  add(type: number, body: Buffer, serverId = 1): this {
    const e = event(type, body, { nextPos: this.pos + 19 + body.length, serverId });
    this.events.push(e);
    this.pos += e.length;
    return this;
  }
  query(sql: string): this {
    return this.add(EventType.QUERY, queryBody('app', sql));
  }
  /** One INT row written to app.t (table id 5). */
  row(id: number): this {
    const row = Buffer.alloc(5);
    row.writeInt32LE(id, 1);
    this.add(EventType.TABLE_MAP, tableMapBody(5, 'app', 't', [3], Buffer.alloc(0)));
    return this.add(EventType.WRITE_ROWS_V2, rowsV2Body(5, 1, row));
  }
  mysqlGtid(gno: number): this {
    const b = Buffer.alloc(25);
    Buffer.from(UUID.replace(/-/g, ''), 'hex').copy(b, 1);
    b.writeBigUInt64LE(BigInt(gno), 17);
    return this.add(EventType.GTID, b);
  }
  mariadbGtid(seq: number, flags: number, xid?: string): this {
    const head = Buffer.alloc(13);
    head.writeBigUInt64LE(BigInt(seq), 0);
    head[12] = flags;
    const x =
      xid === undefined ? Buffer.alloc(0) : Buffer.concat([u32(FORMAT), Buffer.from([xid.length, 2]), Buffer.from(xid), Buffer.from('b1')]);
    return this.add(EventType.MARIADB_GTID, Buffer.concat([head, x, Buffer.from([1, 0xff])]), 3);
  }
  xaPrepare(gtrid: string, onePhase = false): this {
    return this.add(
      EventType.XA_PREPARE,
      Buffer.concat([Buffer.from([onePhase ? 1 : 0]), u32(FORMAT), u32(gtrid.length), u32(2), Buffer.from(gtrid), Buffer.from('b1')]),
    );
  }
}
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const xaId = (gtrid: string) => `X'${Buffer.from(gtrid).toString('hex')}',X'${Buffer.from('b1').toString('hex')}',${FORMAT}`;

/** MySQL: an XA branch as the server logs it at XA PREPARE. */
function mysqlBranch(log: BuiltLog, gno: number, gtrid: string, ids: number[], onePhase = false): BuiltLog {
  log.mysqlGtid(gno).query(`XA START ${xaId(gtrid)}`);
  for (const id of ids) log.row(id);
  return log.query(`XA END ${xaId(gtrid)}`).xaPrepare(gtrid, onePhase);
}
function mysqlPlain(log: BuiltLog, gno: number, ids: number[]): BuiltLog {
  log.mysqlGtid(gno).query('BEGIN');
  for (const id of ids) log.row(id);
  return log.add(EventType.XID, xidBody(BigInt(gno)));
}

const mysqlOrigin: StreamOrigin = { instance: 's0', flavour: 'mysql', serverUuid: UUID, serverId: 1 };
const mariadbOrigin: StreamOrigin = { instance: 's2', flavour: 'mariadb', serverUuid: null, serverId: 3 };

/** A committed transaction as a consumer sees it: its GTID, the ids of its rows, its checkpoint. */
interface Seen {
  gtid: string | null;
  ids: number[];
  queries: string[];
  checkpoint: Checkpoint;
}

function decodeFrom(events: Buffer[], from: number): BinlogEvent[] {
  const decoder = new BinlogDecoder({ file: FILE, checksum: 'none' });
  return events.map((e) => decoder.decode(e)).filter((e) => e.pos >= from);
}

function run(a: TransactionAssembler, events: BinlogEvent[]): Seen[] {
  const out: Seen[] = [];
  let open: TransactionItem[] = [];
  for (const item of events.flatMap((e) => a.accept(e))) {
    if (item.type === 'begin') open = [item];
    else if (item.type !== 'commit') open.push(item);
    else {
      const ids = open.flatMap((i) => (i.type === 'rows' ? i.event.rows.map((r) => Object.values(r.after!)[0] as number) : []));
      const queries = open.flatMap((i) => (i.type === 'query' ? [i.event.sql] : []));
      out.push({ gtid: item.gtid, ids, queries, checkpoint: item.checkpoint });
      open = [];
    }
  }
  return out;
}

/** Restarting from every checkpoint handed out yields exactly the transactions after it. */
function expectRestartsExact(origin: StreamOrigin, log: BuiltLog, startSet: string, full: Seen[]): void {
  full.forEach((t, i) => {
    const from = readFrom(t.checkpoint);
    const again = run(new TransactionAssembler(origin, from.gtidSet, t.checkpoint), decodeFrom(log.events, from.pos));
    expect(again).toEqual(full.slice(i + 1));
  });
  expect(run(new TransactionAssembler(origin, startSet), decodeFrom(log.events, 0))).toEqual(full);
}

describe('XA transactions in the binlog', () => {
  it('reads the xid of XA statements as servers log them', () => {
    const s = parseXaStatement(`XA COMMIT X'68313461',X'6231',21324`)!;
    expect(s).toMatchObject({ verb: 'commit', onePhase: false });
    expect(xaXidKey(s.xid)).toBe(`21324:${Buffer.from('h14a').toString('hex')}:${Buffer.from('b1').toString('hex')}`);
    expect(parseXaStatement(`XA COMMIT 'h14a','b1',21324 ONE PHASE`)).toMatchObject({ verb: 'commit', onePhase: true });
    expect(xaXidKey(parseXaStatement(`XA ROLLBACK 'h14a','b1',21324`)!.xid)).toBe(xaXidKey(s.xid));
    expect(parseXaStatement(`xa end 'a'`)).toMatchObject({ verb: 'end', xid: { formatId: 1, bqual: Buffer.alloc(0) } });
    expect(parseXaStatement('XA RECOVER')).toBeNull();
    expect(parseXaStatement('SELECT 1')).toBeNull();
    expect(() => parseXaStatement('XA COMMIT ???')).toThrow(RangeError);
  });

  it('MySQL: a prepared branch is handed out at its XA COMMIT, with the commit GTID; a rolled-back one never', () => {
    const log = new BuiltLog();
    mysqlPlain(log, 5, [1]);
    mysqlBranch(log, 6, 'A', [10, 11]);
    mysqlPlain(log, 7, [2]);
    mysqlBranch(log, 8, 'B', [20]);
    log.mysqlGtid(9).query(`XA COMMIT ${xaId('A')}`);
    mysqlPlain(log, 10, [3]);
    log.mysqlGtid(11).query(`XA ROLLBACK ${xaId('B')}`);
    mysqlBranch(log, 12, 'C', [30], true);
    const events = decodeFrom(log.events, 0);
    expect(events.find((e) => e.kind === 'xa-prepare')).toMatchObject({ onePhase: false, xid: { formatId: FORMAT } });
    const a = new TransactionAssembler(mysqlOrigin, `${UUID}:1-4`);
    const seen = run(a, events);
    expect(seen.map((t) => [t.gtid, t.ids])).toEqual([
      [`${UUID}:5`, [1]],
      [`${UUID}:7`, [2]],
      [`${UUID}:9`, [10, 11]],
      [`${UUID}:10`, [3]],
      [`${UUID}:11`, []],
      [`${UUID}:12`, [30]],
    ]);
    expect(seen[4]!.queries).toEqual([`XA ROLLBACK ${xaId('B')}`]);
    expect(a.preparedBranches).toBe(0);
    // while A (from GTID 6) is prepared, checkpoints say to read again from its start
    const startOfA = events.find((e) => e.kind === 'gtid' && e.gtid === `${UUID}:6`)!;
    expect(seen[0]!.checkpoint.resume).toBeUndefined();
    expect(seen[1]!.checkpoint).toMatchObject({
      gtidSet: `${UUID}:1-7`,
      resume: { file: FILE, pos: startOfA.pos, gtidSet: `${UUID}:1-5` },
    });
    // after A's commit, B (GTID 8) is still prepared
    const startOfB = events.find((e) => e.kind === 'gtid' && e.gtid === `${UUID}:8`)!;
    expect(seen[2]!.checkpoint.resume).toEqual({ file: FILE, pos: startOfB.pos, gtidSet: `${UUID}:1-7` });
    expect(seen[4]!.checkpoint.resume).toBeUndefined();
    expectRestartsExact(mysqlOrigin, log, `${UUID}:1-4`, seen);
  });

  it('MySQL: a restart between XA PREPARE and XA COMMIT re-reads the branch and hands out nothing twice', () => {
    const log = new BuiltLog();
    mysqlBranch(log, 5, 'A', [10]);
    mysqlPlain(log, 6, [1]);
    mysqlPlain(log, 7, [2]);
    const first = run(new TransactionAssembler(mysqlOrigin, `${UUID}:1-4`), decodeFrom(log.events, 0));
    expect(first.map((t) => t.ids)).toEqual([[1], [2]]);
    const cp = first[1]!.checkpoint;
    expect(cp.resume?.pos).toBe(4);
    // the crash: the reader restarts from cp; meanwhile A commits
    log.mysqlGtid(8).query(`XA COMMIT ${xaId('A')}`);
    mysqlPlain(log, 9, [3]);
    const again = run(new TransactionAssembler(mysqlOrigin, readFrom(cp).gtidSet, cp), decodeFrom(log.events, readFrom(cp).pos));
    expect(again.map((t) => [t.gtid, t.ids])).toEqual([
      [`${UUID}:8`, [10]],
      [`${UUID}:9`, [3]],
    ]);
    expect(again[0]!.checkpoint).toMatchObject({ gtidSet: `${UUID}:1-8` });
    expect(again[0]!.checkpoint.resume).toBeUndefined();
    // without the resume point (the old checkpoint shape) the branch's rows would be lost
    const plain: Checkpoint = { ...cp };
    delete plain.resume;
    const lost = run(new TransactionAssembler(mysqlOrigin, plain.gtidSet, plain), decodeFrom(log.events, plain.pos));
    expect(lost.map((t) => t.ids)).toEqual([[], [3]]);
  });

  it('after a failover (another server uuid) skips what the checkpoint covers by GTID', () => {
    const log = new BuiltLog();
    mysqlBranch(log, 5, 'A', [10]);
    mysqlPlain(log, 6, [1]);
    log.mysqlGtid(7).query(`XA COMMIT ${xaId('A')}`);
    const first = run(new TransactionAssembler(mysqlOrigin, `${UUID}:1-4`), decodeFrom(log.events, 0));
    const cp = { ...first[0]!.checkpoint, serverUuid: 'aaaaaaaa-71ca-11e1-9e33-c80aa9429562' };
    const again = run(new TransactionAssembler(mysqlOrigin, readFrom(cp).gtidSet, cp), decodeFrom(log.events, 0));
    expect(again.map((t) => [t.gtid, t.ids])).toEqual([[`${UUID}:7`, [10]]]);
  });

  it('MariaDB: FL_PREPARED_XA / FL_COMPLETED_XA GTIDs (bytes as 10.11 writes them)', () => {
    const log = new BuiltLog();
    log.mariadbGtid(11, 0x0c).row(1).add(EventType.XID, xidBody(1n));
    log
      .mariadbGtid(12, 0x4c, 'A')
      .row(10)
      .row(11)
      .query(`XA END ${xaId('A')}`)
      .xaPrepare('A');
    log.mariadbGtid(13, 0x0c).row(2).add(EventType.XID, xidBody(2n));
    log
      .mariadbGtid(14, 0x4c, 'B')
      .row(20)
      .query(`XA END ${xaId('B')}`)
      .xaPrepare('B');
    log.mariadbGtid(15, 0x8d, 'A').query(`XA COMMIT ${xaId('A')}`);
    log.mariadbGtid(16, 0x8d, 'B').query(`XA ROLLBACK ${xaId('B')}`);
    log.mariadbGtid(17, 0x0c).row(3).add(EventType.XID, xidBody(3n));
    const events = decodeFrom(log.events, 0);
    const gtid = events.find((e) => e.kind === 'gtid' && e.gtid === '0-3-12');
    expect(gtid).toMatchObject({ standalone: false, xa: { phase: 'prepared', xid: { formatId: FORMAT } } });
    expect(events.find((e) => e.kind === 'gtid' && e.gtid === '0-3-15')).toMatchObject({ standalone: true, xa: { phase: 'completed' } });
    const seen = run(new TransactionAssembler(mariadbOrigin, '0-3-10'), events);
    expect(seen.map((t) => [t.gtid, t.ids])).toEqual([
      ['0-3-11', [1]],
      ['0-3-13', [2]],
      ['0-3-15', [10, 11]],
      ['0-3-16', []],
      ['0-3-17', [3]],
    ]);
    expect(seen[1]!.checkpoint).toMatchObject({ gtidSet: '0-3-13', resume: { gtidSet: '0-3-11' } });
    expectRestartsExact(mariadbOrigin, log, '0-3-10', seen);
  });

  it('refuses XA structure it cannot follow', () => {
    const log = new BuiltLog().mysqlGtid(5).query('BEGIN').xaPrepare('A');
    expect(() => run(new TransactionAssembler(mysqlOrigin, null), decodeFrom(log.events, 0))).toThrow(BinlogError);
    const log2 = new BuiltLog().mysqlGtid(5).query(`XA END ${xaId('A')}`);
    expect(() => run(new TransactionAssembler(mysqlOrigin, null), decodeFrom(log2.events, 0))).toThrow(/outside an XA branch/);
  });
});
