import { Client } from '@elastic/elasticsearch';
import type { Router } from '../../src/index.js';
import { archiveSession } from './archive-session.js';
import type { CdcClusterConfig } from '../../src/config/index.js';

type Row = Record<string, unknown>;

/** Rows keyed by their primary key text. */
export type Keyed = Map<string, Row>;

const keyOf = (row: Row, pk: readonly string[]) => (pk.length === 1 ? String(row[pk[0]!]) : JSON.stringify(pk.map((c) => String(row[c]))));

/** Source rows of a logical table in a uid range, through the router (canonical: BIGINT/DECIMAL as text, DATETIME as SELECT text). */
export async function sourceRows(router: Router, table: string, pk: readonly string[], from: bigint, to: bigint): Promise<Keyed> {
  const rows = (await router.query(`SELECT * FROM ${table} WHERE uid BETWEEN ? AND ?`, [from, to], { scatter: true })) as Row[];
  return new Map(rows.map((r) => [keyOf(r, pk), r]));
}

/** Documents of an index or alias (shardline's alias hides tombstones), by _id, with shardline's own `_…` fields removed; none while it does not exist. */
export async function esDocs(node: string, index: string, uidFrom: bigint, uidTo: bigint): Promise<Keyed> {
  const es = new Client({ node });
  try {
    await es.indices.refresh({ index }).catch(() => undefined);
    const out: Keyed = new Map();
    if (uidTo - uidFrom > 60_000n) throw new RangeError('uid range too wide for a terms query');
    const uids: string[] = [];
    for (let u = uidFrom; u <= uidTo; u++) uids.push(u.toString());
    const res = await es
      .search<Row>({ index, size: 10_000, track_total_hits: true, query: { terms: { uid: uids } } })
      .catch((err: { meta?: { statusCode?: number } }) => {
        if (err.meta?.statusCode === 404) return null; // the sink has not created it yet: no documents
        throw err;
      });
    if (res === null) return out;
    const total = typeof res.hits.total === 'number' ? res.hits.total : (res.hits.total?.value ?? 0);
    if (total > 10_000) throw new Error(`${index} has ${total} matching documents: more than this helper reads`);
    for (const h of res.hits.hits) {
      const doc = strip(h._source ?? {});
      const uid = BigInt(String(doc['uid']));
      if (uid >= uidFrom && uid <= uidTo) out.set(h._id!, doc);
    }
    return out;
  } finally {
    await es.close();
  }
}

/**
 * Every document of an index or alias in a uid range, however many: a point-in-time scan in pages
 * of 10,000 (`_shard_doc` order), filtered by uid on the client.
 */
export async function esAllDocs(node: string, index: string, uidFrom: bigint, uidTo: bigint): Promise<Keyed> {
  const es = new Client({ node, requestTimeout: 120_000 });
  try {
    await es.indices.refresh({ index }).catch(() => undefined);
    const out: Keyed = new Map();
    const pit = await es.openPointInTime({ index, keep_alive: '2m' });
    try {
      let after: (string | number)[] | undefined;
      for (;;) {
        const res = await es.search<Row>({
          size: 10_000,
          pit: { id: pit.id, keep_alive: '2m' },
          sort: ['_shard_doc'],
          ...(after ? { search_after: after } : {}),
          track_total_hits: false,
        });
        const hits = res.hits.hits;
        if (hits.length === 0) break;
        for (const h of hits) {
          const doc = strip(h._source ?? {});
          const uid = BigInt(String(doc['uid']));
          if (uid >= uidFrom && uid <= uidTo) out.set(h._id!, doc);
        }
        after = hits[hits.length - 1]!.sort as (string | number)[];
      }
    } finally {
      await es.closePointInTime({ id: pit.id }).catch(() => undefined);
    }
    return out;
  } finally {
    await es.close();
  }
}

/** Archive rows (all, incl. deleted) in a uid range. */
export async function archiveRows(
  config: CdcClusterConfig,
  database: string,
  table: string,
  pk: readonly string[],
  from: bigint,
  to: bigint,
): Promise<{ live: Keyed; deleted: Set<string> }> {
  const s = await archiveSession(config.archive);
  try {
    const rows = await s.query<Row>(`SELECT * FROM \`${database}\`.\`${table}\` WHERE uid BETWEEN ? AND ?`, [
      from.toString(),
      to.toString(),
    ]);
    const live: Keyed = new Map();
    const deleted = new Set<string>();
    for (const r of rows) {
      const k = keyOf(r, pk);
      if (Number(r['_deleted']) === 1) deleted.add(k);
      else live.set(k, strip(r));
    }
    return { live, deleted };
  } catch (err) {
    const errno = (err as { errno?: number }).errno;
    if (errno === 1146 || errno === 1049) return { live: new Map(), deleted: new Set() };
    throw err;
  } finally {
    await s.close();
  }
}

function strip(row: Row): Row {
  return Object.fromEntries(Object.entries(row).filter(([k]) => !k.startsWith('_')));
}

/** Differences between two keyed row sets (empty when equal), as readable lines. */
export function diff(expected: Keyed, actual: Keyed, what: string, limit = 10): string[] {
  const out: string[] = [];
  for (const [k, row] of expected) {
    const other = actual.get(k);
    if (!other) out.push(`${what}: missing ${k}`);
    else {
      for (const [c, v] of Object.entries(row))
        if (String(other[c] ?? null) !== String(v ?? null))
          out.push(`${what}: ${k}.${c} = ${JSON.stringify(other[c])}, source ${JSON.stringify(v)}`);
    }
    if (out.length >= limit) return out;
  }
  for (const k of actual.keys()) if (!expected.has(k)) out.push(`${what}: unexpected ${k}`);
  return out.slice(0, limit);
}

/**
 * What the archive and Elasticsearch hold for the `users` keys named in `problems` (their stored
 * versions and flags): printed with a failed comparison so that a stale archive row can be told
 * apart from a missed record (lower `_version` than Elasticsearch's) or an equal-version overwrite.
 */
export async function explainUsers(
  config: CdcClusterConfig,
  database: string,
  esIndex: string,
  problems: readonly string[],
): Promise<string[]> {
  const keys = [...new Set(problems.map((p) => /users: (\d+)[.\s]/.exec(p)?.[1]).filter((k): k is string => !!k))].slice(0, 10);
  if (keys.length === 0) return [];
  const s = await archiveSession(config.archive);
  const es = new Client({ node: config.elasticsearch.node });
  const out: string[] = [];
  try {
    for (const k of keys) {
      const rows = await s
        .query<Row>(`SELECT name, _version, _deleted, _archived, _shard FROM \`${database}\`.\`users\` WHERE uid = ?`, [k])
        .catch((e: Error) => [{ error: e.message }] as Row[]);
      const doc = await es
        .get<Row>({ index: esIndex, id: k })
        .then((d) => ({ version: d._version, name: d._source?.['name'] }))
        .catch((e: Error) => ({ error: e.message.slice(0, 100) }));
      out.push(`key ${k}: archive ${JSON.stringify(rows[0] ?? null)} es ${JSON.stringify(doc)}`);
    }
  } finally {
    await s.close();
    await es.close();
  }
  return out;
}
