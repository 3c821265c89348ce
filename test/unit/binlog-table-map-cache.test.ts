/**
 * The decoder compiles each distinct TABLE_MAP once: the shards of a table, mapped again in every
 * small transaction, reuse their compiled map, and a changed map (same table id, new columns)
 * is never served from the cache.
 */
import { BinlogDecoder, EventType, type BinlogEvent } from '../../src/cdc/binlog/index.js';
import { COMPILED_TABLES_MAX, COMPILED_TABLES_MAX_BYTES } from '../../src/cdc/binlog/decoder/binlog-decoder.js';
import { compileTable } from '../../src/cdc/binlog/decoder/rows.js';
import { parseTableMap } from '../../src/cdc/binlog/decoder/table-map.js';
import { event, loadFixture, packed, rowsV2Body, tableMapBody } from '../support/binlog-builders.js';

type Rows = Extract<BinlogEvent, { kind: 'rows' }>;
type TableMapEvent = Extract<BinlogEvent, { kind: 'table-map' }>;

/** SIGNEDNESS (all signed) and COLUMN_NAME optional metadata. */
function optional(names: string[]) {
  const encoded = Buffer.concat(names.map((n) => Buffer.concat([packed(Buffer.byteLength(n)), Buffer.from(n)])));
  return Buffer.concat([Buffer.from([1, 1, 0x00, 4]), packed(encoded.length), encoded]);
}

/** TABLE_MAP of (INT, BIGINT) or (INT, INT) columns named `names`. */
function mapEvent(tableId: number, table: string, names: string[], types = [3, 8]): Buffer {
  return event(EventType.TABLE_MAP, tableMapBody(tableId, 'app_00', table, types, Buffer.alloc(0), optional(names)), { checksum: true });
}

/** One inserted row of two integer columns (the second 4 or 8 bytes). */
function insert(tableId: number, a: number, b: number, bWidth: 4 | 8 = 8): Buffer {
  const row = Buffer.alloc(1 + 4 + bWidth);
  row.writeInt32LE(a, 1);
  if (bWidth === 8) row.writeBigInt64LE(BigInt(b), 5);
  else row.writeInt32LE(b, 5);
  return event(EventType.WRITE_ROWS_V2, rowsV2Body(tableId, 2, row), { checksum: true });
}

function decoder(): BinlogDecoder {
  const real = loadFixture('mysql80-compressed');
  const d = new BinlogDecoder({ file: real.file, checksum: 'crc32' });
  d.decode(real.fde);
  return d;
}

const decodeMap = (d: BinlogDecoder, ev: Buffer) => [...d.decodeAll(ev)][0] as TableMapEvent;
const decodeRow = (d: BinlogDecoder, ev: Buffer) => ([...d.decodeAll(ev)][0] as Rows).rows[0]!.after;

describe('compiled TABLE_MAPs', () => {
  it('are reused for a TABLE_MAP seen before, shard by shard, and rows decode the same', () => {
    const d = decoder();
    const first = [0, 1, 2].map((i) => decodeMap(d, mapEvent(100 + i, `users_000${i}`, ['id', 'v'])).map);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 3; i++) {
        const again = decodeMap(d, mapEvent(100 + i, `users_000${i}`, ['id', 'v']));
        expect(again.map).toBe(first[i]);
        expect(again.map.table).toBe(`users_000${i}`);
        expect(decodeRow(d, insert(100 + i, round, 10 * i + round))).toEqual({ id: round, v: BigInt(10 * i + round) });
      }
    }
  });

  it('follow a changed TABLE_MAP under the same table id (new columns), and back', () => {
    const d = decoder();
    const before = decodeMap(d, mapEvent(7, 'users_0000', ['id', 'v'])).map;
    expect(decodeRow(d, insert(7, 1, 2 ** 40))).toEqual({ id: 1, v: BigInt(2 ** 40) });
    const after = decodeMap(d, mapEvent(7, 'users_0000', ['id', 'w'], [3, 3])).map;
    expect(after).not.toBe(before);
    expect(after.columns.map((c) => c.name)).toEqual(['id', 'w']);
    expect(decodeRow(d, insert(7, 3, 4, 4))).toEqual({ id: 3, w: 4 });
    expect(decodeMap(d, mapEvent(7, 'users_0000', ['id', 'v'])).map).toBe(before);
    expect(decodeRow(d, insert(7, 5, 6))).toEqual({ id: 5, v: 6n });
  });

  it(`are bounded (${COMPILED_TABLES_MAX}), the oldest dropped first and compiled again when it returns`, () => {
    const d = decoder();
    const oldest = decodeMap(d, mapEvent(1, 't_1', ['id', 'v'])).map;
    for (let i = 2; i <= COMPILED_TABLES_MAX + 1; i++) decodeMap(d, mapEvent(i, `t_${i}`, ['id', 'v']));
    const latest = decodeMap(d, mapEvent(COMPILED_TABLES_MAX + 1, `t_${COMPILED_TABLES_MAX + 1}`, ['id', 'v'])).map;
    expect(latest.table).toBe(`t_${COMPILED_TABLES_MAX + 1}`);
    const back = decodeMap(d, mapEvent(1, 't_1', ['id', 'v'])).map;
    expect(back).not.toBe(oldest);
    expect(back).toEqual(oldest);
    expect(decodeRow(d, insert(1, 9, 9))).toEqual({ id: 9, v: 9n });
  });

  it(`keep at most ${COMPILED_TABLES_MAX_BYTES} bytes of TABLE_MAPs (wide tables), the oldest dropped first`, () => {
    const d = decoder();
    const wide = (i: number) => ['id', `v${String(i).padStart(6, '0')}${'x'.repeat(2 * 1024 * 1024)}`];
    const maps = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => decodeMap(d, mapEvent(i, `wide_${i}`, wide(i))).map);
    // 2 MiB and a few bytes each: the newest seven fit in the bound, the two oldest were dropped
    for (let i = 9; i >= 3; i--) expect(decodeMap(d, mapEvent(i, `wide_${i}`, wide(i))).map).toBe(maps[i - 1]);
    const first = decodeMap(d, mapEvent(1, 'wide_1', wide(1))).map;
    expect(first).not.toBe(maps[0]);
    expect(first).toEqual(maps[0]);
    expect(decodeRow(d, insert(1, 4, 2))).toEqual({ id: 4, [wide(1)[1]!]: 2n });
  });

  it('share one compiled row reader among tables with the same column names', () => {
    const body = (table: string, names: string[]) => tableMapBody(1, 'app_00', table, [3, 8], Buffer.alloc(0), optional(names));
    const a = compileTable(parseTableMap(body('users_0000', ['id', 'v']), 8, 'mysql'));
    const b = compileTable(parseTableMap(body('users_0001', ['id', 'v']), 8, 'mysql'));
    const c = compileTable(parseTableMap(body('users_0002', ['id', 'x']), 8, 'mysql'));
    expect(a.readFullImage).not.toBeNull();
    expect(b.readFullImage).toBe(a.readFullImage);
    expect(c.readFullImage).not.toBe(a.readFullImage);
  });
});
