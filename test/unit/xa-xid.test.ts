import {
  branchXid,
  coordinatorId,
  formatGtrid,
  isShardlineXid,
  parseGtrid,
  recoveryAction,
  xidOfRecoverRow,
  xidSql,
} from '../../src/executor/index.js';

describe('XA ids', () => {
  it('round-trips a gtrid: coordinator (host, pid), begin time, counter', () => {
    const g = { coordinator: coordinatorId('web-01.example.com', 4242), begunAtMs: 1_760_000_000_123, counter: 77 };
    const text = formatGtrid(g);
    expect(text).toBe(`shardline:web-01.example.com-4242:${(1_760_000_000_123).toString(36)}:${(77).toString(36)}`);
    expect(text.length).toBeLessThanOrEqual(64);
    expect(parseGtrid(text)).toEqual(g);
  });
  it('keeps only safe characters of the host name', () => {
    expect(coordinatorId("evil'host; DROP", 1)).toBe('evilhostDROP-1');
  });
  it('refuses foreign gtrids', () => {
    expect(parseGtrid('other:1:2:3')).toBeNull();
    expect(parseGtrid("shardline:h-1:zz:1'")).toBeNull();
  });
  it('writes the xid as SQL literals, and hex for anything unsafe', () => {
    expect(xidSql(branchXid('shardline:h-1:a:0', 'shard-2'))).toBe("'shardline:h-1:a:0','shard-2',21324");
    expect(xidSql({ gtrid: "a'b", bqual: '', formatId: 1 })).toBe("X'612762',X'',1");
  });
  it('reads XA RECOVER rows (data as text or bytes) and recognises shardline branches', () => {
    const gtrid = 'shardline:h-1:a:0';
    const row = { formatID: 21324, gtrid_length: gtrid.length, bqual_length: 7, data: Buffer.from(`${gtrid}shard-1`) };
    const xid = xidOfRecoverRow(row);
    expect(xid).toEqual({ gtrid, bqual: 'shard-1', formatId: 21324 });
    expect(isShardlineXid(xid)).toBe(true);
    expect(isShardlineXid(xidOfRecoverRow({ ...row, formatID: 1 }))).toBe(false);
  });
});

describe('recovery decisions', () => {
  const begun = 1_000_000;
  const branch = { instance: 'shard-1', xid: branchXid(formatGtrid({ coordinator: 'h-1', begunAtMs: begun, counter: 0 }), 'shard-1') };
  it('commits what was decided, rolls back the rest (presumed abort) once old enough', () => {
    expect(recoveryAction(branch, 'commit', begun + 1, 60_000)).toBe('commit');
    expect(recoveryAction(branch, 'abort', begun + 1, 60_000)).toBe('rollback');
    expect(recoveryAction(branch, undefined, begun + 60_000, 60_000)).toBe('rollback');
    expect(recoveryAction(branch, undefined, begun + 59_999, 60_000)).toBe('wait');
  });
  it('leaves foreign branches alone', () => {
    expect(recoveryAction({ instance: 'x', xid: { gtrid: 'app-tx-1', bqual: '', formatId: 1 } }, undefined, begun * 9, 0)).toBe('foreign');
  });
});
