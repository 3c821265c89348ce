import type { Topology } from '../shard/index.js';
import type { Analysis } from './analysis.js';
import type { RouteTarget, SqlParam } from './route-plan.js';
import { keyValue } from './route-shards.js';

/** Physical SQL of [from, to) of the analysed text for one shard. */
export function render(a: Analysis, topology: Topology, shard: number, from = 0, to = a.sql.length): string {
  if (from === 0 && to === a.sql.length) {
    let out = a.pieces[0]!;
    for (let i = 0; i < a.splices.length; i++) {
      const s = a.splices[i]!;
      out += (s.kind === 'sharded' ? topology.names.qualified(s.table, shard) : topology.names.broadcast(s.table)) + a.pieces[i + 1]!;
    }
    return out;
  }
  let out = '';
  let at = from;
  for (const s of a.splices) {
    if (s.start < from || s.end > to) continue;
    out += a.sql.slice(at, s.start) + (s.kind === 'sharded' ? topology.names.qualified(s.table, shard) : topology.names.broadcast(s.table));
    at = s.end;
  }
  return out + a.sql.slice(at, to);
}

/** The one round trip that runs the whole statement on `shard`, with a copy of its values. */
export function shardTarget(a: Analysis, topology: Topology, shard: number, params: readonly SqlParam[]): RouteTarget {
  return { instance: topology.map.instanceOf(shard), shards: [shard], sql: render(a, topology, shard), params: [...params] };
}

/** Which items of the key's IN list each shard owns, and the range of the values the list's placeholders take. */
export interface InListOwners {
  byShard: Map<number, number[]>;
  /** Index of the list's first placeholder value and one past its last (equal: the list has none). */
  lo: number;
  hi: number;
}

/**
 * The items of the shard-key IN list by the shard each value hashes to, when the list can be
 * pruned per shard (see {@link InListText}); null when the statement has no such list.
 * @throws {InvalidUidError} a value that is not a UID (routing has checked them already).
 */
export function inListOwners(a: Analysis, params: readonly SqlParam[], topology: Topology): InListOwners | null {
  const key = a.key;
  if (!key?.list) return null;
  const byShard = new Map<number, number[]>();
  let lo = Infinity;
  let hi = -Infinity;
  key.values.forEach((v, i) => {
    const shard = topology.shardOfKey(key.table, keyValue(v, params));
    let items = byShard.get(shard);
    if (!items) byShard.set(shard, (items = []));
    items.push(i);
    if ('param' in v) {
      lo = Math.min(lo, v.param);
      hi = Math.max(hi, v.param + 1);
    }
  });
  return lo === Infinity ? { byShard, lo: 0, hi: 0 } : { byShard, lo, hi };
}

/**
 * One shard's statement of a multi-shard plan and its values: the shard-key IN list keeps only
 * the items that hash to `shard` (their placeholders' values with them), so n values over n
 * shards send n items, not n². Without `owners` (or for a shard that owns no item) the whole
 * statement, as {@link render}.
 */
export function shardStatement(
  a: Analysis,
  topology: Topology,
  shard: number,
  params: readonly SqlParam[],
  owners: InListOwners | null,
): { sql: string; params: SqlParam[] } {
  const key = a.key;
  const list = key?.list;
  const mine = owners?.byShard.get(shard);
  if (!owners || !key || !list || !mine || mine.length === key.values.length)
    return { sql: render(a, topology, shard), params: [...params] };
  let text = '';
  const own: SqlParam[] = [];
  for (const i of mine) {
    const item = list.items[i]!;
    text += (text ? ', ' : '') + a.sql.slice(item.start, item.end);
    const v = key.values[i]!;
    if ('param' in v) own.push(params[v.param]!);
  }
  const sql = render(a, topology, shard, 0, list.start) + text + render(a, topology, shard, list.end);
  if (owners.lo === owners.hi) return { sql, params: [...params] };
  const values = params.slice(0, owners.lo);
  for (const p of own) values.push(p);
  for (let i = owners.hi; i < params.length; i++) values.push(params[i]!);
  return { sql, params: values };
}
