import type { RowsEvent } from '../../src/cdc/binlog/syncer/transaction-items.js';
import { RowMessages } from '../../src/cdc/pipeline/row-messages.js';

const col = {
  index: 0,
  name: 'id',
  type: 8,
  realType: 8,
  meta: 0,
  precision: 0,
  scale: 0,
  nullable: false,
  unsigned: true,
  collation: 0,
  enumValues: null,
  setValues: null,
};
const rowsAt = (pos: number, ids: number[]): RowsEvent => ({
  kind: 'rows',
  op: 'c',
  table: { tableId: 7, database: 'shop', table: 'items', columns: [col], hasNames: true, primaryKey: [0] },
  rows: ids.map((id) => ({ before: null, after: { id: BigInt(id) } })),
  timestamp: 1_700_000_000,
  eventType: 30,
  serverId: 1,
  eventSize: 40,
  nextPos: pos + 40,
  flags: 0,
  file: 'binlog.000001',
  pos,
});
const target = { logical: 'items', shard: null };
const source = (value: string | null) =>
  (JSON.parse(value!) as { source: { row: number; gtid: string | null; ts_us: number; pos: number } }).source;

describe('RowMessages', () => {
  it('numbers rows that share a position on from one event to the next, and from 0 at a new position', () => {
    const r = new RowMessages({ instance: 'i1', flavour: 'mysql', topicPrefix: 'cdc.' });
    r.begin({ gtid: 'u:1', commitUs: 5_000_000n, timestamp: 1 });
    const a = r.of(rowsAt(100, [1, 2]), target, null);
    const b = r.of(rowsAt(100, [3]), target, null);
    const c = r.of(rowsAt(200, [4]), target, null);
    expect([...a, ...b, ...c].map((m) => [m.key, source(m.value).pos, source(m.value).row])).toEqual([
      ['1', 100, 0],
      ['2', 100, 1],
      ['3', 100, 2],
      ['4', 200, 0],
    ]);
    expect(a[0]!.topic).toBe('cdc.items');
  });

  it('stamps the GTID and commit time of the current source transaction', () => {
    const r = new RowMessages({ instance: 'i1', flavour: 'mysql', topicPrefix: '' });
    r.begin({ gtid: 'u:7', commitUs: 1_700_000_123_456_789n, timestamp: 1_700_000_000 });
    expect(source(r.of(rowsAt(10, [1]), target, 'uuid')[0]!.value)).toMatchObject({ gtid: 'u:7', ts_us: 1_700_000_123_456_789 });
    expect(r.commitTimeMs()).toBe(1_700_000_123_456);
    r.begin({ gtid: null, commitUs: null, timestamp: 1_700_000_001 });
    expect(source(r.of(rowsAt(20, [1]), target, 'uuid')[0]!.value)).toMatchObject({ gtid: null, ts_us: 1_700_000_000_000_000 });
    expect(r.commitTimeMs()).toBe(1_700_000_001_000);
  });
});
