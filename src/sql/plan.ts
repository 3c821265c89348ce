import { RoutingError } from '../errors/index.js';
import type { Topology } from '../shard/index.js';
import type { Analysis, KeySource } from './analysis.js';
import type { MergeSpec, RoutePlan, RouteTarget, SqlParam } from './route-plan.js';

/** Options that change routing. */
export interface PlanOptions {
  /** Allow a statement without a shard-key predicate to run on every shard. */
  scatter?: boolean;
  /** The statement must stay on this shard (`forUid`, transactions). */
  shard?: number;
  /** Why the statement is pinned, for error messages. */
  pinnedBy?: 'forUid' | 'transaction';
  /** Which instance serves broadcast-only reads (round-robin counter). */
  readInstance?: number;
  /** Subqueries per UNION ALL round trip. */
  unionChunk?: number;
}

const DEFAULT_UNION_CHUNK = 256;
const NO_OPTIONS: PlanOptions = {};
const SINGLE: MergeSpec = { kind: 'single' };
const SUM_AFFECTED: MergeSpec = { kind: 'sum-affected' };

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

function keyValue(source: KeySource, params: readonly SqlParam[]): unknown {
  return 'param' in source ? params[source.param] : source.literal;
}

function mergeFor(a: Analysis, params: readonly SqlParam[], multiShard: boolean): MergeSpec {
  if (a.write) return SUM_AFFECTED;
  if (!multiShard) return SINGLE;
  const shape = a.select!;
  if (shape.unmergeable) {
    throw new RoutingError('SQL_UNSUPPORTED', `${shape.unmergeable} is not supported yet: the statement touches several shards`, {
      details: { reason: shape.unmergeable },
    });
  }
  const limit = shape.limit === null ? null : 'value' in shape.limit ? shape.limit.value : Number(params[shape.limit.param]);
  if (limit !== null && (!Number.isInteger(limit) || limit < 0)) throw new RoutingError('SQL_UNSUPPORTED', `LIMIT must be a non-negative integer, got a ${typeof limit === 'number' && Number.isInteger(limit) ? 'negative integer' : 'non-integer'}`);
  if (shape.aggregates.some((x) => x !== null)) return { kind: 'aggregate', aggregates: shape.aggregates as NonNullable<(typeof shape.aggregates)[number]>[] };
  if (shape.orderBy.length > 0) return { kind: 'sorted', orderBy: shape.orderBy, limit };
  return { kind: 'concat', limit };
}

const quote = (name: string) => `\`${name.replace(/`/g, '``')}\``;

/** One UNION ALL round trip per instance (chunked), each part parenthesised. */
function unionTargets(a: Analysis, topology: Topology, shards: readonly number[], params: readonly SqlParam[], merge: MergeSpec, chunk: number): RouteTarget[] {
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
        targets.push({ instance, shards: part, sql: render(a, topology, part[0]!), params: [...params] });
        continue;
      }
      let sql = part.map((s) => `(${render(a, topology, s)})`).join(' UNION ALL ');
      if (merge.kind === 'sorted') {
        const order = merge.orderBy.map((o) => `${quote(o.column)}${o.desc ? ' DESC' : ''}`).join(', ');
        sql = `SELECT * FROM (${sql}) AS \`__shardline\` ORDER BY ${order}${merge.limit === null ? '' : ` LIMIT ${merge.limit}`}`;
      }
      targets.push({ instance, shards: part, sql, params: part.flatMap(() => params) });
    }
  }
  return targets;
}

function pinned(options: PlanOptions, shards: readonly number[], what: string): void {
  if (options.shard === undefined) return;
  const other = shards.find((s) => s !== options.shard);
  if (other !== undefined) {
    const code = options.pinnedBy === 'transaction' ? 'CROSS_SHARD_TRANSACTION' : 'SHARD_MISMATCH';
    throw new RoutingError(code, `${what} routes to shard ${other}, but this ${options.pinnedBy ?? 'session'} is bound to shard ${options.shard}`, {
      details: { expected: options.shard, found: other },
    });
  }
}

/**
 * The one shard on which every group of a statement with several independent sharded-table
 * groups (UNION branches, subqueries or joins not on the shard key) lands.
 * @throws {RoutingError} a group without a key predicate (unless pinned), or groups on different shards.
 */
function oneShardForGroups(a: Analysis, params: readonly SqlParam[], topology: Topology, options: PlanOptions): number {
  let shard: number | undefined;
  const found: string[] = [];
  for (const g of a.groups) {
    let shards: number[];
    if (g.pin) shards = [...new Set(g.pin.values.map((v) => topology.shardOf(keyValue(v, params))))].sort((x, y) => x - y);
    else if (options.shard !== undefined) shards = [options.shard];
    else {
      throw new RoutingError(
        'SHARD_KEY_MISSING',
        `no shard-key predicate for sharded table ${g.table} in one part of the statement (a UNION branch, subquery or derived table, or a join not on ${g.column}): every part that reads a sharded table needs its own \`${g.column} = ?\` or \`${g.column} IN (…)\`, or a join on ${g.column} to a part that has one; scatter cannot run such statements`,
        { details: { table: g.table, column: g.column } },
      );
    }
    found.push(`${g.table} → ${shards.join(',')}`);
    if (shards.length !== 1 || (shard !== undefined && shards[0] !== shard)) {
      throw new RoutingError(
        'SQL_UNSUPPORTED',
        `the parts of the statement that read sharded tables route to different shards (${found.join('; ')}): UNION branches, subqueries and joins not on the shard key must all land on one shard; run them as separate queries`,
        { details: { shards: found } },
      );
    }
    shard = shards[0]!;
  }
  pinned(options, [shard!], `${a.groups[0]!.column} = …`);
  return shard!;
}

/**
 * Turns an analysis and its parameters into a plan: the shards, one physical statement per
 * round trip, and how results merge.
 *
 * @throws {RoutingError} no shard key without `scatter`, a statement leaving its pinned shard,
 * an unmergeable multi-shard SELECT, wrong placeholder count.
 * @throws {InvalidUidError} a shard-key value that is not a UID.
 */
export function plan(a: Analysis, params: readonly SqlParam[], topology: Topology, options: PlanOptions = NO_OPTIONS): RoutePlan {
  if (params.length !== a.paramCount) {
    throw new RoutingError('SQL_PARAM_COUNT', `the SQL has ${a.paramCount} placeholder(s) but ${params.length} value(s) were given`);
  }
  if (a.key !== null && a.key.values.length === 1) {
    const shard = topology.shardOf(keyValue(a.key.values[0]!, params));
    if (options.shard !== undefined && options.shard !== shard) pinned(options, [shard], `${a.key.column} = …`);
    const shards = [shard];
    return {
      kind: 'single',
      statement: a.statement,
      write: a.write,
      fanOut: false,
      shards,
      targets: [{ instance: topology.map.instanceOf(shard), shards, sql: render(a, topology, shard), params: params as SqlParam[] }],
      merge: a.write ? SUM_AFFECTED : SINGLE,
    };
  }
  const chunk = options.unionChunk ?? DEFAULT_UNION_CHUNK;
  const base = { statement: a.statement, write: a.write, fanOut: false };
  if (a.groups.length > 1) {
    const shard = oneShardForGroups(a, params, topology, options);
    return { ...base, kind: 'single', shards: [shard], targets: [{ instance: topology.map.instanceOf(shard), shards: [shard], sql: render(a, topology, shard), params: [...params] }], merge: mergeFor(a, params, false) };
  }

  if (a.shardedTables.length === 0) {
    if (options.shard !== undefined) {
      if (a.write) throw new RoutingError(options.pinnedBy === 'transaction' ? 'CROSS_SHARD_TRANSACTION' : 'SQL_UNSUPPORTED', 'writes to broadcast tables go to every instance: run them with router.query, outside a shard session or transaction');
      const instance = topology.map.instanceOf(options.shard);
      return { ...base, kind: 'single', shards: [options.shard], targets: [{ instance, shards: [], sql: render(a, topology, options.shard), params: [...params] }], merge: mergeFor(a, params, false) };
    }
    const instances = topology.map.instances;
    const chosen = a.write ? instances : [instances[(options.readInstance ?? 0) % instances.length]!];
    return {
      ...base,
      kind: 'broadcast',
      fanOut: a.write,
      shards: [],
      targets: chosen.map((instance) => ({ instance, shards: [], sql: render(a, topology, 0), params: [...params] })),
      merge: a.write ? { kind: 'sum-affected' } : { kind: 'single' },
    };
  }

  if (a.insert) {
    const ins = a.insert;
    const byShard = new Map<number, number[]>();
    ins.rows.forEach((row, i) => {
      const shard = topology.shardOf(keyValue(row.key, params));
      let list = byShard.get(shard);
      if (!list) byShard.set(shard, (list = []));
      list.push(i);
    });
    const shards = [...byShard.keys()].sort((x, y) => x - y);
    pinned(options, shards, 'an INSERT row');
    const before = params.slice(0, ins.paramsBefore);
    const after = params.slice(ins.paramsAfter);
    const targets = shards.map((shard) => {
      const rows = byShard.get(shard)!;
      if (rows.length === ins.rows.length) return { instance: topology.map.instanceOf(shard), shards: [shard], sql: render(a, topology, shard), params: [...params] };
      const tuples = rows.map((r) => a.sql.slice(ins.rows[r]!.start, ins.rows[r]!.end)).join(', ');
      const rowParams = rows.flatMap((r) => {
        const row = ins.rows[r]!;
        return row.paramCount ? params.slice(row.firstParam, row.firstParam + row.paramCount) : [];
      });
      return {
        instance: topology.map.instanceOf(shard),
        shards: [shard],
        sql: render(a, topology, shard, 0, ins.start) + tuples + render(a, topology, shard, ins.end),
        params: [...before, ...rowParams, ...after],
      };
    });
    return { ...base, kind: shards.length === 1 ? 'single' : 'multi', shards, targets, merge: { kind: 'sum-affected' } };
  }

  let shards: number[];
  let kind: RoutePlan['kind'];
  if (a.key) {
    shards = [...new Set(a.key.values.map((v) => topology.shardOf(keyValue(v, params))))].sort((x, y) => x - y);
    pinned(options, shards, `${a.key.column} = …`);
    kind = shards.length === 1 ? 'single' : 'multi';
  } else if (options.shard !== undefined) {
    shards = [options.shard];
    kind = 'single';
  } else if (options.scatter) {
    shards = Array.from({ length: topology.shardCount }, (_, i) => i);
    kind = 'scatter';
  } else {
    const table = a.shardedTables[0]!;
    const column = (topology.table(table) as { shardKey: string }).shardKey;
    throw new RoutingError(
      'SHARD_KEY_MISSING',
      `no shard-key predicate on sharded table ${table}: add \`${column} = ?\` or \`${column} IN (…)\` to the WHERE clause, or pass { scatter: true } to run on all ${topology.shardCount} shards`,
      { details: { table, column } },
    );
  }

  if (shards.length > 1 && a.perShardBlocker) {
    throw new RoutingError('SQL_UNSUPPORTED', `${a.perShardBlocker} cannot run on several shards and be merged: the statement touches ${shards.length} shards`, {
      details: { reason: a.perShardBlocker },
    });
  }
  const merge = mergeFor(a, params, shards.length > 1);
  if (shards.length === 1) {
    const shard = shards[0]!;
    return { ...base, kind, shards, targets: [{ instance: topology.map.instanceOf(shard), shards, sql: render(a, topology, shard), params: [...params] }], merge };
  }
  if (a.write) {
    const targets = shards.map((shard) => ({ instance: topology.map.instanceOf(shard), shards: [shard], sql: render(a, topology, shard), params: [...params] }));
    return { ...base, kind, shards, targets, merge };
  }
  return { ...base, kind, shards, targets: unionTargets(a, topology, shards, params, merge, chunk), merge };
}
