import { RoutingError } from '../errors/index.js';
import { clauses, identifier, PartialText, type RewriteInput, type SelectItem } from './scatter-rewrite.js';

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null;

/** The two statements of keyset pagination over one SELECT (see {@link keysetPages}). */
export interface KeysetPages {
  /** The first page: the statement with `LIMIT ?` (the page size) appended. */
  first: string;
  /** Every later page: the statement with the keyset predicate in its WHERE clause, then `LIMIT ?`. */
  next: string;
  /** Parameter indexes of the original statement, in the order `first` and `next` take them before their own values. */
  params: number[];
  /** The ORDER BY items: the output column each page's last row gives its value from, and its direction. */
  keys: { column: string; desc: boolean }[];
}

const refuse = (message: string): never => {
  throw new RoutingError('SQL_UNSUPPORTED', `router.paginate: ${message}`);
};

/**
 * Keyset pagination of a SELECT: the page after a row is the rows ordered after it,
 * `(k1 > ?) OR (k1 = ? AND k2 > ?) OR …` (`<` for DESC), so no page costs more than the first —
 * unlike OFFSET, whose every shard returns OFFSET + LIMIT rows. The ORDER BY must name output
 * columns, hold no NULLs and be unique (end it with the primary key); the statement has no LIMIT,
 * GROUP BY, HAVING, DISTINCT or aggregates.
 * @throws {RoutingError} `SQL_UNSUPPORTED` for any other shape.
 */
export function keysetPages(ast: Node, items: readonly SelectItem[], input: RewriteInput): KeysetPages {
  const order = Array.isArray(ast['orderby']) ? (ast['orderby'] as Node[]) : [];
  if (order.length === 0) refuse('the statement needs an ORDER BY over a unique key (end it with the primary key)');
  if (isNode(ast['limit']) && Array.isArray(ast['limit']['value']) && ast['limit']['value'].length > 0)
    refuse('the statement must not have a LIMIT: pageSize sets it');
  if (ast['groupby'] || ast['having'] || ast['distinct'] || items.some((i) => i.expr['type'] === 'aggr_func'))
    refuse('GROUP BY, HAVING, DISTINCT and aggregates are not paged (page the rows they are computed from)');
  if (ast['_next'] || ast['set_op']) refuse('UNION is not paged');
  const c = clauses(input.tokens) ?? refuse('a SELECT without FROM');
  if (c.limit !== null || c.orderBy === null) refuse('an ORDER BY the router cannot locate');
  const star = items.some((i) => i.expr['type'] === 'column_ref' && i.expr['column'] === '*');
  const keys = order.map((o) => {
    const expr = isNode(o['expr']) ? o['expr'] : {};
    let item: SelectItem | undefined;
    if (expr['type'] === 'number') item = items[Number(expr['value']) - 1];
    else if (expr['type'] === 'column_ref' && !isNode(expr['collate'])) {
      const name = identifier(String(expr['column']));
      item =
        items.find((x) => x.name === name) ??
        items.find((x) => x.expr['type'] === 'column_ref' && identifier(String(x.expr['column'])) === name);
      if (!item && star) return { column: name, desc: String(o['type']).toUpperCase() === 'DESC', source: expr };
    }
    if (!item) return refuse('every ORDER BY item must be a column of the select list (by name, alias or position)');
    return { column: item.name, desc: String(o['type']).toUpperCase() === 'DESC', source: item.expr };
  });
  const predicate = (text: PartialText) => {
    keys.forEach((k, i) => {
      text.add(i === 0 ? '(' : ' OR (');
      for (let j = 0; j < i; j++) text.node(keys[j]!.source).add(' = ? AND ');
      text.node(k.source).add(k.desc ? ' < ?)' : ' > ?)');
    });
  };
  if (new PartialText(input).copy(c.bodyEnd, c.limit ?? Infinity).params.length > 0) refuse('placeholders in ORDER BY are not paged');
  const first = new PartialText(input).copy(0, c.limit ?? Infinity).add(' LIMIT ?');
  const next = new PartialText(input);
  if (c.where !== null) {
    let from = c.where + 'WHERE'.length;
    while (/\s/.test(input.sql[from] ?? '')) from++;
    next.copy(0, c.where).add(' WHERE (').copy(from, c.bodyEnd).add(') AND (');
  } else next.copy(0, c.bodyEnd).add(' WHERE (');
  const before = next.params.length;
  predicate(next);
  const keyParams = next.params.splice(before);
  next
    .add(') ')
    .copy(c.bodyEnd, c.limit ?? Infinity)
    .add(' LIMIT ?');
  if (keyParams.length > 0) refuse('placeholders in the ORDER BY items are not paged');
  return { first: first.text(), next: next.text(), params: first.params, keys: keys.map(({ column, desc }) => ({ column, desc })) };
}

/**
 * The values of the keyset predicate of {@link KeysetPages.next} after `row` (the last row of a
 * page), in placeholder order: k1; k1, k2; k1, k2, k3; …
 * @throws {RoutingError} `SQL_UNSUPPORTED` when a key is NULL or missing from the row.
 */
export function keysetValues(keys: KeysetPages['keys'], row: Record<string, unknown>): unknown[] {
  const values = keys.map((k) => {
    const v = row[k.column];
    if (v === null || v === undefined)
      refuse(`the ORDER BY column ${k.column} is NULL (or absent) in a row: keyset pages need non-NULL keys`);
    return v;
  });
  return keys.flatMap((_, i) => values.slice(0, i + 1));
}
