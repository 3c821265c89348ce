import { RoutingError } from '../errors/index.js';
import type { FieldInfo } from '../net/index.js';
import { compareRational, toRational, type Rational } from './sql-rational.js';

/** VARCHAR, TEXT/BLOB, VAR_STRING, STRING: text when mysql2 hands a JS string (binary strings arrive as Buffers). */
const TEXT_TYPES = new Set([15, 252, 253, 254]);
/** DECIMAL, NEWDECIMAL: exact text. */
const DECIMAL_TYPES = new Set([0, 246]);
const ENUM_OR_SET = 256 | 2048;

/** A value as it orders: null (first), a collation weight or bytes, an exact number, or text compared by code unit. */
export type OrderKey = null | Buffer | Rational | string;

/** Whether a column's values order by their collation weight (nonbinary text). */
export function isCollatedText(value: unknown, field: FieldInfo | undefined): boolean {
  return typeof value === 'string' && field !== undefined && TEXT_TYPES.has(field.type);
}

/**
 * How a value orders across shards: nonbinary text by its `WEIGHT_STRING` in the column's
 * collation (as the server orders it), numbers and DECIMAL texts exactly, bytes bytewise,
 * temporal text as text.
 * @throws {RoutingError} `SQL_UNSUPPORTED` for ENUM/SET columns (MySQL orders them by index).
 */
export function orderKey(value: unknown, weight: unknown, field: FieldInfo | undefined): OrderKey {
  if (value === null || value === undefined) return null;
  if (isCollatedText(value, field)) {
    if ((field!.flags ?? 0) & ENUM_OR_SET)
      throw new RoutingError('SQL_UNSUPPORTED', `ORDER BY the ENUM/SET column ${field!.name} across shards (MySQL orders it by index)`);
    if (!Buffer.isBuffer(weight)) throw new TypeError(`no collation weight for ${field!.name}`);
    return weight;
  }
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'bigint' || typeof value === 'number') return toRational(value);
  if (typeof value === 'string' && field && DECIMAL_TYPES.has(field.type)) return toRational(value);
  return typeof value === 'string' ? value : String(value);
}

/** Orders two keys of one column, NULL first (MySQL's ascending order). */
export function compareOrderKeys(a: OrderKey, b: OrderKey): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return Buffer.compare(a, b);
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'object' && typeof b === 'object' && !Buffer.isBuffer(a) && !Buffer.isBuffer(b)) return compareRational(a, b);
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The identity of a group-key value: its weight for text (collation-equal values are one group). */
export function groupIdentity(value: unknown, weight: unknown, field: FieldInfo | undefined): string {
  if (value === null || value === undefined) return 'N';
  if (isCollatedText(value, field) && Buffer.isBuffer(weight)) return `w${weight.toString('hex')}`;
  if (Buffer.isBuffer(value)) return `b${value.toString('hex')}`;
  return `${typeof value}:${String(value)}`;
}

/**
 * Tracks the collation of every text value that orders or groups a cross-shard merge: weights of
 * two collations do not compare (MySQL 8 defaults to utf8mb4_0900_ai_ci, MariaDB to
 * utf8mb4_general_ci), so values of a second collation fail the statement.
 */
export class OneCollation {
  private readonly seen = new Map<string, string>();

  /**
   * @param column the collation column (`__shardline_…c<i>`); `value` its value (`binary` and NULL pass).
   * @throws {RoutingError} `SQL_UNSUPPORTED` naming both collations.
   */
  check(column: string, value: unknown, label: string): void {
    if (typeof value !== 'string' || value === 'binary') return;
    const first = this.seen.get(column);
    if (first === undefined) this.seen.set(column, value);
    else if (first !== value)
      throw new RoutingError(
        'SQL_UNSUPPORTED',
        `${label} has collation ${first} on one shard and ${value} on another: their orders differ, so the router cannot merge them; add COLLATE with a collation every server has (e.g. utf8mb4_general_ci or utf8mb4_bin)`,
        { details: { column: label, collations: [first, value] } },
      );
  }
}

/** An ORDER BY item of a sorted merge (structurally `SortItem` of sql/). */
interface SortItemLike {
  column: string;
  desc: boolean;
  weight: string;
  collation: string;
}

/**
 * How rows of a sorted cross-shard merge order: their keys (by collation weight, one collation
 * checked across all rows), the comparison with DESC applied, and the row without the hidden
 * weight and collation columns. Shared by the buffered and the streamed k-way merge.
 */
export function rowOrder(orderBy: readonly SortItemLike[]) {
  const one = new OneCollation();
  const hidden = orderBy.flatMap((o) => [o.weight, o.collation]);
  return {
    keys(row: Record<string, unknown>, fieldOf: (name: string) => FieldInfo | undefined): OrderKey[] {
      return orderBy.map((o) => {
        one.check(o.collation, row[o.collation], o.column);
        return orderKey(row[o.column], row[o.weight], fieldOf(o.column));
      });
    },
    compare(a: readonly OrderKey[], b: readonly OrderKey[]): number {
      for (let i = 0; i < orderBy.length; i++) {
        const c = compareOrderKeys(a[i]!, b[i]!);
        if (c !== 0) return orderBy[i]!.desc ? -c : c;
      }
      return 0;
    },
    visible<R extends Record<string, unknown>>(row: R): R {
      if (hidden.length === 0 || !(hidden[0]! in row)) return row;
      const out: Record<string, unknown> = {};
      for (const k in row) if (!hidden.includes(k)) out[k] = row[k];
      return out as R;
    },
  };
}
