import { changeEventProblem } from '../../src/cdc/sinks/change-shape.js';
import { DEAD_LETTER_MAX_BYTES, deadLetterValue, sinkRecordOf } from '../../src/cdc/sinks/sink-runner.js';
import type { SinkRecord } from '../../src/cdc/sinks/sink-record.js';
import { changeSource } from '../support/change-events.js';
import { prng } from '../support/prng.js';

const source = changeSource;
const event = { op: 'c', before: null, after: { id: '7', name: 'a' }, source, ts_ms: 1 };

const message = (value: Buffer | string, key: string | null = '7') => ({
  key: key === null ? null : Buffer.from(key),
  value: typeof value === 'string' ? Buffer.from(value) : value,
  headers: {},
  offset: '9',
});

const without = (o: Record<string, unknown>, k: string) => Object.fromEntries(Object.entries(o).filter(([x]) => x !== k));

describe('messages of a change topic that are not change events', () => {
  it('a well-formed event (with or without version, logical table or shard) has no problem', () => {
    expect(changeEventProblem(event)).toBeNull();
    expect(changeEventProblem({ ...event, source: without(source, 'version') })).toBeNull();
    expect(
      changeEventProblem({ ...event, op: 'd', before: { id: '7' }, after: null, source: { ...source, logical_table: null, shard: null } }),
    ).toBeNull();
    expect(changeEventProblem({ ...event, op: 'd', source: { ...source, archival: true } })).toBeNull();
  });

  it.each([
    ['null', null, /not a JSON object/],
    ['an array', [event], /not a JSON object/],
    ['a string', 'c', /not a JSON object/],
    ['an unknown op', { ...event, op: 'x' }, /op "x"/],
    ['no op', without(event, 'op'), /op undefined/],
    ['an array image', { ...event, after: ['7'] }, /after is neither/],
    ['a string before image', { ...event, before: 'x' }, /before is neither/],
    ['no source', without(event, 'source'), /source is not an object/],
    ['no table', { ...event, source: without(source, 'table') }, /source.table/],
    ['an empty table', { ...event, source: { ...source, table: '' } }, /source.table/],
    ['a numeric logical table', { ...event, source: { ...source, logical_table: 5 } }, /logical_table/],
    ['a text commit time', { ...event, source: { ...source, ts_us: '1' } }, /ts_us/],
    ['no commit time', { ...event, source: without(source, 'ts_us') }, /ts_us/],
    ['a fractional shard', { ...event, source: { ...source, shard: 1.5 } }, /shard/],
    ['archival false', { ...event, source: { ...source, archival: false } }, /archival/],
    ['no version and no file', { ...event, source: without(without(source, 'version'), 'file') }, /binlog file/],
    ['no version and a negative position', { ...event, source: { ...without(source, 'version'), pos: -1 } }, /position and row/],
  ])('%s is a problem', (_what, value, reason) => {
    expect(changeEventProblem(value)).toMatch(reason);
  });

  it('sinkRecordOf never throws: junk becomes a malformed message with its key, bytes and origin', () => {
    const junk = Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x22]);
    const m = sinkRecordOf('shardline.users', 3, message(junk, 'k'));
    expect(m).toEqual({
      malformed: 'the value is not JSON',
      key: Buffer.from('k'),
      value: junk,
      origin: { topic: 'shardline.users', partition: 3, offset: '9' },
    });
    const shapeless = sinkRecordOf('t', 0, message(JSON.stringify({ ...event, source: { ...source, ts_us: null } })));
    expect(shapeless && 'malformed' in shapeless ? shapeless.malformed : null).toMatch(/ts_us/);
    // a version that cannot be derived (file sequence past the version's bits) is a dead letter with its record
    const far = sinkRecordOf(
      't',
      0,
      message(JSON.stringify({ ...event, source: { ...without(source, 'version'), file: 'binlog.99999999999' } })),
    );
    expect(far && 'reason' in far ? far.reason : null).toMatch(/no version and its binlog coordinates give none/);
    expect(sinkRecordOf('t', 0, { ...message(''), value: null })).toBeNull();
    const good = sinkRecordOf('t', 0, message(JSON.stringify(event)));
    expect(good && 'version' in good ? good.version : null).toBe(42n);
  });

  it('sinkRecordOf never throws on random bytes or random mutations of an event', () => {
    const rnd = prng(7);
    const text = JSON.stringify(event);
    for (let i = 0; i < 3000; i++) {
      let value: Buffer;
      if (i % 2) {
        value = Buffer.from(Array.from({ length: Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 256)));
      } else {
        const chars = [...text];
        for (let k = 0; k < 1 + Math.floor(rnd() * 4); k++) chars[Math.floor(rnd() * chars.length)] = '{}[]":,0a-'[Math.floor(rnd() * 10)]!;
        value = Buffer.from(chars.join(''));
      }
      const r = sinkRecordOf('t', 0, message(value));
      expect(r === null || 'malformed' in r || 'reason' in r || typeof r.version === 'bigint').toBe(true);
    }
  });

  it('a dead letter keeps its change event unless the letter would pass the size it can be published at', () => {
    const record = (text: string): SinkRecord => {
      const r = sinkRecordOf('shardline.users', 1, message(JSON.stringify({ ...event, after: { id: '7', note: text } })));
      if (!r || !('version' in r)) throw new Error('not a record');
      return r;
    };
    const small = JSON.parse(
      deadLetterValue('elasticsearch', { record: record('é'.repeat(100)), reason: 'mapper_parsing_exception: x' }),
    ) as Record<string, unknown>;
    expect(small).toMatchObject({ sink: 'elasticsearch', reason: 'mapper_parsing_exception: x', table: 'users', id: '7', version: '42' });
    expect((small['event'] as { after: { note: string } }).after.note).toBe('é'.repeat(100));
    expect(small['event_omitted']).toBeUndefined();
    // 450k two-byte characters: 900 KB of UTF-8 in a string of 450k UTF-16 units
    const big = record('é'.repeat(450_000));
    const letter = deadLetterValue('archive', { record: big, reason: 'too long' });
    expect(Buffer.byteLength(letter)).toBeLessThanOrEqual(DEAD_LETTER_MAX_BYTES);
    const parsed = JSON.parse(letter) as Record<string, unknown>;
    expect(parsed).toMatchObject({
      sink: 'archive',
      reason: 'too long',
      id: '7',
      event: null,
      event_omitted: true,
      origin: { partition: 1 },
    });
    expect(parsed['event_bytes']).toBe(Buffer.byteLength(JSON.stringify(big.event)));
    expect(parsed['event_bytes']).toBeGreaterThan(DEAD_LETTER_MAX_BYTES);
  });
});
