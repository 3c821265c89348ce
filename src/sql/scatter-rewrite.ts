import { tokenAt, type Token } from './lexer.js';
import {
  PARTIAL_PREFIX as P,
  type CountSource,
  type GroupValue,
  type HavingExpr,
  type PartialFn,
  type ScatterRewrite,
} from './scatter-spec.js';

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null;

/** What the rewrite reads besides the AST. */
export interface RewriteInput {
  sql: string;
  tokens: readonly Token[];
  paramIndex: ReadonlyMap<number, number>;
}

/** A rewrite, or why the statement cannot be merged across shards. */
export type RewriteResult = { rewrite: ScatterRewrite } | { reason: string };

interface Loc {
  start: { offset: number };
  end: { offset: number };
}
const locOf = (n: unknown): Loc | undefined => (isNode(n) && isNode(n['loc']) ? (n['loc'] as unknown as Loc) : undefined);

class Refusal extends Error {}
const refuse = (reason: string): never => {
  throw new Refusal(reason);
};

/** The partial statement as it is built: text copied from the original (with its placeholders) or written. */
export class PartialText {
  private readonly parts: string[] = [];
  readonly params: number[] = [];
  constructor(private readonly input: RewriteInput) {}
  copy(start: number, end: number): this {
    end = Math.min(end, this.input.sql.length);
    while (end > start && /\s/.test(this.input.sql[end - 1]!)) end--;
    this.parts.push(this.input.sql.slice(start, end));
    const { tokens, paramIndex } = this.input;
    for (let i = tokenAt(tokens, start); i < tokens.length && tokens[i]!.start < end; i++) {
      if (tokens[i]!.type === 'param' && tokens[i]!.start >= start) this.params.push(paramIndex.get(tokens[i]!.start)!);
    }
    return this;
  }
  node(n: unknown): this {
    const loc = locOf(n) ?? refuse('an expression the router cannot locate in the SQL text');
    return this.copy(loc.start.offset, loc.end.offset);
  }
  add(text: string): this {
    this.parts.push(text);
    return this;
  }
  text(): string {
    return this.parts.join('');
  }
}

/** The top-level clauses of the outermost SELECT, located on the tokens. */
export interface Clauses {
  selectEnd: number;
  from: number;
  /** The top-level WHERE keyword, if any. */
  where: number | null;
  bodyEnd: number;
  orderBy: number | null;
  limit: number | null;
}

const TAIL = new Set(['GROUP', 'HAVING', 'WINDOW', 'ORDER', 'LIMIT', 'FOR', 'LOCK', 'INTO', 'PROCEDURE']);

export function clauses(tokens: readonly Token[]): Clauses | null {
  let depth = 0;
  let where: number | null = null;
  let select: Token | undefined;
  let from: number | undefined;
  let bodyEnd: number | undefined;
  let orderBy: number | null = null;
  let limit: number | null = null;
  for (const t of tokens) {
    if (t.type === 'punct') {
      if (t.value === '(') depth++;
      else if (t.value === ')') depth--;
      continue;
    }
    if (depth !== 0 || t.type !== 'ident') continue;
    const w = t.value.toUpperCase();
    if (!select) {
      if (w === 'SELECT') select = t;
    } else if (from === undefined) {
      if (w === 'FROM') from = t.start;
    } else if (w === 'WHERE' && bodyEnd === undefined) {
      where ??= t.start;
    } else if (TAIL.has(w)) {
      bodyEnd ??= t.start;
      if (w === 'ORDER') orderBy ??= t.start;
      if (w === 'LIMIT') limit ??= t.start;
    }
  }
  if (!select || from === undefined) return null;
  return { selectEnd: select.end, from, where, bodyEnd: bodyEnd ?? Infinity, orderBy, limit };
}

/** An expression compared structurally: no locations, parentheses or letter case of names. */
function canonical(n: unknown): string {
  return JSON.stringify(n, (k, v: unknown) => {
    if (k === 'loc' || k === 'parentheses') return undefined;
    if ((k === 'column' || k === 'table') && typeof v === 'string') return v.toLowerCase();
    if (k === 'name' && typeof v === 'string') return v.toUpperCase();
    return v;
  });
}

/** A quoted identifier as the server names it: the parser keeps `` `a``b` `` as ``a``b``, the server as ``a`b``. */
export const identifier = (name: string): string => name.replace(/``/g, '`');

/** Placeholder indexes inside a node's span, in source order (placeholder nodes carry no location). */
function paramQueue(n: unknown, input: RewriteInput): number[] {
  const loc = locOf(n);
  if (!loc) return [];
  const out: number[] = [];
  const { tokens, paramIndex } = input;
  for (let i = tokenAt(tokens, loc.start.offset); i < tokens.length && tokens[i]!.start < loc.end.offset; i++) {
    if (tokens[i]!.type === 'param' && tokens[i]!.start >= loc.start.offset) out.push(paramIndex.get(tokens[i]!.start)!);
  }
  return out;
}

const isPlaceholder = (n: unknown): boolean => isNode(n) && n['type'] === 'origin' && n['value'] === '?';

/** LIMIT and OFFSET of the outermost SELECT. */
export function limitOffset(ast: Node, input: RewriteInput): { limit: CountSource | null; offset: CountSource | null } {
  const lim = isNode(ast['limit']) ? ast['limit'] : null;
  const values = lim && Array.isArray(lim['value']) ? (lim['value'] as Node[]) : [];
  if (values.length === 0) return { limit: null, offset: null };
  const queue = paramQueue(lim, input);
  const sources = values.map((n): CountSource => {
    if (n['type'] === 'number' && Number.isSafeInteger(Number(n['value']))) return { value: Number(n['value']) };
    if (isPlaceholder(n) && queue.length > 0) return { param: queue.shift()! };
    return refuse('a LIMIT the router cannot read');
  });
  const [count, offset] = String(lim!['seperator'] ?? '') === ',' ? [sources[1], sources[0]] : [sources[0], sources[1]];
  return { limit: count ?? null, offset: offset ?? null };
}

const AGGREGATES = new Set(['COUNT', 'SUM', 'MIN', 'MAX', 'AVG']);
const COMPARISONS = new Set(['=', '<>', '!=', '<', '<=', '>', '>=', '<=>']);
const ARITHMETIC = new Set(['+', '-', '*', '/']);
const LOGICAL: Record<string, string> = { AND: 'AND', '&&': 'AND', OR: 'OR', '||': 'OR', XOR: 'XOR' };

export interface SelectItem {
  name: string;
  expr: Node;
  alias: string | null;
}

/** Builds the partial statement of a grouped SELECT (GROUP BY, DISTINCT or aggregates). */
class GroupedRewrite {
  private readonly keys: Node[] = [];
  private readonly keyCanon: string[] = [];
  private readonly distincts: Node[] = [];
  private readonly distinctCanon: string[] = [];
  private readonly partials: { fn: PartialFn; arg: Node | null; canon: string }[] = [];
  private havingParams: number[] = [];

  constructor(
    private readonly ast: Node,
    private readonly items: SelectItem[],
    private readonly input: RewriteInput,
    private readonly c: Clauses,
  ) {}

  build(): ScatterRewrite {
    const gb = isNode(this.ast['groupby']) ? this.ast['groupby'] : null;
    const groupCols = gb && Array.isArray(gb['columns']) ? (gb['columns'] as Node[]) : [];
    if (gb && Array.isArray(gb['modifiers']) && gb['modifiers'].some((m) => m !== null)) refuse('GROUP BY … WITH ROLLUP across shards');
    if (this.ast['distinct']) {
      if (groupCols.length > 0) refuse('SELECT DISTINCT with GROUP BY across shards');
      for (const item of this.items) this.addKey(item.expr);
    }
    for (const g of groupCols) this.addKey(this.groupTarget(g));
    const outputs = this.items.map((item) => ({ name: item.name, value: this.valueOf(item.expr) }));
    this.havingParams = paramQueue(this.ast['having'], this.input);
    const having = this.ast['having'] ? this.having(this.ast['having'] as Node) : null;
    const orderBy = (Array.isArray(this.ast['orderby']) ? (this.ast['orderby'] as Node[]) : []).map((o) => ({
      value: this.orderValue(o['expr'] as Node),
      desc: String(o['type']).toUpperCase() === 'DESC',
    }));
    const { limit, offset } = limitOffset(this.ast, this.input);
    const text = new PartialText(this.input).copy(0, this.c.selectEnd).add(' ');
    const columns: (() => void)[] = [];
    const positions: number[] = [];
    const pair = (expr: Node, letter: string, i: number) => {
      columns.push(() => {
        text.node(expr).add(` AS ${P}${letter}${i}, CAST(WEIGHT_STRING(`).node(expr).add(`) AS BINARY) AS ${P}${letter}w${i}, COLLATION(`);
        text.node(expr).add(`) AS ${P}${letter}c${i}`);
      });
      positions.push(positions.length + 1, positions.length + 2, positions.length + 3);
    };
    this.keys.forEach((k, i) => pair(k, 'g', i));
    this.distincts.forEach((d, i) => pair(d, 'd', i));
    this.partials.forEach((p, i) => {
      columns.push(() => {
        const fn = p.fn.toUpperCase();
        const call = () => (p.arg === null ? text.add('COUNT(*)') : text.add(`${fn}(`).node(p.arg).add(')'));
        call();
        text.add(` AS ${P}a${i}`);
        if (p.fn === 'min' || p.fn === 'max') {
          text.add(', CAST(WEIGHT_STRING(');
          call();
          text.add(`) AS BINARY) AS ${P}aw${i}, COLLATION(`);
          call();
          text.add(`) AS ${P}ac${i}`);
        }
      });
    });
    if (columns.length === 0) refuse('a grouped SELECT with nothing to select');
    columns.forEach((emit, i) => {
      if (i > 0) text.add(', ');
      emit();
    });
    text.add(' ').copy(this.c.from, Math.min(this.c.bodyEnd, this.input.sql.length));
    if (positions.length > 0) text.add(` GROUP BY ${positions.join(', ')}`);
    return {
      sql: text.text(),
      params: text.params,
      spec: {
        kind: 'grouped',
        prefix: P,
        keys: this.keys.length,
        distincts: this.distincts.length,
        partials: this.partials.map((p) => p.fn),
        outputs,
        having,
        orderBy,
        limit,
        offset,
      },
    };
  }

  private addKey(expr: Node): void {
    if (expr['type'] === 'column_ref' && expr['column'] === '*') refuse('SELECT * with GROUP BY or DISTINCT across shards');
    if (expr['type'] === 'aggr_func') refuse('an aggregate in GROUP BY');
    const canon = canonical(expr);
    if (this.keyCanon.includes(canon)) return;
    this.keys.push(expr);
    this.keyCanon.push(canon);
  }

  /** A GROUP BY item: a position, a select alias (when no such column is named in the select list), or an expression. */
  private groupTarget(g: Node): Node {
    if (g['type'] === 'number') {
      const item = this.items[Number(g['value']) - 1] ?? refuse(`GROUP BY position ${String(g['value'])} is not in the select list`);
      return item.expr;
    }
    if (g['type'] === 'column_ref' && g['table'] === null) {
      const name = identifier(String(g['column'])).toLowerCase();
      const aliased = this.items.find((i) => i.alias?.toLowerCase() === name);
      const named = this.items.some((i) => i.expr['type'] === 'column_ref' && String(i.expr['column']).toLowerCase() === name);
      if (aliased && !named) return aliased.expr;
    }
    return g;
  }

  private partial(fn: PartialFn, arg: Node | null): number {
    const canon = `${fn}:${arg === null ? '*' : canonical(arg)}`;
    const found = this.partials.findIndex((p) => p.canon === canon);
    if (found >= 0) return found;
    this.partials.push({ fn, arg, canon });
    return this.partials.length - 1;
  }

  private valueOf(expr: Node): GroupValue {
    if (expr['type'] === 'aggr_func') return this.aggregate(expr);
    const key = this.keyCanon.indexOf(canonical(expr));
    if (key >= 0) return { kind: 'key', index: key };
    if (expr['type'] === 'column_ref' && expr['column'] === '*') return refuse('SELECT * with GROUP BY or DISTINCT across shards');
    return refuse('a select item that is neither a GROUP BY expression nor one aggregate (an expression over aggregates) across shards');
  }

  private aggregate(expr: Node): GroupValue {
    const name = String(expr['name']).toUpperCase();
    if (isNode(expr['over'])) refuse('window functions across shards');
    if (!AGGREGATES.has(name)) refuse(`${name}() across shards`);
    const args = isNode(expr['args']) ? expr['args'] : {};
    if (args['orderby'] || args['separator']) refuse(`${name}() with ORDER BY or SEPARATOR across shards`);
    const arg = isNode(args['expr']) ? args['expr'] : refuse(`${name}() with several arguments across shards`);
    const star = arg['type'] === 'star';
    if (args['distinct']) {
      if (name === 'COUNT') {
        if (star) refuse('COUNT(DISTINCT *)');
        const canon = canonical(arg);
        let i = this.distinctCanon.indexOf(canon);
        if (i < 0) {
          this.distincts.push(arg);
          this.distinctCanon.push(canon);
          i = this.distincts.length - 1;
        }
        return { kind: 'count-distinct', distinct: i };
      }
      if (name === 'SUM' || name === 'AVG') refuse(`${name}(DISTINCT …) across shards`);
    }
    if (star && name !== 'COUNT') refuse(`${name}(*)`);
    const a = star ? null : arg;
    if (name === 'AVG') return { kind: 'avg', sum: this.partial('sum', a!), count: this.partial('count', a) };
    const fn = name.toLowerCase() as PartialFn;
    return { kind: 'agg', fn, partial: this.partial(fn, a) };
  }

  /** An ORDER BY (or HAVING) name: a select alias first, as MySQL resolves ORDER BY. */
  private aliasValue(expr: Node): GroupValue | null {
    if (expr['type'] !== 'column_ref' || expr['table'] !== null || isNode(expr['collate'])) return null;
    const name = identifier(String(expr['column'])).toLowerCase();
    const item = this.items.find((i) => i.name.toLowerCase() === name);
    return item ? this.valueOf(item.expr) : null;
  }

  private orderValue(expr: Node): GroupValue {
    if (expr['type'] === 'number') {
      const item = this.items[Number(expr['value']) - 1] ?? refuse(`ORDER BY position ${String(expr['value'])} is not in the select list`);
      return this.valueOf(item.expr);
    }
    if (isNode(expr['collate'])) refuse('ORDER BY … COLLATE across shards');
    return this.aliasValue(expr) ?? this.valueOf(expr);
  }

  private having(n: Node): HavingExpr {
    const type = n['type'];
    if (type === 'number') return { op: 'number', text: String(n['value']) };
    if (type === 'null') return { op: 'null' };
    if (type === 'bool') return { op: 'number', text: n['value'] ? '1' : '0' };
    if (isPlaceholder(n)) {
      const index = this.havingParams.shift();
      return index === undefined ? refuse('a HAVING placeholder the router cannot locate') : { op: 'param', index };
    }
    if (type === 'aggr_func') return { op: 'value', value: this.aggregate(n) };
    if (type === 'column_ref') return { op: 'value', value: this.aliasValue(n) ?? this.valueOf(n) };
    if (type === 'function' && this.functionName(n) === 'NOT') {
      const args = isNode(n['args']) && Array.isArray(n['args']['value']) ? (n['args']['value'] as Node[]) : [];
      if (args.length !== 1) refuse('NOT with several arguments');
      return { op: 'not', expr: this.having(args[0]!) };
    }
    if (type === 'unary_expr') {
      const op = String(n['operator']).toUpperCase();
      const inner = this.having(n['expr'] as Node);
      if (op === 'NOT' || op === '!') return { op: 'not', expr: inner };
      if (op === '-') return { op: 'binary', operator: '-', left: { op: 'number', text: '0' }, right: inner };
      if (op === '+') return inner;
    }
    if (type === 'binary_expr') {
      const op = String(n['operator']).toUpperCase();
      const left = () => this.having(n['left'] as Node);
      const list = () => {
        const r = n['right'] as Node;
        return r['type'] === 'expr_list' && Array.isArray(r['value'])
          ? (r['value'] as Node[]).map((v) => this.having(v))
          : refuse(`${op} with a subquery in HAVING across shards`);
      };
      if (LOGICAL[op]) return { op: 'binary', operator: LOGICAL[op]!, left: left(), right: this.having(n['right'] as Node) };
      if (COMPARISONS.has(op) || ARITHMETIC.has(op))
        return { op: 'binary', operator: op === '!=' ? '<>' : op, left: left(), right: this.having(n['right'] as Node) };
      if (op === 'IS' || op === 'IS NOT') {
        const right = n['right'] as Node;
        if (right['type'] !== 'null') refuse(`${op} ${String(right['value'])} in HAVING across shards`);
        return { op: 'is-null', expr: left(), negate: op === 'IS NOT' };
      }
      if (op === 'IN' || op === 'NOT IN') return { op: 'in', expr: left(), list: list(), negate: op === 'NOT IN' };
      if (op === 'BETWEEN' || op === 'NOT BETWEEN') {
        const expr = left();
        const [low, high] = list();
        if (!low || !high) refuse('BETWEEN without two bounds');
        return { op: 'between', expr, low: low!, high: high!, negate: op === 'NOT BETWEEN' };
      }
      refuse(`the operator ${op} in HAVING across shards`);
    }
    if (type === 'single_quote_string' || type === 'double_quote_string' || type === 'string')
      refuse('HAVING on text values across shards (compare numbers, or filter in WHERE)');
    return refuse(`${String(type)} in HAVING across shards`);
  }

  private functionName(n: Node): string {
    const name = isNode(n['name']) && Array.isArray(n['name']['name']) ? (n['name']['name'] as Node[])[0]?.['value'] : n['name'];
    return String(name).toUpperCase();
  }
}

/**
 * The partial statement and merge of a multi-shard SELECT that needs one: GROUP BY, HAVING,
 * DISTINCT or aggregates (grouped: the shards return partial groups, the router folds them),
 * ORDER BY (sorted: each row carries its collation weight) or OFFSET. Null when rows
 * concatenate as they are.
 */
export function scatterRewrite(ast: Node, items: SelectItem[], input: RewriteInput): RewriteResult | null {
  try {
    const grouped =
      ast['distinct'] ||
      ast['having'] ||
      (isNode(ast['groupby']) && Array.isArray(ast['groupby']['columns'])) ||
      items.some((i) => i.expr['type'] === 'aggr_func');
    const order = Array.isArray(ast['orderby']) ? (ast['orderby'] as Node[]) : [];
    const { offset } = limitOffset(ast, input);
    if (!grouped && order.length === 0 && offset === null) return null;
    const c = clauses(input.tokens) ?? refuse('a SELECT without FROM');
    if (grouped) return { rewrite: new GroupedRewrite(ast, items, input, c).build() };
    return { rewrite: sortedRewrite(ast, items, input, c, order) };
  } catch (err) {
    if (err instanceof Refusal) return { reason: err.message };
    throw err;
  }
}

function sortedRewrite(ast: Node, items: SelectItem[], input: RewriteInput, c: Clauses, order: Node[]): ScatterRewrite {
  const star = items.some((i) => i.expr['type'] === 'column_ref' && i.expr['column'] === '*');
  const text = new PartialText(input).copy(0, c.from);
  const orderBy = order.map((o, i) => {
    const expr = isNode(o['expr']) ? o['expr'] : {};
    let item: SelectItem | undefined;
    let source: Node = expr;
    if (expr['type'] === 'number') item = items[Number(expr['value']) - 1];
    else if (expr['type'] === 'column_ref') {
      const name = identifier(String(expr['column']));
      item =
        items.find((x) => x.name === name) ??
        items.find((x) => x.expr['type'] === 'column_ref' && identifier(String(x.expr['column'])) === name);
      if (!item && !star) refuse('ORDER BY on an expression that is not in the select list');
    } else refuse('ORDER BY on an expression that is not in the select list');
    const collated = isNode(expr['collate']);
    if (item && !collated) source = item.expr;
    text.add(`, CAST(WEIGHT_STRING(`).node(source).add(`) AS BINARY) AS ${P}w${i}, COLLATION(`).node(source).add(`) AS ${P}c${i}`);
    return {
      column: item ? item.name : identifier(String(expr['column'])),
      desc: String(o['type']).toUpperCase() === 'DESC',
      ...(collated ? { byWeight: true } : {}),
    };
  });
  text.add(' ').copy(c.from, c.bodyEnd);
  if (c.orderBy !== null) text.add(' ').copy(c.orderBy, c.limit ?? Infinity);
  const { limit, offset } = limitOffset(ast, input);
  return { sql: text.text().trimEnd(), params: text.params, spec: { kind: 'sorted', orderBy, limit, offset } };
}
