/**
 * How a deleted row can be stored in Elasticsearch so that by-id readers (GET, _mget) do not see
 * it while a late replay of an older insert still cannot bring it back. Four layouts, measured on
 * the local cluster's Elasticsearch with the same external-version bulk writes the sink sends:
 *
 * - `tombstone-doc`: the delete is an ordinary document `{ _shardline.deleted: true }` in the
 *   index, hidden from searches by the alias filter (shardline before this change);
 * - `real-delete`: an external-versioned ES delete, guarded by `index.gc_deletes` only;
 * - `tombstone-index`: a real delete plus a tombstone document in a separate index, and inserts
 *   checked against that index (one `_mget` per bulk) before they are sent;
 * - `read-helper`: `tombstone-doc` writes, by-id reads through `_mget` + a filter on `deleted`.
 *
 * For each: write throughput (N inserts, then N/2 deletes, bulks of 500), whether GET of a
 * deleted id says `found`, whether an older insert replayed after ES forgot the delete
 * (`index.gc_deletes: 0s`, 1.1 s later) brings the row back, and the version map's heap after the
 * deletes with a one-hour `gc_deletes`. Last line: one JSON object.
 *
 * Run: npx tsc --outDir build-bench/es-deletes --module nodenext --moduleResolution nodenext --target es2022 --skipLibCheck bench/es-deletes.ts && node build-bench/es-deletes/es-deletes.js
 */
import { Client } from '@elastic/elasticsearch';

const node = process.env['ES_NODE'] ?? 'http://127.0.0.1:9200';
const N = Number(process.env['BENCH_DOCS'] ?? 20_000);
const BULK = 500;
const es = new Client({ node });
const PREFIX = 'bench-es-deletes-';

type Layout = 'tombstone-doc' | 'real-delete' | 'tombstone-index' | 'read-helper';
const LAYOUTS: Layout[] = ['tombstone-doc', 'real-delete', 'tombstone-index', 'read-helper'];

const line = (o: object) => `${JSON.stringify(o)}\n`;
const idx = (id: string, index: string, v: number, doc: object) =>
  line({ index: { _index: index, _id: id, version: v, version_type: 'external_gte' } }) + line(doc);
const del = (id: string, index: string, v: number) =>
  line({ delete: { _index: index, _id: id, version: v, version_type: 'external_gte' } });

async function bulk(body: string): Promise<void> {
  if (body === '') return;
  const res = await es.transport.request<{ items: Record<string, { status: number }>[] }>({
    method: 'POST',
    path: '/_bulk',
    querystring: { filter_path: 'items.*.status' },
    bulkBody: body,
  });
  for (const item of res.items ?? []) {
    const s = Object.values(item)[0]!.status;
    if (!(s < 300 || s === 404 || s === 409)) throw new Error(`bulk item status ${s}`);
  }
}

async function setUp(layout: Layout, gcDeletes: string): Promise<{ main: string; tombs: string }> {
  const main = `${PREFIX}${layout}`;
  const tombs = `${main}.tombstones`;
  for (const index of [main, tombs]) {
    await es.indices.delete({ index }, { ignore: [404] });
    await es.indices.create({
      index,
      settings: { 'index.number_of_replicas': 0, 'index.gc_deletes': gcDeletes, 'index.refresh_interval': '1s' },
      mappings: { dynamic: false, properties: { uid: { type: 'long' }, _shardline: { properties: { deleted: { type: 'boolean' } } } } },
    });
  }
  return { main, tombs };
}

/** Inserts (c) guarded, for `tombstone-index`, by the tombstones already stored. */
async function writeInserts(layout: Layout, main: string, tombs: string, ids: string[], version: number): Promise<void> {
  let skip = new Set<string>();
  if (layout === 'tombstone-index') {
    const res = await es.mget({ index: tombs, ids, _source: false });
    skip = new Set(res.docs.filter((d) => 'found' in d && d.found && (d._version ?? 0) >= version).map((d) => d._id));
  }
  await bulk(
    ids
      .filter((id) => !skip.has(id))
      .map((id) => idx(id, main, version, { uid: Number(id), name: `user ${id}`, _shardline: { deleted: false } }))
      .join(''),
  );
}

async function writeDeletes(layout: Layout, main: string, tombs: string, ids: string[], version: number): Promise<void> {
  const tomb = (id: string) => ({ uid: Number(id), _shardline: { deleted: true } });
  if (layout === 'tombstone-doc' || layout === 'read-helper') await bulk(ids.map((id) => idx(id, main, version, tomb(id))).join(''));
  else if (layout === 'real-delete') await bulk(ids.map((id) => del(id, main, version)).join(''));
  else await bulk(ids.map((id) => idx(id, tombs, version, tomb(id)) + del(id, main, version)).join(''));
}

/** Whether a by-id reader sees id as present, reading the way the layout's readers would. */
async function foundById(layout: Layout, main: string, id: string): Promise<boolean> {
  if (layout === 'read-helper') {
    const res = await es.mget<{ _shardline?: { deleted?: boolean } }>({ index: main, ids: [id] });
    return res.docs.some((d) => 'found' in d && d.found && d._source?._shardline?.deleted !== true);
  }
  return (await es.get({ index: main, id }, { ignore: [404] })).found;
}

/** Whether the main index holds a live (not tombstone) document for id: the row is back. */
async function liveStored(main: string, id: string): Promise<boolean> {
  const res = await es.get<{ _shardline?: { deleted?: boolean } }>({ index: main, id }, { ignore: [404] });
  return res.found && res._source?._shardline?.deleted !== true;
}

const chunks = <T>(xs: T[], n: number): T[][] => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));

async function measure(layout: Layout): Promise<Record<string, unknown>> {
  const { main, tombs } = await setUp(layout, '1h');
  const ids = Array.from({ length: N }, (_, i) => String(i + 1));
  const gone = ids.filter((_, i) => i % 2 === 0);
  const t0 = performance.now();
  for (const c of chunks(ids, BULK)) await writeInserts(layout, main, tombs, c, 1);
  for (const c of chunks(gone, BULK)) await writeDeletes(layout, main, tombs, c, 2);
  const seconds = (performance.now() - t0) / 1000;
  await es.indices.refresh({ index: [main, tombs] });
  const stats = await es.indices.stats({ index: main, metric: 'segments' });
  const versionMapBytes = stats._all.primaries?.segments?.version_map_memory_in_bytes ?? null;
  const storeStats = await es.indices.stats({ index: [main, tombs], metric: 'store' });
  const storeBytes = storeStats._all.primaries?.store?.size_in_bytes ?? null;
  const deletedFound = await foundById(layout, main, gone[0]!);
  const liveFound = await foundById(layout, main, ids[1]!);

  // A late replay of the version-1 insert after the delete: within gc_deletes, and after it.
  await writeInserts(layout, main, tombs, [gone[1]!], 1);
  const resurrectedWithinWindow = await liveStored(main, gone[1]!);
  await es.indices.putSettings({ index: [main, tombs], settings: { 'index.gc_deletes': '0s' } });
  await writeDeletes(layout, main, tombs, [ids[1]!], 3);
  await new Promise((r) => setTimeout(r, 1100));
  await es.indices.refresh({ index: [main, tombs] });
  await writeInserts(layout, main, tombs, [ids[1]!], 1);
  const resurrectedAfterWindow = await liveStored(main, ids[1]!);
  await es.indices.delete({ index: [main, tombs] });
  return {
    layout,
    docsPerSecond: Math.round((N + gone.length) / seconds),
    deletedFoundById: deletedFound,
    liveFoundById: liveFound,
    resurrectedWithinWindow,
    resurrectedAfterGcDeletes: resurrectedAfterWindow,
    versionMapBytesAfterDeletes: versionMapBytes,
    storeBytes,
  };
}

const results: Record<string, unknown>[] = [];
for (const layout of LAYOUTS) {
  const runs: Record<string, unknown>[] = [];
  for (let r = 0; r < 3; r++) runs.push(await measure(layout));
  const rates = runs.map((x) => x['docsPerSecond'] as number).sort((a, b) => a - b);
  const result = { ...runs[1]!, docsPerSecond: rates[1], docsPerSecondRange: [rates[0], rates[2]] };
  console.error(result);
  results.push(result);
}
await es.close();
process.stdout.write(`${JSON.stringify({ docs: N, deletes: N / 2, bulk: BULK, results })}\n`);
