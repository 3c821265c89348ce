import { RoutingError } from '../errors/index.js';
import type { Analysis } from './analysis.js';
import { DEFAULT_MAX_GROUPS, DEFAULT_MAX_OFFSET, type PlanOptions } from './route-options.js';
import type { MergeSpec, SqlParam } from './route-plan.js';
import { PARTIAL_PREFIX, type CountSource } from './scatter-spec.js';

/** The result of one round trip, as is. */
export const SINGLE: MergeSpec = { kind: 'single' };
/** Affected-row counts of every round trip, added up. */
export const SUM_AFFECTED: MergeSpec = { kind: 'sum-affected' };

function count(source: CountSource | null, params: readonly SqlParam[], what: 'LIMIT' | 'OFFSET'): number | null {
  if (source === null) return null;
  const n = 'value' in source ? source.value : Number(params[source.param]);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RoutingError(
      'SQL_UNSUPPORTED',
      `${what} must be a non-negative integer, got a ${Number.isInteger(n) ? 'negative or too large integer' : 'non-integer'}`,
    );
  return n;
}

/**
 * How the results of a statement's round trips merge: writes add affected rows, a one-shard read
 * is taken as is, a multi-shard read is concatenated (with its LIMIT), k-way merged by collation
 * weights (ORDER BY, OFFSET) or folded from partial groups (GROUP BY, DISTINCT, aggregates).
 * @throws {RoutingError} `SQL_UNSUPPORTED`: a multi-shard SELECT that cannot be merged, a LIMIT
 * or OFFSET that is not a non-negative integer, an OFFSET over `maxOffset`.
 */
export function mergeFor(a: Analysis, params: readonly SqlParam[], multiShard: boolean, options: PlanOptions = {}): MergeSpec {
  if (a.write) return SUM_AFFECTED;
  if (!multiShard) return SINGLE;
  const shape = a.select!;
  if (shape.unmergeable) {
    throw new RoutingError('SQL_UNSUPPORTED', `${shape.unmergeable} is not supported yet: the statement touches several shards`, {
      details: { reason: shape.unmergeable },
    });
  }
  const rewrite = shape.rewrite;
  if (!rewrite) return { kind: 'concat', limit: count(shape.limit, params, 'LIMIT') };
  const limit = count(rewrite.spec.limit, params, 'LIMIT');
  const offset = count(rewrite.spec.offset, params, 'OFFSET') ?? 0;
  const maxOffset = options.maxOffset ?? DEFAULT_MAX_OFFSET;
  if (offset > maxOffset)
    throw new RoutingError(
      'SQL_UNSUPPORTED',
      `OFFSET ${offset} across shards is over router.scatter.maxOffset (${maxOffset}): every shard would return ${offset} rows more; page with a keyset condition instead (WHERE key > ? ORDER BY key LIMIT n)`,
      { details: { offset, maxOffset } },
    );
  if (rewrite.spec.kind === 'sorted') {
    const orderBy = rewrite.spec.orderBy.map((o, i) => ({ ...o, weight: `${PARTIAL_PREFIX}w${i}`, collation: `${PARTIAL_PREFIX}c${i}` }));
    return { kind: 'sorted', orderBy, limit, offset };
  }
  return { kind: 'grouped', spec: rewrite.spec, params: [...params], limit, offset, maxGroups: options.maxGroups ?? DEFAULT_MAX_GROUPS };
}
