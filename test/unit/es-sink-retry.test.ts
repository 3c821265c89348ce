import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import type { LogicalTableSchema } from '../../src/cdc/schema/logical-columns.js';
import type { SinkRecord } from '../../src/cdc/sinks/sink-record.js';
import { EsSink, EsSinkError } from '../../src/cdc/sinks/elasticsearch/index.js';

/** What the fake Elasticsearch answers to one bulk request: a status and body, or a dropped connection. */
type Reply = { status: number; body: unknown } | 'reset';
type BulkScript = (ids: string[]) => Reply;

interface FakeEs {
  url: string;
  /** Ids of each bulk request received, in order. */
  bulks: string[][];
  /** Method and path of every other request. */
  setup: string[];
  /** Template bodies received. */
  templates: unknown[];
  /** Resolves once `n` bulk requests have arrived. */
  whenBulks(n: number): Promise<void>;
  /** Bulk requests received and not yet answered, now and at most. */
  bulksInFlight: { now: number; max: number };
  /** `arrive <ids>` and `answer <ids>` of every bulk request, in the order they happened. */
  bulkEvents: string[];
  close(): Promise<void>;
}

const ok = (ids: string[], status: (id: string) => number = () => 201): Reply => ({
  status: 200,
  body: {
    errors: ids.some((id) => status(id) >= 300),
    items: ids.map((id) => ({
      index:
        status(id) < 300
          ? { _id: id, status: status(id) }
          : {
              _id: id,
              status: status(id),
              error: { type: status(id) === 400 ? 'document_parsing_exception' : 'some_exception', reason: `reason of ${id}` },
            },
    })),
  },
});

/** A tiny Elasticsearch stand-in: bulk requests follow `script` (then all succeed); set-up requests follow `setupReply`. */
async function fakeEs(
  script: BulkScript[],
  setupReply: (method: string, path: string, body: string) => Reply | null = () => null,
  bulkReplyDelayMs = 0,
): Promise<FakeEs> {
  const bulksInFlight = { now: 0, max: 0 };
  const bulkEvents: string[] = [];
  const bulks: string[][] = [];
  const setup: string[] = [];
  const reads: string[] = [];
  const templates: unknown[] = [];
  const bulkWaiters: { n: number; resolve: () => void }[] = [];
  const server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0]!;
      let reply: Reply;
      let bulkIds = '';
      if (path === '/_bulk') {
        // Action lines: an index is followed by its source line, a delete is not.
        const ids: string[] = [];
        const lines = data.split('\n').filter(Boolean);
        for (let i = 0; i < lines.length; i++) {
          const action = JSON.parse(lines[i]!) as { index?: { _id: string }; delete?: { _id: string } };
          ids.push((action.index ?? action.delete)!._id);
          if (action.index) i++;
        }
        bulks.push(ids);
        bulkIds = ids.join(',');
        bulkEvents.push(`arrive ${bulkIds}`);
        for (const w of bulkWaiters.filter((x) => bulks.length >= x.n)) w.resolve();
        reply = (script.shift() ?? ((i: string[]) => ok(i)))(ids);
      } else if (path.endsWith('/_mget')) {
        reads.push(path);
        reply = { status: 200, body: { docs: [] } };
      } else {
        setup.push(`${req.method} ${path}`);
        if (path.startsWith('/_index_template/')) templates.push(JSON.parse(data));
        reply = setupReply(req.method ?? '', path, data) ?? { status: 200, body: { acknowledged: true } };
      }
      const answer = (): void => {
        if (path === '/_bulk') bulkEvents.push(`answer ${bulkIds}`);
        if (reply === 'reset') req.socket.destroy();
        else {
          res.writeHead(reply.status, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' });
          res.end(JSON.stringify(reply.body));
        }
      };
      if (path !== '/_bulk' || bulkReplyDelayMs === 0) return answer();
      bulksInFlight.max = Math.max(bulksInFlight.max, ++bulksInFlight.now);
      setTimeout(() => {
        bulksInFlight.now--;
        answer();
      }, bulkReplyDelayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bulks,
    setup,
    templates,
    bulksInFlight,
    bulkEvents,
    whenBulks: (n) => (bulks.length >= n ? Promise.resolve() : new Promise<void>((resolve) => bulkWaiters.push({ n, resolve }))),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const SCHEMA: LogicalTableSchema = {
  table: 'users',
  columns: [
    { name: 'uid', dataType: 'bigint', columnType: 'bigint unsigned', nullable: false, charset: null },
    { name: 'name', dataType: 'varchar', columnType: 'varchar(100)', nullable: false, charset: 'utf8mb4' },
  ],
  primaryKey: ['uid'],
};

function rec(id: string, version: bigint, op: 'c' | 'd' = 'c', name = `n${id}`): SinkRecord {
  const image = { uid: id, name };
  return {
    table: 'users',
    id,
    previousId: null,
    version,
    event: {
      op,
      before: op === 'd' ? image : null,
      after: op === 'd' ? null : image,
      source: {
        instance: 'i',
        flavour: 'mysql',
        server_uuid: null,
        server_id: 1,
        db: 'd',
        table: 'users_0001',
        logical_table: 'users',
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
    origin: { topic: 't', partition: 0, offset: String(version) },
  };
}

/** Bulk requests by their first id: one write's requests may arrive in any order. */
const sorted = (bulks: string[][]): string[][] => [...bulks].sort((a, b) => Number(a[0]) - Number(b[0]));

async function metric(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const base = name.replace(/_(count|sum)$/, '');
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name || x.name === base);
  const values = m?.values as { value: number; labels: Record<string, string | number>; metricName?: string }[] | undefined;
  const v = values?.find((x) => (x.metricName ?? m?.name) === name && Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return v?.value ?? 0;
}

describe('EsSink retries (fake Elasticsearch)', () => {
  let es: FakeEs | undefined;
  let sink: EsSink | undefined;
  afterEach(async () => {
    await sink?.close();
    await es?.close();
    sink = undefined;
    es = undefined;
  });
  const open = (url: string, registry?: Registry, bulkMaxDocs = 100, bulkMaxBytes?: number, maxConcurrentWrites?: number) =>
    (sink = new EsSink({
      node: url,
      indexPrefix: 'fake-',
      bulkMaxDocs,
      ...(bulkMaxBytes === undefined ? {} : { bulkMaxBytes }),
      ...(maxConcurrentWrites === undefined ? {} : { maxConcurrentWrites }),
      schemaOf: async () => SCHEMA,
      registry,
      retry: { initialMs: 5, maxMs: 20 },
      requestTimeoutMs: 2000,
    }));

  it('sets the table up once, then retries a 429 request and a 503 item until applied, never skipping', async () => {
    es = await fakeEs([
      () => ({ status: 429, body: { error: { type: 'es_rejected_execution_exception' }, status: 429 } }),
      (ids) => ok(ids, (id) => (id === '1' ? 503 : 201)),
    ]);
    const registry = new Registry();
    open(es.url, registry);
    await expect(sink!.write([rec('1', 1n), rec('2', 2n)])).resolves.toEqual([]);
    expect(es.bulks).toEqual([['1', '2'], ['1', '2'], ['1']]);
    expect(es.setup).toEqual([
      // An empty index named like an alias (auto-created while the alias was gone) is looked for first.
      'GET /fake-users/_settings',
      'GET /fake-users.tombstones/_settings',
      'PUT /_index_template/fake-users',
      'PUT /fake-users.v1',
      'PUT /fake-users.v1/_mapping',
      'PUT /fake-users.v1/_alias/fake-users',
      'PUT /fake-users.tombstones.v1',
    ]);
    await sink!.write([rec('3', 3n)]);
    expect(es.setup).toHaveLength(7);
    expect(await metric(registry, 'shardline_es_retries_total', { reason: 'http_429' })).toBe(1);
    expect(await metric(registry, 'shardline_es_retries_total', { reason: 'item_503' })).toBe(1);
    expect(await metric(registry, 'shardline_es_docs_indexed_total', { table: 'users' })).toBe(3);
    expect(await metric(registry, 'shardline_es_bulk_duration_seconds_count', { outcome: 'failed' })).toBe(1);
    expect(await metric(registry, 'shardline_es_bulk_duration_seconds_count', { outcome: 'partial' })).toBe(1);
    expect(await metric(registry, 'shardline_es_bulk_duration_seconds_count', { outcome: 'ok' })).toBe(2);
  });

  it('retries dropped connections and 5xx during set-up', async () => {
    let setupFailures = 2;
    es = await fakeEs(
      ['reset' as const].map((r) => () => r),
      (method) => (method === 'PUT' && setupFailures-- > 0 ? { status: 503, body: { error: { type: 'unavailable' } } } : null),
    );
    const registry = new Registry();
    open(es.url, registry);
    await expect(sink!.write([rec('1', 1n)])).resolves.toEqual([]);
    expect(es.bulks).toEqual([['1'], ['1']]);
    expect(await metric(registry, 'shardline_es_retries_total', { reason: 'connection' })).toBe(1);
    expect(await metric(registry, 'shardline_es_retries_total', { reason: 'http_503' })).toBe(2);
  });

  it('dead-letters a 400 item with ES reason, counts a 409 as a version conflict, applies the rest', async () => {
    es = await fakeEs([(ids) => ok(ids, (id) => (id === '2' ? 400 : id === '3' ? 409 : 201))]);
    const registry = new Registry();
    open(es.url, registry);
    const records = [rec('1', 1n), rec('2', 2n), rec('3', 3n, 'd')];
    expect(await sink!.write(records)).toEqual([{ record: records[1], reason: 'document_parsing_exception: reason of 2' }]);
    expect(es.bulks).toHaveLength(1);
    expect(await metric(registry, 'shardline_es_dead_letters_total', { table: 'users' })).toBe(1);
    expect(await metric(registry, 'shardline_es_version_conflicts_total', { table: 'users' })).toBe(1);
    expect(await metric(registry, 'shardline_es_docs_indexed_total', { table: 'users' })).toBe(1);
    expect(await metric(registry, 'shardline_es_docs_deleted_total', { table: 'users' })).toBe(0);
  });

  it('splits a request refused with 413, and dead-letters a single action that is still too large', async () => {
    const tooLarge = (): Reply => ({ status: 413, body: {} });
    es = await fakeEs([tooLarge, (ids) => ok(ids), tooLarge]);
    open(es.url);
    const records = [rec('1', 1n), rec('2', 2n), rec('3', 3n)];
    const dead = await sink!.write(records);
    expect(es.bulks).toEqual([['1', '2', '3'], ['1', '2'], ['3']]);
    expect(dead).toEqual([{ record: records[2], reason: expect.stringMatching(/^request_entity_too_large/) }]);
  });

  it('splits at bulkMaxDocs', async () => {
    es = await fakeEs([]);
    open(es.url, undefined, 2);
    await sink!.write([rec('1', 1n), rec('2', 2n), rec('3', 3n), rec('4', 4n), rec('5', 5n)]);
    expect(sorted(es.bulks)).toEqual([['1', '2'], ['3', '4'], ['5']]);
  });

  it("sends one write's bulk requests side by side, never more than maxConcurrentWrites at once", async () => {
    es = await fakeEs([], undefined, 40);
    open(es.url, undefined, 2, undefined, 3);
    const records = Array.from({ length: 20 }, (_, i) => rec(String(i + 1), BigInt(i + 1)));
    await expect(sink!.write(records)).resolves.toEqual([]);
    expect(es.bulks).toHaveLength(10);
    expect(es.bulks.flat().sort((a, b) => Number(a) - Number(b))).toEqual(records.map((r) => r.id));
    expect(es.bulksInFlight.max).toBe(3);
  });

  it('times each bulk request from when it goes out, not from when it waited for a slot', async () => {
    es = await fakeEs([], undefined, 150);
    const registry = new Registry();
    open(es.url, registry, 1, undefined, 1);
    await sink!.write(Array.from({ length: 6 }, (_, i) => rec(String(i + 1), BigInt(i + 1))));
    const count = await metric(registry, 'shardline_es_bulk_duration_seconds_count', { outcome: 'ok' });
    const sum = await metric(registry, 'shardline_es_bulk_duration_seconds_sum', { outcome: 'ok' });
    expect(count).toBe(6);
    // one at a time, 150 ms each: with the waits counted the mean would be 0.525 s
    expect(sum / count).toBeGreaterThanOrEqual(0.15);
    expect(sum / count).toBeLessThan(0.4);
  });

  it('counts no failed bulk for requests still waiting for a slot when the sink closes', async () => {
    es = await fakeEs([], undefined, 300);
    const registry = new Registry();
    open(es.url, registry, 1, undefined, 1);
    const pending = sink!.write(Array.from({ length: 4 }, (_, i) => rec(String(i + 1), BigInt(i + 1))));
    await es.whenBulks(1);
    await sink!.close();
    await expect(pending).rejects.toMatchObject({ code: 'SINK_CLOSED' });
    expect(es.bulks).toHaveLength(1);
    expect(await metric(registry, 'shardline_es_bulk_duration_seconds_count', { outcome: 'failed' })).toBe(1); // the one sent, aborted
  });

  it("sends one document's later changes only after its earlier ones were answered", async () => {
    es = await fakeEs([], undefined, 30);
    open(es.url, undefined, 1, undefined, 4);
    await expect(
      sink!.write([rec('7', 1n), rec('8', 2n), rec('7', 3n, 'd'), rec('9', 4n), rec('7', 5n), rec('8', 6n, 'd')]),
    ).resolves.toEqual([]);
    const at = (event: string): number => {
      const i = es!.bulkEvents.indexOf(event);
      expect(i).toBeGreaterThanOrEqual(0);
      return i;
    };
    // Each bulk holds one action (bulkMaxDocs 1); a delete is a tombstone and a delete of the same id.
    const sevens = es.bulkEvents.flatMap((e, i) => (e === 'arrive 7' ? [i] : []));
    const answers = es.bulkEvents.flatMap((e, i) => (e === 'answer 7' ? [i] : []));
    expect(sevens).toHaveLength(4);
    // the insert, then the delete's tombstone and delete side by side, then the second insert
    expect(answers[0]!).toBeLessThan(sevens[1]!);
    expect(sevens[2]!).toBeLessThan(answers[1]!);
    expect(answers[2]!).toBeLessThan(sevens[3]!);
    expect(at('answer 8')).toBeLessThan(es.bulkEvents.lastIndexOf('arrive 8'));
    // documents without earlier changes in the write go in the first wave, side by side
    expect(at('arrive 9')).toBeLessThan(answers[0]!);
    expect(es.bulksInFlight.max).toBe(4);
  });

  it("holds a document's later changes back while an earlier one waits for its retry", async () => {
    es = await fakeEs([() => ({ status: 429, body: { error: { type: 'es_rejected_execution_exception' }, status: 429 } })]);
    open(es.url);
    await expect(sink!.write([rec('7', 1n), rec('7', 2n, 'd')])).resolves.toEqual([]);
    expect(es.bulks).toEqual([['7'], ['7'], ['7', '7']]);
  });

  it('bounds bulk requests in flight across concurrent writes too', async () => {
    es = await fakeEs([], undefined, 40);
    open(es.url, undefined, 1, undefined, 2);
    const batch = (from: number) => Array.from({ length: 6 }, (_, i) => rec(String(from + i), BigInt(from + i)));
    await Promise.all([sink!.write(batch(1)), sink!.write(batch(101)), sink!.write(batch(201))]);
    expect(es.bulks).toHaveLength(18);
    expect(es.bulksInFlight.max).toBe(2);
  });

  it('rejects a write whose bulk request is refused for good only once its other requests have settled', async () => {
    const refused = (): Reply => ({ status: 400, body: { error: { type: 'illegal_argument_exception', reason: 'no' } } });
    es = await fakeEs([refused], undefined, 40);
    open(es.url, undefined, 1, undefined, 4);
    const records = Array.from({ length: 4 }, (_, i) => rec(String(i + 1), BigInt(i + 1)));
    await expect(sink!.write(records)).rejects.toMatchObject({ code: 'ES_SINK_FAILED' });
    expect(es.bulks).toHaveLength(4);
    expect(es.bulksInFlight.now).toBe(0);
  });

  it('splits at bulkMaxBytes, a single larger document alone', async () => {
    es = await fakeEs([]);
    open(es.url, undefined, 100, 1500);
    const big = (id: string, v: bigint) => rec(id, v, 'c', 'x'.repeat(3000));
    await sink!.write([big('1', 1n), rec('2', 2n), rec('3', 3n), big('4', 4n), rec('5', 5n)]);
    expect(sorted(es.bulks)).toEqual([['1'], ['2', '3'], ['4'], ['5']]);
  });

  it('sets the table up again when its alias disappeared (404 index_not_found), then retries', async () => {
    es = await fakeEs([
      (ids) => ({
        status: 200,
        body: { errors: true, items: ids.map((_id) => ({ index: { _id, status: 404, error: { type: 'index_not_found_exception' } } })) },
      }),
    ]);
    const registry = new Registry();
    open(es.url, registry);
    await expect(sink!.write([rec('1', 1n)])).resolves.toEqual([]);
    expect(es.setup).toHaveLength(14);
    expect(await metric(registry, 'shardline_es_retries_total', { reason: 'alias_missing' })).toBe(1);
  });

  it('close() ends endless retries: the pending write rejects with SINK_CLOSED (retriable)', async () => {
    const unavailable = (): Reply => ({ status: 503, body: { error: { type: 'unavailable' } } });
    es = await fakeEs(Array.from({ length: 10_000 }, () => unavailable));
    open(es.url);
    const pending = sink!.write([rec('1', 1n)]);
    await es.whenBulks(3);
    const started = Date.now();
    await sink!.close();
    const err = await pending.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EsSinkError);
    expect(err).toMatchObject({ code: 'SINK_CLOSED', retriable: true });
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(sink!.write([rec('2', 2n)])).rejects.toMatchObject({ code: 'SINK_CLOSED' });
  });

  it('a request refused for a reason retrying cannot fix (401) rejects with ES_SINK_FAILED', async () => {
    es = await fakeEs([
      () => ({ status: 401, body: { error: { type: 'security_exception', reason: 'missing authentication credentials' }, status: 401 } }),
    ]);
    open(es.url);
    await expect(sink!.write([rec('1', 1n)])).rejects.toMatchObject({
      code: 'ES_SINK_FAILED',
      retriable: false,
      message: expect.stringContaining('security_exception: missing authentication credentials'),
    });
  });

  it('falls back to keyword for BIGINT UNSIGNED when the cluster has no unsigned_long', async () => {
    es = await fakeEs([], (method, path, body) =>
      path.startsWith('/_index_template/') && body.includes('"unsigned_long"')
        ? {
            status: 400,
            body: {
              error: {
                type: 'illegal_argument_exception',
                reason: 'template invalid',
                caused_by: {
                  type: 'mapper_parsing_exception',
                  reason: 'The mapper type [unsigned_long] declared on field [uid] does not exist.',
                },
              },
            },
          }
        : null,
    );
    open(es.url);
    await expect(sink!.write([rec('1', 1n)])).resolves.toEqual([]);
    expect(es.templates).toHaveLength(2);
    expect(
      (es.templates[1] as { template: { mappings: { properties: Record<string, unknown> } } }).template.mappings.properties['uid'],
    ).toEqual({ type: 'keyword', fields: { num: { type: 'double' } } });
  });
});
