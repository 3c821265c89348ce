import type { Topology } from '../shard/index.js';
import type { InListText, KeyPredicate, KeySource } from './analysis.js';
import { tokenAt, type Token } from './lexer.js';

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null;
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const lower = (v: unknown): string => String(v).toLowerCase();
const STATEMENTS = new Set(['select', 'insert', 'replace', 'update', 'delete']);

/** A shard-key predicate: `key = v` or `key IN (v, …)` with placeholders or literals. */
export type KeyPin = KeyPredicate;

/**
 * Sharded-table references whose rows provably share a shard: joined or correlated on their
 * shard keys (`a.uid = b.uid`, `a.uid IN (SELECT b.uid …)`). `pin` is one shard-key predicate
 * that bounds every row of the group, or null when none does.
 */
export interface KeyGroup {
  table: string;
  column: string;
  pin: KeyPin | null;
}

/** What {@link keyGroups} found. */
export interface KeyGroups {
  groups: KeyGroup[];
  /** Query blocks (statement, subqueries, derived tables, CTE bodies, UNION branches). */
  blocks: number;
  /** Sharded tables referenced, counted per reference. */
  references: number;
  /** Why the statement cannot run on several shards at once and be merged, or null. */
  perShardBlocker: string | null;
}

/** What {@link keyGroups} needs to read placeholders. */
export interface KeyGroupContext {
  tokens: readonly Token[];
  paramIndex: ReadonlyMap<number, number>;
  topology: Topology;
  cteNames: ReadonlySet<string>;
}

interface Occurrence {
  id: number;
  table: string;
  shardKey: string;
  /** How a key value gives its shard: tables joined on their keys are co-located only when it is the same. */
  shardBy: 'hash' | 'embedded';
  block: Block;
  pins: Pin[];
}

/** One shard-key predicate's values, and its IN list's text when that can be pruned per shard. */
interface Pin {
  values: KeySource[];
  list: InListText | undefined;
}

interface Block {
  node: Node;
  parent: Block | null;
  sources: Map<string, Occurrence | null>;
  occs: Occurrence[];
  ons: unknown[];
  /** `top`: the statement or a UNION branch of it; `nested`: a subquery or derived table; `cte`: a WITH body. */
  role: 'top' | 'nested' | 'cte';
  /** A nested block joined on a shard key to a reference of an enclosing block. */
  anchored: boolean;
}

function conjuncts(expr: unknown, out: Node[] = []): Node[] {
  if (!isNode(expr)) return out;
  if (expr['type'] === 'binary_expr' && /^(and|&&)$/i.test(String(expr['operator']))) {
    conjuncts(expr['left'], out);
    conjuncts(expr['right'], out);
  } else out.push(expr);
  return out;
}

/**
 * Groups every reference to a sharded table in every query block by provable co-location and
 * finds a shard-key predicate for each group. A predicate counts only in the WHERE clause of the
 * reference's own block (top-level AND); key equalities count in WHERE and ON.
 */
export function keyGroups(ast: Node, ctx: KeyGroupContext): KeyGroups {
  const blocks: Block[] = [];
  const blockOf = new Map<Node, Block>();
  const occs: Occurrence[] = [];

  const visit = (node: Node, parent: Block | null, role: Block['role']): void => {
    for (const cte of asArray(node['with'])) {
      const stmt = isNode(cte) && isNode(cte['stmt']) ? (isNode(cte['stmt']['ast']) ? cte['stmt']['ast'] : cte['stmt']) : null;
      if (stmt && !blockOf.has(stmt)) visit(stmt, null, 'cte');
    }
    const block: Block = { node, parent, sources: new Map(), occs: [], ons: [], role, anchored: false };
    blocks.push(block);
    blockOf.set(node, block);
    const items = [
      ...asArray(node['from']),
      ...(node['type'] === 'update' || node['type'] === 'insert' || node['type'] === 'replace' ? asArray(node['table']) : []),
    ];
    for (const item of items) {
      if (!isNode(item)) continue;
      if (typeof item['table'] === 'string') {
        const name = lower(item['table']);
        const kind = ctx.cteNames.has(name) ? undefined : ctx.topology.table(name);
        let occ: Occurrence | null = null;
        if (kind?.kind === 'sharded') {
          occ = { id: occs.length, table: name, shardKey: kind.shardKey.toLowerCase(), shardBy: kind.shardBy, block, pins: [] };
          occs.push(occ);
          block.occs.push(occ);
        }
        block.sources.set(typeof item['as'] === 'string' ? lower(item['as']) : name, occ);
      } else if (typeof item['as'] === 'string') block.sources.set(lower(item['as']), null);
      if (item['on']) block.ons.push(item['on']);
    }
    const scan = (v: unknown, key: string): void => {
      if (key === '_next' || key === 'with' || key === 'loc') return;
      if (Array.isArray(v)) for (const x of v) scan(x, key);
      else if (isNode(v)) {
        const inner =
          isNode(v['ast']) && STATEMENTS.has(String(v['ast']['type'])) ? v['ast'] : v['type'] === 'select' && 'from' in v ? v : null;
        if (inner) {
          if (!blockOf.has(inner)) visit(inner, block, 'nested');
          return;
        }
        for (const [k, x] of Object.entries(v)) if (typeof x === 'object') scan(x, k);
      }
    };
    for (const [k, v] of Object.entries(node)) if (typeof v === 'object') scan(v, k);
    if (isNode(node['_next'])) visit(node['_next'], parent, role);
  };
  visit(ast, null, 'top');

  const resolve = (col: unknown, block: Block): Occurrence | null => {
    if (!isNode(col) || col['type'] !== 'column_ref') return null;
    const name = lower(col['column']);
    if (typeof col['table'] === 'string') {
      const q = lower(col['table']);
      for (let b: Block | null = block; b; b = b.parent) {
        if (b.sources.has(q)) {
          const occ = b.sources.get(q)!;
          return occ && occ.shardKey === name ? occ : null;
        }
      }
      return null;
    }
    const candidates = block.occs.filter((o) => o.shardKey === name);
    return candidates.length === 1 ? candidates[0]! : null;
  };

  const parent = occs.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
  const isAncestor = (a: Block, b: Block): boolean => {
    for (let x = b.parent; x; x = x.parent) if (x === a) return true;
    return false;
  };
  const link = (x: Occurrence, y: Occurrence): void => {
    // equal keys land on one shard only when both tables derive the shard the same way
    if (x.shardBy !== y.shardBy) return;
    parent[find(x.id)] = find(y.id);
    if (isAncestor(y.block, x.block)) x.block.anchored = true;
    if (isAncestor(x.block, y.block)) y.block.anchored = true;
  };

  for (const block of blocks) {
    const where = conjuncts(block.node['where']);
    for (const c of [...where, ...block.ons.flatMap((on) => conjuncts(on))]) {
      if (c['type'] !== 'binary_expr') continue;
      const op = String(c['operator']).toUpperCase();
      if (op === '=') {
        const l = resolve(c['left'], block);
        const r = resolve(c['right'], block);
        if (l && r && (l.block === block || r.block === block)) link(l, r);
      }
    }
    for (const c of where) {
      if (c['type'] !== 'binary_expr') continue;
      const op = String(c['operator']).toUpperCase();
      if (op !== '=' && op !== 'IN') continue;
      let [left, right] = [c['left'], c['right']];
      if (op === '=' && isNode(right) && right['type'] === 'column_ref') [left, right] = [right, left];
      const occ = resolve(left, block);
      if (!occ || occ.block !== block || !isNode(right)) continue;
      const sub = semiJoin(right, blockOf);
      if (op === 'IN' && sub) {
        const inner = resolve(sub.column, sub.block);
        if (inner && inner.block === sub.block) link(occ, inner);
        continue;
      }
      const pin = pinValues(op, right, c, ctx);
      if (pin) occ.pins.push(pin);
    }
  }

  const groups: KeyGroup[] = [];
  const byRoot = new Map<number, { group: KeyGroup; best: number }>();
  for (const occ of occs) {
    const root = find(occ.id);
    let entry = byRoot.get(root);
    if (!entry) {
      entry = { group: { table: occ.table, column: occ.shardKey, pin: null }, best: Infinity };
      byRoot.set(root, entry);
      groups.push(entry.group);
    }
    for (const { values, list } of occ.pins) {
      if (values.length < entry.best) {
        entry.best = values.length;
        entry.group.pin = { table: occ.table, column: occ.shardKey, values, list };
      }
    }
  }
  const loose = blocks.find((b) => b.occs.length > 0 && (b.role === 'cte' || (b.role === 'nested' && !b.anchored)));
  const perShardBlocker = loose
    ? `a ${loose.role === 'cte' ? 'WITH query' : 'subquery or derived table'} reading sharded table ${loose.occs[0]!.table} that is not joined on the shard key to the outer query`
    : null;
  return { groups, blocks: blocks.length, references: occs.length, perShardBlocker };
}

/** `IN (SELECT one_column FROM … WHERE …)` without UNION, GROUP BY, HAVING, LIMIT: the subquery's block and column. */
function semiJoin(right: Node, blockOf: ReadonlyMap<Node, Block>): { block: Block; column: unknown } | null {
  const list = right['type'] === 'expr_list' ? asArray(right['value']) : [right];
  const only = list.length === 1 ? list[0] : undefined;
  const ast = isNode(only) && isNode(only['ast']) ? only['ast'] : null;
  if (!ast || ast['type'] !== 'select' || ast['_next'] || ast['groupby'] || ast['having'] || ast['limit'] || ast['with']) return null;
  if (isNode(ast['limit']) && asArray(ast['limit']['value']).length > 0) return null;
  const columns = asArray(ast['columns']);
  const block = blockOf.get(ast);
  if (columns.length !== 1 || !block || !isNode(columns[0])) return null;
  return { block, column: columns[0]['expr'] };
}

function pinValues(op: string, right: Node, expr: Node, ctx: KeyGroupContext): Pin | null {
  const items = op === '=' ? [right] : right['type'] === 'expr_list' ? asArray(right['value']) : null;
  const loc = isNode(expr['loc']) ? (expr['loc'] as { start: { offset: number }; end: { offset: number } }) : null;
  if (!items || !loc) return null;
  const params: number[] = [];
  const numbers: Token[] = [];
  for (let i = tokenAt(ctx.tokens, loc.start.offset); i < ctx.tokens.length && ctx.tokens[i]!.start < loc.end.offset; i++) {
    const t = ctx.tokens[i]!;
    if (t.type === 'param') params.push(ctx.paramIndex.get(t.start)!);
    else if (t.type === 'number') numbers.push(t);
  }
  const values: KeySource[] = [];
  let p = 0;
  let n = 0;
  for (const item of items) {
    if (!isNode(item)) return null;
    const type = item['type'];
    if (type === 'origin' && item['value'] === '?') {
      const idx = params[p++];
      if (idx === undefined) return null;
      values.push({ param: idx });
    } else if (type === 'single_quote_string' || type === 'double_quote_string' || type === 'string') {
      values.push({ literal: String(item['value']) });
    } else if (type === 'number' || type === 'bigint') {
      const tok = numbers[n++];
      if (!tok || !/^[0-9]+$/.test(tok.value) || String(item['value']) !== tok.value) return null;
      values.push({ literal: tok.value });
    } else return null;
  }
  if (p !== params.length || n !== numbers.length) return null;
  return {
    values,
    list: op === 'IN' ? inListText(ctx.tokens, tokenAt(ctx.tokens, loc.start.offset), loc.end.offset, values.length) : undefined,
  };
}

/** A placeholder, a number, or a single-quoted string (a double-quoted one is an identifier under ANSI_QUOTES). */
const isItemToken = (t: Token): boolean => t.type === 'param' || t.type === 'number' || (t.type === 'string' && t.value.startsWith("'"));

/**
 * The spans of an `IN (…)` list's items when the list is exactly `( item {, item} )` with each
 * item one placeholder, number or single-quoted string token (the parser's items, in order);
 * else undefined, and the list is sent whole to every shard.
 */
function inListText(tokens: readonly Token[], from: number, end: number, count: number): InListText | undefined {
  let i = from;
  while (i < tokens.length && tokens[i]!.start < end && !(tokens[i]!.type === 'ident' && tokens[i]!.value.toUpperCase() === 'IN')) i++;
  const open = tokens[i + 1];
  if (!open || open.type !== 'punct' || open.value !== '(') return undefined;
  const items: InListText['items'] = [];
  for (i += 2; i < tokens.length && tokens[i]!.start < end; i += 2) {
    const item = tokens[i]!;
    const after = tokens[i + 1];
    if (!isItemToken(item) || !after || after.type !== 'punct') return undefined;
    items.push({ start: item.start, end: item.end });
    if (after.value === ')') return items.length === count ? { start: open.end, end: after.start, items } : undefined;
    if (after.value !== ',') return undefined;
  }
  return undefined;
}
