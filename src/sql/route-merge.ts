import { RoutingError } from '../errors/index.js';
import type { Analysis } from './analysis.js';
import type { MergeSpec, SqlParam } from './route-plan.js';

/** The result of one round trip, as is. */
export const SINGLE: MergeSpec = { kind: 'single' };
/** Affected-row counts of every round trip, added up. */
export const SUM_AFFECTED: MergeSpec = { kind: 'sum-affected' };

/**
 * How the results of a statement's round trips merge: writes add affected rows, a one-shard read
 * is taken as is, a multi-shard read is aggregated, k-way sorted or concatenated (with its LIMIT).
 * @throws {RoutingError} `SQL_UNSUPPORTED`: a multi-shard SELECT that cannot be merged, or a LIMIT
 * that is not a non-negative integer.
 */
export function mergeFor(a: Analysis, params: readonly SqlParam[], multiShard: boolean): MergeSpec {
  if (a.write) return SUM_AFFECTED;
  if (!multiShard) return SINGLE;
  const shape = a.select!;
  if (shape.unmergeable) {
    throw new RoutingError('SQL_UNSUPPORTED', `${shape.unmergeable} is not supported yet: the statement touches several shards`, {
      details: { reason: shape.unmergeable },
    });
  }
  const limit = shape.limit === null ? null : 'value' in shape.limit ? shape.limit.value : Number(params[shape.limit.param]);
  if (limit !== null && (!Number.isInteger(limit) || limit < 0))
    throw new RoutingError(
      'SQL_UNSUPPORTED',
      `LIMIT must be a non-negative integer, got a ${typeof limit === 'number' && Number.isInteger(limit) ? 'negative integer' : 'non-integer'}`,
    );
  if (shape.aggregates.some((x) => x !== null))
    return { kind: 'aggregate', aggregates: shape.aggregates as NonNullable<(typeof shape.aggregates)[number]>[] };
  if (shape.orderBy.length > 0) return { kind: 'sorted', orderBy: shape.orderBy, limit };
  return { kind: 'concat', limit };
}
