import { readFileSync } from 'node:fs';
import { changeEvents } from '../../src/cdc/index.js';
import type { BinlogEvent, TableMap } from '../../src/cdc/index.js';

const schema = JSON.parse(readFileSync('schemas/change-event.schema.json', 'utf8')) as {
  required: string[];
  properties: { source: { required: string[]; properties: Record<string, unknown> }; op: { enum: string[] } };
};

const col = (name: string) => ({
  index: 0,
  name,
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
});
const table: TableMap = { tableId: 7, database: 'app_08', table: 'users_0513', columns: [col('uid')], hasNames: true, primaryKey: [0] };
const rows = (op: 'c' | 'u' | 'd'): Extract<BinlogEvent, { kind: 'rows' }> =>
  ({
    kind: 'rows',
    op,
    table,
    timestamp: 1_700_000_000,
    eventType: 30,
    serverId: 3,
    eventSize: 40,
    nextPos: 1040,
    flags: 0,
    file: 'binlog.000002',
    pos: 1000,
    rows: [{ before: op === 'c' ? null : { uid: 5n }, after: op === 'd' ? null : { uid: 5n } }],
  }) as Extract<BinlogEvent, { kind: 'rows' }>;

describe('change event JSON Schema (schemas/change-event.schema.json)', () => {
  it('names exactly the fields the change events have', () => {
    const [e] = changeEvents(
      rows('u'),
      { instance: 'shard-2', flavour: 'mariadb', serverUuid: null, gtid: '0-3-9', commitUs: null, topology: null },
      1_700_000_001_000,
    );
    expect(Object.keys(e!).sort()).toEqual([...schema.required].sort());
    expect(Object.keys(e!.source).sort()).toEqual([...schema.properties.source.required].sort());
    // every source field is required but `archival`, present only on the archival job's deletes
    expect(Object.keys(schema.properties.source.properties).sort()).toEqual([...schema.properties.source.required, 'archival'].sort());
    expect(schema.properties.op.enum).toEqual(expect.arrayContaining(['c', 'u', 'd']));
    expect(e).toMatchObject({
      op: 'u',
      before: { uid: '5' },
      after: { uid: '5' },
      source: { db: 'app_08', table: 'users_0513', gtid: '0-3-9', file: 'binlog.000002', pos: 1000, row: 0, ts_us: 1_700_000_000_000_000 },
      ts_ms: 1_700_000_001_000,
    });
  });
});
