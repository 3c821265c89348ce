import type { Topology } from '../shard/index.js';
import type { Analysis } from './analysis.js';
import type { RouteTarget, SqlParam } from './route-plan.js';

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
