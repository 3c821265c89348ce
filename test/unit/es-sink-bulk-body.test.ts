import type { CanonicalValue } from '../../src/cdc/binlog/decoder/canonical-json.js';
import type { ChangeEvent } from '../../src/cdc/events/change-event.js';
import type { SinkRecord } from '../../src/cdc/sinks/sink-record.js';
import { backoffDelayMs } from '../../src/retry/index.js';
import { prng } from '../support/prng.js';
import {
  actionsFor,
  esBackoffPolicy,
  bulkBody,
  bulkChunks,
  documentFor,
  documentJson,
  documentWaves,
  errorReason,
  itemOutcome,
  requestFailure,
  tombstoneFor,
  type BulkAction,
} from '../../src/cdc/sinks/elasticsearch/index.js';

type Row = Record<string, CanonicalValue>;

function record(
  op: ChangeEvent['op'],
  id: string,
  version: bigint,
  images: { before?: Row | null; after?: Row | null; previousId?: string | null } = {},
): SinkRecord {
  return {
    table: 'users',
    id,
    previousId: images.previousId ?? null,
    version,
    event: {
      op,
      before: images.before ?? null,
      after: images.after ?? null,
      source: {
        instance: 'shard-0',
        flavour: 'mysql',
        server_uuid: null,
        server_id: 1,
        db: 'app_0',
        table: 'users_0007',
        logical_table: 'users',
        shard: 7,
        gtid: null,
        file: 'binlog.000001',
        pos: 4,
        row: 0,
        ts_us: 1_700_000_000_123_456,
        snapshot: 'false',
      },
      ts_ms: 0,
    },
    origin: { topic: 'shardline.users', partition: 0, offset: '1' },
  };
}

/** The action and source objects of a built action (a delete has no source line). */
function lines(
  a: BulkAction,
): [Record<string, Record<string, unknown>>, Record<string, unknown>] | [Record<string, Record<string, unknown>>] {
  const parts = a.ndjson.split('\n');
  expect(parts[parts.length - 1]).toBe('');
  const json = parts.slice(0, -1).map((l) => JSON.parse(l) as Record<string, Record<string, unknown>>);
  expect(json).toHaveLength('delete' in json[0]! ? 1 : 2);
  return json as [Record<string, Record<string, unknown>>, Record<string, unknown>];
}

const meta = (deleted: boolean, op: string, version: string) => ({ deleted, version, op, shard: 7, committed_at: 1_700_000_000_123 });

describe('Elasticsearch bulk body', () => {
  it('c/u/r index the after image under _id with an external_gte version and the sink metadata', () => {
    for (const op of ['c', 'u', 'r'] as const) {
      const built = actionsFor(
        record(op, '42', 9n, { before: { uid: '42', name: 'old' }, after: { uid: '42', name: 'Ann', balance: '1.50' } }),
        3,
        'it-users',
        ['uid'],
      );
      if (!built.ok) throw new Error(built.reason);
      expect(built.actions).toHaveLength(1);
      const a = built.actions[0]!;
      expect(a).toMatchObject({ record: 3, kind: 'index', id: '42' });
      expect(lines(a)).toEqual([
        { index: { _index: 'it-users', _id: '42', version: 9, version_type: 'external_gte' } },
        { uid: '42', name: 'Ann', balance: '1.50', _shardline: meta(false, op, '9') },
      ]);
    }
  });

  it('d indexes a tombstone that keeps only the key columns into the tombstones alias, then deletes the row', () => {
    const built = actionsFor(record('d', '["42","7"]', 11n, { before: { uid: '42', order_id: '7', amount: '9.99' } }), 0, 'it-orders', [
      'uid',
      'order_id',
    ]);
    if (!built.ok) throw new Error(built.reason);
    expect(built.actions.map(lines)).toEqual([
      [
        { index: { _index: 'it-orders.tombstones', _id: '["42","7"]', version: 11, version_type: 'external_gte' } },
        { uid: '42', order_id: '7', _shardline: meta(true, 'd', '11') },
      ],
      [{ delete: { _index: 'it-orders', _id: '["42","7"]', version: 11, version_type: 'external_gte' } }],
    ]);
    expect(built.actions.map((a) => [a.kind, a.version])).toEqual([
      ['tombstone', 11n],
      ['delete', 11n],
    ]);
    const named = actionsFor(record('d', '1', 2n, { before: { uid: '1' } }), 0, 'a', ['uid'], 'elsewhere');
    expect(named.ok && named.actions.map((a) => lines(a)[0])).toEqual([
      { index: { _index: 'elsewhere', _id: '1', version: 2, version_type: 'external_gte' } },
      { delete: { _index: 'a', _id: '1', version: 2, version_type: 'external_gte' } },
    ]);
  });

  it('a primary key change tombstones and deletes previousId then indexes id, all with the change version', () => {
    const built = actionsFor(
      record('u', '43', 12n, { previousId: '42', before: { uid: '42', name: 'Ann' }, after: { uid: '43', name: 'Ann' } }),
      0,
      'it-users',
      ['uid'],
    );
    if (!built.ok) throw new Error(built.reason);
    expect(built.actions.map((a) => [a.kind, a.id, a.version])).toEqual([
      ['tombstone', '42', 12n],
      ['delete', '42', 12n],
      ['index', '43', 12n],
    ]);
    expect(lines(built.actions[0]!)[1]).toEqual({ uid: '42', _shardline: meta(true, 'u', '12') });
    const same = actionsFor(record('u', '43', 12n, { previousId: '43', after: { uid: '43' } }), 0, 'it-users', ['uid']);
    expect(same.ok && same.actions.map((a) => a.kind)).toEqual(['index']);
  });

  it('writes versions beyond 2^53 exactly and refuses versions outside a signed long', () => {
    const max = (1n << 63n) - 1n;
    const built = actionsFor(record('c', '1', max, { after: { uid: '1' } }), 0, 'i', ['uid']);
    if (!built.ok) throw new Error(built.reason);
    expect(built.actions[0]!.ndjson).toContain('"version":9223372036854775807,');
    expect(built.actions[0]!.ndjson).toContain('"version":"9223372036854775807"');
    expect(actionsFor(record('c', '1', max + 1n, { after: { uid: '1' } }), 0, 'i', ['uid'])).toEqual({
      ok: false,
      reason: 'version 9223372036854775808 is outside 0 … 2^63-1',
    });
    expect(actionsFor(record('c', '1', -1n, { after: { uid: '1' } }), 0, 'i', ['uid']).ok).toBe(false);
    expect(actionsFor(record('u', '1', 1n), 0, 'i', ['uid'])).toEqual({ ok: false, reason: 'op u without an after image' });
    expect(actionsFor(record('c', '', 1n, { after: {} }), 0, 'i', ['uid'])).toEqual({ ok: false, reason: 'empty document id' });
  });

  it('escapes ids and index names in the action line', () => {
    const built = actionsFor(record('c', 'a"b\\c\n', 1n, { after: { uid: 'x' } }), 0, 'i', ['uid']);
    if (!built.ok) throw new Error(built.reason);
    expect(lines(built.actions[0]!)[0]).toEqual({ index: { _index: 'i', _id: 'a"b\\c\n', version: 1, version_type: 'external_gte' } });
  });

  it('chunks by action count and bytes, in order, a single oversized action alone', () => {
    const actions = Array.from({ length: 7 }, (_, i) => ({
      record: i,
      kind: 'index' as const,
      id: String(i),
      version: 1n,
      ndjson: 'x'.repeat(i === 3 ? 100 : 10),
    }));
    expect(bulkChunks(actions, 3, 1000).map((c) => c.map((a) => a.record))).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    expect(bulkChunks(actions, 100, 35).map((c) => c.map((a) => a.record))).toEqual([[0, 1, 2], [3], [4, 5, 6]]);
    expect(bulkChunks([], 3, 10)).toEqual([]);
    expect(bulkBody(actions.slice(0, 2)).toString('utf8')).toBe('x'.repeat(20));
  });

  it("splits actions into waves: one document's records in their order, a record's actions together", () => {
    const built = [
      record('c', '1', 1n, { after: { uid: '1' } }),
      record('c', '2', 2n, { after: { uid: '2' } }),
      record('d', '1', 3n, { before: { uid: '1' } }),
      record('u', '3', 4n, { after: { uid: '3' }, before: { uid: '2' }, previousId: '2' }),
      record('c', '1', 5n, { after: { uid: '1' } }),
    ].flatMap((r, i) => {
      const b = actionsFor(r, i, 'users', ['uid']);
      if (!b.ok) throw new Error(b.reason);
      return b.actions;
    });
    const waves = documentWaves(built, () => 'users').map((w) => w.map((a) => `${a.kind}:${a.id}@${a.version}`));
    expect(waves).toEqual([
      ['index:1@1', 'index:2@2', 'index:3@4'],
      ['tombstone:1@3', 'delete:1@3', 'tombstone:2@4', 'delete:2@4'],
      ['index:1@5'],
    ]);
    // different tables' documents of one id do not wait for each other
    expect(documentWaves(built.slice(0, 3), (a) => `t${a.record}`)).toHaveLength(1);
    expect(documentWaves([], () => 'users')).toEqual([]);
  });

  it('waves keep every action once, at most one record per document in a wave, each document in order (random)', () => {
    const rnd = prng(6122026);
    for (let run = 0; run < 200; run++) {
      const actions: BulkAction[] = [];
      const records = 1 + Math.floor(rnd() * 60);
      for (let r = 0; r < records; r++) {
        const n = 1 + Math.floor(rnd() * 3);
        for (let k = 0; k < n; k++)
          actions.push({ record: r, kind: 'index', id: String(Math.floor(rnd() * 8)), version: BigInt(r), ndjson: `${run}/${r}/${k}` });
      }
      const tableOf = (a: BulkAction): string => (a.record % 3 === 0 ? 'a' : 'b');
      const waves = documentWaves(actions, tableOf);
      expect(
        waves
          .flat()
          .map((a) => a.ndjson)
          .sort(),
      ).toEqual(actions.map((a) => a.ndjson).sort());
      const docOf = (a: BulkAction): string => `${tableOf(a)}/${a.id}`;
      for (const wave of waves) {
        const owner = new Map<string, number>();
        for (const a of wave) {
          expect(owner.get(docOf(a)) ?? a.record).toBe(a.record);
          owner.set(docOf(a), a.record);
        }
        expect(wave.length).toBeGreaterThan(0);
      }
      const sequence = (list: BulkAction[]): Map<string, number[]> => {
        const m = new Map<string, number[]>();
        for (const a of list) {
          const seen = m.get(docOf(a)) ?? [];
          if (seen[seen.length - 1] !== a.record) seen.push(a.record);
          m.set(docOf(a), seen);
        }
        return m;
      };
      expect(sequence(waves.flat())).toEqual(sequence(actions));
    }
  });

  it('encodes the bulk body as UTF-8 of exactly its size: multi-byte text, emoji, lone surrogates as U+FFFD', () => {
    const texts = ['{"a":"ä"}\n', '{"b":"😀 ☃"}\n', `{"c":"${'é'.repeat(3000)}"}\n`, '', '{"d":"\ud800"}\n', 'plain\n'];
    const actions = texts.map((ndjson, i) => ({ record: i, kind: 'index' as const, id: String(i), version: 1n, ndjson }));
    const body = bulkBody(actions);
    expect(body.equals(Buffer.from(texts.join(''), 'utf8'))).toBe(true);
    expect(body.length).toBe(Buffer.byteLength(texts.join('')));
    expect(bulkBody([]).length).toBe(0);
  });

  it('writes a document as the JSON of documentFor: any image, key order, integer-like and odd keys, a _shardline column', () => {
    const rnd = prng(20261206);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const keys = ['id', 'name', '0', '17', '__proto__', 'é ☃', '"quoted"', 'a\\b', '_shardline', 'constructor', ''];
    const values: CanonicalValue[] = [null, 0, -1.5, 'text', '😀', '', '12345678901234567890', { srid: 0, wkb: 'AA==' }];
    for (let i = 0; i < 2000; i++) {
      const after: Row = JSON.parse('{}') as Row;
      const n = Math.floor(rnd() * 6);
      for (let k = 0; k < n; k++)
        Object.defineProperty(after, pick(keys), { value: pick(values), enumerable: true, writable: true, configurable: true });
      const r = record(pick(['c', 'u', 'r'] as const), String(i), BigInt(i) * 7919n, { after });
      expect(documentJson(r, after)).toBe(JSON.stringify(documentFor(r, after)));
    }
    const parsed = JSON.parse('{"__proto__":1,"2":"b","1":"a","_shardline":"mine"}') as Row;
    const r = record('c', '1', 5n, { after: parsed });
    expect(documentJson(r, parsed)).toBe(JSON.stringify(documentFor(r, parsed)));
    expect(JSON.parse(documentJson(r, parsed))).toMatchObject({ 1: 'a', 2: 'b', _shardline: { version: '5', deleted: false } });
  });

  it("a tombstone keeps the before image's key columns whatever their names, and nothing inherited", () => {
    const before = JSON.parse('{"__proto__": "k1", "constructor": "k2", "name": "x"}') as Row;
    const text = JSON.stringify(tombstoneFor(record('d', '["k1","k2"]', 9n, { before }), ['__proto__', 'constructor', 'toString']));
    expect(JSON.parse(text)).toEqual(
      JSON.parse(
        '{"__proto__": "k1", "constructor": "k2", "_shardline": {"deleted": true, "version": "9", "op": "d", "shard": 7, "committed_at": 1700000000123}}',
      ),
    );
    expect(text.indexOf('"__proto__":"k1"')).toBe(1);
  });

  it('classifies bulk items', () => {
    expect(itemOutcome({ index: { status: 201 } })).toEqual({ kind: 'applied' });
    expect(itemOutcome({ index: { status: 200 } })).toEqual({ kind: 'applied' });
    expect(itemOutcome({ index: { status: 409, error: { type: 'version_conflict_engine_exception' } } })).toEqual({ kind: 'stale' });
    expect(itemOutcome({ index: { status: 429, error: { type: 'es_rejected_execution_exception' } } })).toEqual({
      kind: 'retry',
      reason: 'item_429',
    });
    expect(itemOutcome({ index: { status: 503, error: { type: 'unavailable_shards_exception' } } })).toEqual({
      kind: 'retry',
      reason: 'item_503',
    });
    expect(itemOutcome({ index: { status: 403, error: { type: 'cluster_block_exception' } } })).toEqual({
      kind: 'retry',
      reason: 'item_403',
    });
    expect(itemOutcome({ index: { status: 404, error: { type: 'index_not_found_exception' } } })).toEqual({ kind: 'alias-missing' });
    expect(itemOutcome({ delete: { status: 404, error: { type: 'index_not_found_exception' } } })).toEqual({ kind: 'alias-missing' });
    // A versioned delete of an id the index does not hold: nothing to remove, the version is recorded.
    expect(itemOutcome({ delete: { status: 404 } })).toEqual({ kind: 'applied' });
    expect(itemOutcome(undefined)).toEqual({ kind: 'retry', reason: 'missing_item' });
    // The target alias resolved to an index of its own name (auto-created by a delete after the
    // index behind the alias was deleted): the alias is missing, whatever the status.
    expect(itemOutcome({ delete: { _index: 'p-users', status: 404 } }, 'p-users')).toEqual({ kind: 'alias-missing' });
    expect(itemOutcome({ delete: { _index: 'p-users', status: 200 } }, 'p-users')).toEqual({ kind: 'alias-missing' });
    expect(itemOutcome({ delete: { _index: 'p-users.v1', status: 404 } }, 'p-users')).toEqual({ kind: 'applied' });
    expect(itemOutcome({ index: { _index: 'p-users.v1', status: 201 } }, 'p-users')).toEqual({ kind: 'applied' });
    expect(
      itemOutcome({
        index: {
          status: 400,
          error: {
            type: 'document_parsing_exception',
            reason: 'failed to parse field [uid] of type [long]',
            caused_by: { type: 'illegal_argument_exception', reason: 'For input string: "x"' },
          },
        },
      }),
    ).toEqual({
      kind: 'rejected',
      reason:
        'document_parsing_exception: failed to parse field [uid] of type [long] (caused by illegal_argument_exception: For input string: "x")',
    });
    expect(errorReason({ type: 'strict_dynamic_mapping_exception' })).toBe('strict_dynamic_mapping_exception');
  });

  it('classifies request failures: retry 429/5xx/connection/time-out, split 413, else fatal', () => {
    expect(requestFailure({ name: 'ResponseError', statusCode: 429 })).toEqual({ kind: 'retry', reason: 'http_429' });
    expect(requestFailure({ name: 'ResponseError', statusCode: 502 })).toEqual({ kind: 'retry', reason: 'http_502' });
    expect(requestFailure({ name: 'ConnectionError' })).toEqual({ kind: 'retry', reason: 'connection' });
    expect(requestFailure({ name: 'NoLivingConnectionsError' })).toEqual({ kind: 'retry', reason: 'connection' });
    expect(requestFailure({ name: 'TimeoutError' })).toEqual({ kind: 'retry', reason: 'timeout' });
    expect(requestFailure({ name: 'RequestAbortedError' })).toEqual({ kind: 'aborted' });
    expect(requestFailure({ name: 'ResponseError', statusCode: 413 })).toEqual({ kind: 'split' });
    expect(
      requestFailure({
        name: 'ResponseError',
        statusCode: 401,
        body: { error: { type: 'security_exception', reason: 'missing authentication' } },
      }),
    ).toEqual({
      kind: 'fatal',
      status: 401,
      reason: 'security_exception: missing authentication',
    });
  });

  it('backs off exponentially with equal jitter up to the cap', () => {
    const at = (attempt: number, r: number) => backoffDelayMs(esBackoffPolicy({ initialMs: 100, maxMs: 1000 }), attempt, () => r);
    expect([1, 2, 3, 4, 5].map((n) => at(n, 0))).toEqual([50, 100, 200, 400, 500]);
    [1, 2, 3, 4, 5].forEach((n) => expect(at(n, 0.999999)).toBeCloseTo(Math.min(1000, 100 * 2 ** (n - 1)), 2));
    expect(at(1000, 0.5)).toBe(750);
  });
});
