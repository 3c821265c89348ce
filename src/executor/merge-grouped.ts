import { RoutingError } from '../errors/index.js';
import type { FieldInfo, QueryOutcome, Row } from '../net/index.js';
import type { GroupValue, GroupedSpec, HavingExpr, SqlParam } from '../sql/index.js';
import { compareOrderKeys, OneCollation, groupIdentity, orderKey, type OrderKey } from './collation-order.js';
import { addDecimal } from './decimal.js';
import { arithmetic, compareRational, divideDecimal, scaleOf, toRational, type Rational } from './sql-rational.js';

type RowsOutcome = Extract<QueryOutcome, { kind: 'rows' }>;

/** The plan-time bounds of a grouped merge. */
export interface GroupedBounds {
  limit: number | null;
  offset: number;
  /** Groups plus distinct values held at once; past it the statement fails with SCATTER_TOO_LARGE. */
  maxGroups: number;
}

interface Group {
  keys: unknown[];
  keyWeights: unknown[];
  acc: unknown[];
  accWeights: unknown[];
  distinct: Map<string, true>[];
}

/** DIV_PRECISION_INCREMENT's default: AVG of exact numbers has 4 more digits than their SUM. */
const AVG_EXTRA_SCALE = 4;

function add(a: unknown, b: unknown): unknown {
  if (a === null || a === undefined) return b ?? null;
  if (b === null || b === undefined) return a;
  if (typeof a === 'bigint' && typeof b === 'bigint') return a + b;
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  return addDecimal(String(a), String(b));
}

class GroupFolder {
  readonly groups = new Map<string, Group>();
  private held = 0;
  private readonly one = new OneCollation();
  private readonly P: string;
  private readonly field = new Map<string, FieldInfo>();

  constructor(
    private readonly spec: GroupedSpec,
    private readonly maxGroups: number,
  ) {
    this.P = spec.prefix;
  }

  fieldOf(name: string): FieldInfo | undefined {
    return this.field.get(name);
  }

  addFields(fields: readonly FieldInfo[]): void {
    for (const f of fields) if (!this.field.has(f.name)) this.field.set(f.name, f);
  }

  private hold(): void {
    if (++this.held > this.maxGroups)
      throw new RoutingError(
        'SCATTER_TOO_LARGE',
        `the cross-shard merge holds more than router.scatter.maxGroups (${this.maxGroups}) groups and distinct values: narrow the WHERE clause or aggregate on the archive`,
        { details: { maxGroups: this.maxGroups } },
      );
  }

  add(row: Row): void {
    const { spec } = this;
    const parts: string[] = [];
    for (let i = 0; i < spec.keys; i++) this.one.check(`${this.P}gc${i}`, row[`${this.P}gc${i}`], `GROUP BY item ${i + 1}`);
    for (let i = 0; i < spec.distincts; i++)
      this.one.check(`${this.P}dc${i}`, row[`${this.P}dc${i}`], `COUNT(DISTINCT …) argument ${i + 1}`);
    for (let i = 0; i < spec.keys; i++)
      parts.push(groupIdentity(row[`${this.P}g${i}`], row[`${this.P}gw${i}`], this.field.get(`${this.P}g${i}`)));
    const id = parts.join('\u0000');
    let g = this.groups.get(id);
    if (!g) {
      this.hold();
      g = {
        keys: Array.from({ length: spec.keys }, (_, i) => row[`${this.P}g${i}`]),
        keyWeights: Array.from({ length: spec.keys }, (_, i) => row[`${this.P}gw${i}`]),
        acc: spec.partials.map(() => null),
        accWeights: spec.partials.map(() => null),
        distinct: Array.from({ length: spec.distincts }, () => new Map<string, true>()),
      };
      this.groups.set(id, g);
    }
    for (let i = 0; i < spec.distincts; i++) {
      const v = row[`${this.P}d${i}`];
      if (v === null || v === undefined) continue;
      const key = groupIdentity(v, row[`${this.P}dw${i}`], this.field.get(`${this.P}d${i}`));
      if (!g.distinct[i]!.has(key)) {
        this.hold();
        g.distinct[i]!.set(key, true);
      }
    }
    spec.partials.forEach((fn, i) => {
      const v = row[`${this.P}a${i}`];
      if (fn === 'count' || fn === 'sum') {
        g.acc[i] = add(g.acc[i], v);
        return;
      }
      if (v === null || v === undefined) return;
      const w = row[`${this.P}aw${i}`];
      this.one.check(`${this.P}ac${i}`, row[`${this.P}ac${i}`], `${fn.toUpperCase()}() argument`);
      const f = this.field.get(`${this.P}a${i}`);
      if (g.acc[i] === null) {
        g.acc[i] = v;
        g.accWeights[i] = w;
        return;
      }
      const c = compareOrderKeys(orderKey(v, w, f), orderKey(g.acc[i], g.accWeights[i], f));
      if ((fn === 'min' && c < 0) || (fn === 'max' && c > 0)) {
        g.acc[i] = v;
        g.accWeights[i] = w;
      }
    });
  }

  ensureOne(): void {
    if (this.spec.keys === 0 && this.groups.size === 0)
      this.groups.set('', {
        keys: [],
        keyWeights: [],
        acc: this.spec.partials.map(() => null),
        accWeights: this.spec.partials.map(() => null),
        distinct: Array.from({ length: this.spec.distincts }, () => new Map()),
      });
  }
}

function valueOf(g: Group, v: GroupValue): unknown {
  switch (v.kind) {
    case 'key':
      return g.keys[v.index];
    case 'agg':
      return v.fn === 'count' ? (g.acc[v.partial] ?? 0n) : g.acc[v.partial];
    case 'count-distinct':
      return BigInt(g.distinct[v.distinct]!.size);
    case 'avg': {
      const sum = g.acc[v.sum];
      const count = g.acc[v.count];
      if (sum === null || sum === undefined || count === null || count === undefined || count === 0n) return null;
      const n = BigInt(count as bigint);
      if (typeof sum === 'number') return sum / Number(n);
      const text = String(sum);
      return divideDecimal(text, n, scaleOf(text) + AVG_EXTRA_SCALE);
    }
  }
}

function weightOf(g: Group, v: GroupValue): unknown {
  if (v.kind === 'key') return g.keyWeights[v.index];
  if (v.kind === 'agg') return g.accWeights[v.partial];
  return undefined;
}

function fieldName(v: GroupValue, P: string): string | null {
  if (v.kind === 'key') return `${P}g${v.index}`;
  if (v.kind === 'agg' && (v.fn === 'min' || v.fn === 'max')) return `${P}a${v.partial}`;
  return null;
}

type Tri = boolean | null;

function number(v: unknown): Rational | null {
  try {
    return toRational(v);
  } catch {
    throw new RoutingError('SQL_UNSUPPORTED', 'HAVING compares a text value across shards (compare numbers, or filter in WHERE)');
  }
}

function evaluate(e: HavingExpr, g: Group, params: readonly SqlParam[]): Rational | null {
  switch (e.op) {
    case 'value':
      return number(valueOf(g, e.value));
    case 'param':
      return number(params[e.index] ?? null);
    case 'number':
      return number(e.text);
    case 'null':
      return null;
    case 'binary':
      if (['+', '-', '*', '/'].includes(e.operator)) {
        const l = evaluate(e.left, g, params);
        const r = evaluate(e.right, g, params);
        return l === null || r === null ? null : arithmetic(e.operator, l, r);
      }
      return truth(test(e, g, params));
    default:
      return truth(test(e, g, params));
  }
}

const truth = (t: Tri): Rational | null => (t === null ? null : { n: t ? 1n : 0n, d: 1n });
const isTrue = (r: Rational | null): Tri => (r === null ? null : r.n !== 0n);

function test(e: HavingExpr, g: Group, params: readonly SqlParam[]): Tri {
  switch (e.op) {
    case 'not': {
      const t = test(e.expr, g, params);
      return t === null ? null : !t;
    }
    case 'is-null': {
      const isNull = evaluate(e.expr, g, params) === null;
      return e.negate ? !isNull : isNull;
    }
    case 'in': {
      const x = evaluate(e.expr, g, params);
      if (x === null) return null;
      let sawNull = false;
      for (const item of e.list) {
        const y = evaluate(item, g, params);
        if (y === null) sawNull = true;
        else if (compareRational(x, y) === 0) return !e.negate;
      }
      return sawNull ? null : e.negate;
    }
    case 'between': {
      const x = evaluate(e.expr, g, params);
      const lo = evaluate(e.low, g, params);
      const hi = evaluate(e.high, g, params);
      if (x === null || lo === null || hi === null) return null;
      const inside = compareRational(x, lo) >= 0 && compareRational(x, hi) <= 0;
      return e.negate ? !inside : inside;
    }
    case 'binary': {
      const op = e.operator;
      if (op === 'AND' || op === 'OR' || op === 'XOR') {
        const l = test(e.left, g, params);
        if (op === 'AND' && l === false) return false;
        if (op === 'OR' && l === true) return true;
        const r = test(e.right, g, params);
        if (op === 'AND') return r === false ? false : l === null || r === null ? null : true;
        if (op === 'OR') return r === true ? true : l === null || r === null ? null : false;
        return l === null || r === null ? null : l !== r;
      }
      const l = evaluate(e.left, g, params);
      const r = evaluate(e.right, g, params);
      if (op === '<=>') return l === null || r === null ? l === r : compareRational(l, r) === 0;
      if (['+', '-', '*', '/'].includes(op)) return isTrue(l === null || r === null ? null : arithmetic(op, l, r));
      if (l === null || r === null) return null;
      const c = compareRational(l, r);
      return op === '=' ? c === 0 : op === '<>' ? c !== 0 : op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : c >= 0;
    }
    default:
      return isTrue(evaluate(e, g, params));
  }
}

/**
 * Folds the partial rows of every shard into the statement's groups (text keys by collation
 * weight), then applies HAVING, ORDER BY, OFFSET and LIMIT and names the columns as the
 * statement does. Exact: COUNT and SUM add, MIN/MAX compare as the server orders, AVG is
 * SUM/COUNT at the server's scale, COUNT(DISTINCT …) counts distinct weights.
 * @throws {RoutingError} `SCATTER_TOO_LARGE` past `maxGroups`; `SQL_UNSUPPORTED` for a text comparison in HAVING or an ORDER BY on an ENUM.
 */
export function mergeGrouped(
  spec: GroupedSpec,
  outcomes: readonly QueryOutcome[],
  params: readonly SqlParam[],
  bounds: GroupedBounds,
): Row[] {
  const folder = new GroupFolder(spec, bounds.maxGroups);
  for (const o of outcomes) if (o.kind !== 'rows') throw new TypeError('expected rows from a SELECT');
  for (const o of outcomes as RowsOutcome[]) {
    folder.addFields(o.fields);
    for (const row of o.rows) folder.add(row);
  }
  folder.ensureOne();
  let groups = [...folder.groups.values()];
  if (spec.having) groups = groups.filter((g) => test(spec.having!, g, params) === true);
  if (spec.orderBy.length > 0) {
    const keyed = groups.map((g) => ({
      g,
      k: spec.orderBy.map((o) => {
        const name = fieldName(o.value, spec.prefix);
        return orderKey(valueOf(g, o.value), weightOf(g, o.value), name ? folder.fieldOf(name) : undefined) as OrderKey;
      }),
    }));
    keyed.sort((a, b) => {
      for (let i = 0; i < spec.orderBy.length; i++) {
        const c = compareOrderKeys(numericKey(a.k[i]!), numericKey(b.k[i]!));
        if (c !== 0) return spec.orderBy[i]!.desc ? -c : c;
      }
      return 0;
    });
    groups = keyed.map((x) => x.g);
  }
  const end = bounds.limit === null ? undefined : bounds.offset + bounds.limit;
  if (bounds.offset > 0 || end !== undefined) groups = groups.slice(bounds.offset, end);
  return groups.map((g) => {
    // entries, not assignments: an output named `__proto__` stays a column
    return Object.fromEntries(spec.outputs.map((o) => [o.name, valueOf(g, o.value)])) as Row;
  });
}

/** COUNT, SUM and AVG results are numbers even when they arrive as DECIMAL text. */
function numericKey(k: OrderKey): OrderKey {
  if (typeof k === 'string') {
    try {
      return toRational(k);
    } catch {
      return k;
    }
  }
  return k;
}
