import type { Topology } from '../shard/index.js';
import type { Analysis } from './analysis.js';
import type { MergeSpec, RouteTarget, SqlParam } from './route-plan.js';
import type { GroupedSpec } from './scatter-spec.js';
import { inListOwners, shardStatement, type InListOwners } from './route-render.js';

const quote = (name: string) => `\`${name.replace(/`/g, '``')}\``;

/**
 * A multi-shard read as one UNION ALL round trip per instance (in chunks of at most `chunk`
 * shards), each part parenthesised and given its own values (the shard-key IN list pruned to the
 * part's shard: see {@link shardStatement}); a sorted merge wraps
 * each round trip in ORDER BY (and LIMIT) so the instance returns a sorted run; a grouped merge
 * folds the round trip's partial groups on the instance (see {@link regroup}). `suffix` (a
 * LIMIT computed by the plan, never user text) ends each part. `owners` of `a`'s IN list, when
 * the caller has them.
 */
export function unionTargets(
  a: Analysis,
  topology: Topology,
  shards: readonly number[],
  params: readonly SqlParam[],
  merge: MergeSpec,
  chunk: number,
  suffix: string,
  owners: InListOwners | null = inListOwners(a, params, topology),
): RouteTarget[] {
  const byInstance = new Map<string, number[]>();
  for (const s of shards) {
    const inst = topology.map.instanceOf(s);
    let list = byInstance.get(inst);
    if (!list) byInstance.set(inst, (list = []));
    list.push(s);
  }
  const targets: RouteTarget[] = [];
  for (const [instance, list] of byInstance) {
    for (let i = 0; i < list.length; i += chunk) {
      const part = list.slice(i, i + chunk);
      if (part.length === 1) {
        const one = shardStatement(a, topology, part[0]!, params, owners);
        targets.push({ instance, shards: part, sql: one.sql + suffix, params: one.params });
        continue;
      }
      const statements = part.map((s) => shardStatement(a, topology, s, params, owners));
      let sql = statements.map((st) => `(${st.sql}${suffix})`).join(' UNION ALL ');
      if (merge.kind === 'sorted' && merge.orderBy.length > 0) {
        const order = merge.orderBy.map((o) => `${o.byWeight ? o.weight : quote(o.column)}${o.desc ? ' DESC' : ''}`).join(', ');
        sql = `SELECT * FROM (${sql}) AS \`__shardline\` ORDER BY ${order}${merge.limit === null ? '' : ` LIMIT ${merge.limit + merge.offset}`}`;
      }
      if (merge.kind === 'grouped') sql = regroup(sql, merge.spec);
      targets.push({ instance, shards: part, sql, params: statements.flatMap((st) => st.params) });
    }
  }
  return targets;
}

/**
 * Folds the partial groups of one round trip's shards on the instance (one row per group instead
 * of one per group and shard): group keys and COUNT(DISTINCT …) arguments stay keys, COUNT and
 * SUM partials add up, MIN/MAX take their extreme and recompute its weight and collation.
 */
function regroup(union: string, spec: GroupedSpec): string {
  const P = spec.prefix;
  const keys = [
    ...Array.from({ length: spec.keys }, (_, i) => [`${P}g${i}`, `${P}gw${i}`, `${P}gc${i}`]),
    ...Array.from({ length: spec.distincts }, (_, i) => [`${P}d${i}`, `${P}dw${i}`, `${P}dc${i}`]),
  ].flat();
  const folded = spec.partials.map((fn, i) => {
    const a = `${P}a${i}`;
    if (fn === 'count') return `CAST(SUM(${a}) AS SIGNED) AS ${a}`;
    if (fn === 'sum') return `SUM(${a}) AS ${a}`;
    const m = `${fn.toUpperCase()}(${a})`;
    return `${m} AS ${a}, CAST(WEIGHT_STRING(${m}) AS BINARY) AS ${P}aw${i}, COLLATION(${m}) AS ${P}ac${i}`;
  });
  const columns = [...keys, ...folded].join(', ');
  return `SELECT ${columns} FROM (${union}) AS \`__shardline\`${keys.length ? ` GROUP BY ${keys.join(', ')}` : ''}`;
}
