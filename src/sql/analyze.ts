import sqlParser from 'node-sql-parser/build/mysql.js';
import { RoutingError, SqlParseError } from '../errors/index.js';
import type { Topology } from '../shard/index.js';
import type { Analysis, InsertRows, KeySource, SelectShape, Splice } from './analysis.js';
import { keyGroups } from './key-groups.js';
import { keysetPages, type KeysetPages } from './keyset-pages.js';
import { identifier, limitOffset, scatterRewrite, type SelectItem } from './scatter-rewrite.js';
import { fixLogicalPrecedence } from './logical-precedence.js';
import { lex, lineColumn, tokenAt, type Token } from './lexer.js';
import { blankComments, checkLexed, checkStatementSize, DEFAULT_SQL_LIMITS, type SqlLimits } from './statement-guard.js';
import { sessionStateUse } from './session-state.js';

type Node = Record<string, unknown>;
interface Loc {
  start: { offset: number };
  end: { offset: number };
}

const parser = new sqlParser.Parser();
const PARSE_OPTIONS = { database: 'MySQL', parseOptions: { includeLocations: true } };
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null;
const locOf = (n: Node): Loc | undefined => (isNode(n['loc']) ? (n['loc'] as unknown as Loc) : undefined);

function tooComplex(cause: unknown): RoutingError {
  return new RoutingError(
    'SQL_TOO_COMPLEX',
    'the statement nests too deeply for the router to analyse (a very long AND/OR/+ chain or deep parentheses): split it or bind a list',
    { cause },
  );
}

function unsupported(message: string): RoutingError {
  return new RoutingError('SQL_UNSUPPORTED', message);
}

/** Strips one trailing `;` and refuses several statements in one string. */
function singleStatement(sql: string, semicolons: readonly number[], tokens: readonly Token[]): string {
  for (const pos of semicolons) {
    const after = tokens[tokenAt(tokens, pos + 1)];
    if (after) {
      throw new SqlParseError(
        'SQL_MULTIPLE_STATEMENTS',
        `several statements in one string: a second statement starts at offset ${after.start}`,
        {
          offset: after.start,
          ...lineColumn(sql, after.start),
        },
      );
    }
  }
  const last = semicolons[semicolons.length - 1];
  return last === undefined ? sql : sql.slice(0, last);
}

function parse(sql: string): Node {
  try {
    const ast = parser.astify(sql, PARSE_OPTIONS) as unknown;
    const node = Array.isArray(ast) ? ast[0] : ast;
    if (!isNode(node)) throw new Error('empty statement');
    return fixLogicalPrecedence(node);
  } catch (err) {
    if (err instanceof RangeError) throw tooComplex(err);
    const e = err as { message?: string; location?: Loc & { start: { line: number; column: number } } };
    const offset = e.location?.start.offset ?? 0;
    throw new SqlParseError(
      'SQL_PARSE',
      `cannot parse SQL at line ${e.location?.start.line ?? 1}, column ${e.location?.start.column ?? 1}: ${e.message ?? String(err)}`,
      {
        offset,
        ...lineColumn(sql, offset),
      },
    );
  }
}

/** Walks every object of the AST depth-first. */
function walk(node: unknown, visit: (n: Node, parentKey: string) => void, parentKey = ''): void {
  if (Array.isArray(node)) {
    for (const item of node) walk(item, visit, parentKey);
  } else if (isNode(node)) {
    visit(node, parentKey);
    for (const [k, v] of Object.entries(node)) if (k !== 'loc' && typeof v === 'object') walk(v, visit, k);
  }
}

/** The span of the identifier (bare or backticked) that starts at `offset`. */
function identAt(tokens: readonly Token[], offset: number): Token | undefined {
  const t = tokens[tokenAt(tokens, offset)];
  return t && t.start === offset && (t.type === 'ident' || t.type === 'quoted') ? t : undefined;
}

/** Placeholder indexes of the `?` tokens inside [start, end). */
function paramsIn(tokens: readonly Token[], paramIndex: Map<number, number>, start: number, end: number): number[] {
  const out: number[] = [];
  for (let i = tokenAt(tokens, start); i < tokens.length && tokens[i]!.start < end; i++) {
    if (tokens[i]!.type === 'param') out.push(paramIndex.get(tokens[i]!.start)!);
  }
  return out;
}

interface Context {
  sql: string;
  tokens: Token[];
  paramIndex: Map<number, number>;
  topology: Topology;
  /** alias or table name (lower case) → logical table (lower case) */
  scope: Map<string, string>;
}

/** INSERT/REPLACE: the target table and the VALUES tuples, located with the lexer. */
function analyzeInsert(ast: Node, ctx: Context, splices: Splice[]): InsertRows | null {
  const { tokens, sql } = ctx;
  let i = 1;
  while (i < tokens.length && tokens[i]!.type === 'ident' && /^(low_priority|delayed|high_priority|ignore|into)$/i.test(tokens[i]!.value))
    i++;
  const nameTok = tokens[i];
  if (!nameTok || (nameTok.type !== 'ident' && nameTok.type !== 'quoted')) throw unsupported('cannot find the INSERT target table');
  if (tokens[i + 1]?.value === '.') throw unsupported('qualified table names (db.table) are not routed: use the logical name');
  const table = nameTok.value.toLowerCase();
  const kind = ctx.topology.table(table);
  if (!kind) throw unknownTable(table, ctx.topology);
  ctx.scope.set(table, table);
  splices.push({ start: nameTok.start, end: nameTok.end, table, kind: kind.kind });
  if (kind.kind === 'broadcast') return null;
  const values = ast['values'];
  if (!isNode(values) || values['type'] !== 'values')
    throw unsupported(`INSERT into sharded table ${table} must use VALUES (INSERT … SELECT and INSERT … SET are not routed)`);
  const columns = Array.isArray(ast['columns'])
    ? (ast['columns'] as unknown[]).map((c) => String(isNode(c) ? (c['column'] ?? c['value']) : c).toLowerCase())
    : null;
  if (!columns) throw unsupported(`INSERT into sharded table ${table} must name its columns`);
  const keyIndex = columns.indexOf(kind.shardKey.toLowerCase());
  if (keyIndex === -1) {
    throw new RoutingError('SHARD_KEY_MISSING', `INSERT into sharded table ${table} must set its shard key column ${kind.shardKey}`, {
      details: { table, column: kind.shardKey },
    });
  }
  i += 1;
  if (tokens[i]?.value === '(') i = matching(tokens, i) + 1;
  if (!/^values?$/i.test(tokens[i]?.value ?? '')) throw unsupported(`INSERT into sharded table ${table} must use VALUES`);
  i++;
  const rows: InsertRows['rows'] = [];
  while (tokens[i]?.value === '(') {
    const close = matching(tokens, i);
    const start = tokens[i]!.start;
    const end = tokens[close]!.end;
    const items = splitItems(tokens, i + 1, close);
    const keyItem = items[keyIndex];
    if (items.length !== columns.length || !keyItem)
      throw unsupported(`a VALUES tuple of ${table} has ${items.length} values for ${columns.length} columns`);
    const params = paramsIn(tokens, ctx.paramIndex, start, end);
    const [k0, k1] = keyItem;
    let key: KeySource;
    if (k0 === k1 && tokens[k0]!.type === 'param') key = { param: ctx.paramIndex.get(tokens[k0]!.start)! };
    else if (k0 === k1 && (tokens[k0]!.type === 'number' || tokens[k0]!.type === 'string')) key = { literal: unquote(tokens[k0]!.value) };
    else throw unsupported(`the shard key ${kind.shardKey} of ${table} must be a placeholder or a literal in every VALUES tuple`);
    rows.push({ start, end, key, firstParam: params[0] ?? 0, paramCount: params.length });
    i = close + 1;
    if (tokens[i]?.value === ',') i++;
    else break;
  }
  if (rows.length === 0) throw unsupported(`INSERT into ${table}: no VALUES tuple found`);
  if (
    sql
      .slice(rows[0]!.start, rows[rows.length - 1]!.end)
      .toLowerCase()
      .includes('select')
  ) {
    throw unsupported('subqueries inside VALUES are not routed');
  }
  const start = rows[0]!.start;
  const end = rows[rows.length - 1]!.end;
  const paramsBefore = [...ctx.paramIndex.keys()].filter((offset) => offset < start).length;
  const paramsAfter = paramsBefore + rows.reduce((n, r) => n + r.paramCount, 0);
  return { table, start, end, rows, paramsBefore, paramsAfter };
}

function unquote(text: string): string {
  if (text.startsWith("'") || text.startsWith('"')) return text.slice(1, -1).replace(/\\(.)/g, '$1').replace(/''/g, "'");
  return text;
}

/** Index of the `)` matching the `(` at index `open`. */
function matching(tokens: readonly Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const v = tokens[i]!.type === 'punct' ? tokens[i]!.value : '';
    if (v === '(') depth++;
    else if (v === ')' && --depth === 0) return i;
  }
  throw unsupported('unbalanced parentheses');
}

/** Top-level comma-separated items between token indexes [from, to): [first, last] token index each. */
function splitItems(tokens: readonly Token[], from: number, to: number): [number, number][] {
  const items: [number, number][] = [];
  let depth = 0;
  let start = from;
  for (let i = from; i < to; i++) {
    const v = tokens[i]!.type === 'punct' ? tokens[i]!.value : '';
    if (v === '(') depth++;
    else if (v === ')') depth--;
    else if (v === ',' && depth === 0) {
      items.push([start, i - 1]);
      start = i + 1;
    }
  }
  if (start < to) items.push([start, to - 1]);
  return items;
}

function unknownTable(table: string, topology: Topology): RoutingError {
  const known = topology.allTables();
  const sharded = known.filter(([, k]) => k.kind === 'sharded').map(([n]) => n);
  const broadcast = known.filter(([, k]) => k.kind === 'broadcast').map(([n]) => n);
  return new RoutingError(
    'UNKNOWN_TABLE',
    `unknown table ${table}: not a configured logical table (sharded: ${sharded.join(', ') || 'none'}; broadcast: ${broadcast.join(', ') || 'none'})`,
    { details: { table } },
  );
}

/** A partial statement (see scatter-rewrite.ts) is only rendered, never merged again. */
const PARTIAL_SHAPE: SelectShape = { limit: null, rewrite: null, unmergeable: 'a partial statement' };
/** The partial statement of an analysed statement is checked against no further limits. */
const UNBOUNDED: SqlLimits = { ...DEFAULT_SQL_LIMITS, maxStatementBytes: Number.MAX_SAFE_INTEGER, maxInList: Number.MAX_SAFE_INTEGER };

/** The output columns of a SELECT: the name the server gives each, its expression and alias. */
function selectItems(ast: Node, sql: string): SelectItem[] {
  const columns = Array.isArray(ast['columns']) ? (ast['columns'] as Node[]) : [];
  return columns.map((col) => {
    const expr = isNode(col['expr']) ? col['expr'] : {};
    const colName = expr['type'] === 'column_ref' ? identifier(String(expr['column'])) : null;
    const exprLoc = locOf(expr) ?? locOf(col);
    const name =
      typeof col['as'] === 'string'
        ? identifier(col['as'])
        : (colName ?? sql.slice(exprLoc?.start.offset ?? 0, exprLoc?.end.offset ?? 0).trim());
    return { name, expr, alias: typeof col['as'] === 'string' ? identifier(col['as']) : null };
  });
}

/** How the rows of several shards merge for this SELECT, or why they cannot. */
function selectShape(ast: Node, ctx: Context): SelectShape {
  const reasons: string[] = [];
  walk(ast['columns'], (n) => {
    if (isNode(n['over'])) reasons.push('window functions across shards');
  });
  const items = selectItems(ast, ctx.sql);
  if (ast['locking_read']) reasons.push('locking reads (FOR UPDATE / FOR SHARE) across shards');
  if (ast['_next'] || ast['set_op']) reasons.push('UNION across shards');
  let limit: SelectShape['limit'] = null;
  let rewrite: SelectShape['rewrite'] = null;
  if (reasons.length === 0) {
    try {
      limit = limitOffset(ast, ctx).limit;
      const r = scatterRewrite(ast, items, ctx);
      if (r && 'reason' in r) reasons.push(r.reason);
      else if (r) rewrite = { ...r.rewrite, analysis: analyze(r.rewrite.sql, ctx.topology, UNBOUNDED, true) };
    } catch (err) {
      reasons.push(`a statement the router cannot split across shards (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  return { limit, rewrite, unmergeable: reasons.length ? [...new Set(reasons)].join(', ') : null };
}

const LINE_COMMENTS = new Set(['line']);
const ALL_COMMENTS = new Set(['line', 'block', 'hint']);

/**
 * Analyses one SQL statement against the topology: which logical tables it names and where
 * (to splice physical names), the shard-key predicates of every group of co-located sharded
 * table references, its INSERT rows, and how a multi-shard SELECT merges. The result depends
 * only on the SQL text, so it is cached per text.
 *
 * The parser never sees comments (they are blanked first, so the lexer alone decides what is
 * code), line comments are dropped from the physical SQL, and anything MySQL, the parser and
 * mysql2 could read differently is refused.
 *
 * @throws {SqlParseError} unparsable SQL (with its position) or several statements.
 * @throws {RoutingError} unknown tables, DDL, unsupported shapes, executable comments,
 * ambiguous placeholders, statements over the limits.
 */
export function analyze(rawSql: string, topology: Topology, limits: SqlLimits = DEFAULT_SQL_LIMITS, partial = false): Analysis {
  checkStatementSize(rawSql, limits);
  const first = lex(rawSql);
  checkLexed(rawSql, first, limits);
  const text = singleStatement(rawSql, first.semicolons, first.tokens);
  const lexed = text === rawSql ? first : lex(text);
  try {
    return analyzeText(
      blankComments(text, lexed, LINE_COMMENTS).trimEnd(),
      blankComments(text, lexed, ALL_COMMENTS),
      lexed.tokens,
      topology,
      partial,
    );
  } catch (err) {
    if (err instanceof RangeError) throw tooComplex(err);
    throw err;
  }
}

function analyzeText(sql: string, parserSql: string, tokens: Token[], topology: Topology, partial: boolean): Analysis {
  const paramIndex = new Map<number, number>();
  for (const t of tokens) if (t.type === 'param') paramIndex.set(t.start, paramIndex.size);
  const ast = parse(parserSql);
  const type = String(ast['type']);
  if (!['select', 'insert', 'replace', 'update', 'delete'].includes(type)) {
    throw unsupported(`${type.toUpperCase()} statements are not routed; schema changes go through \`shardline migrate\``);
  }
  const statement = type as Analysis['statement'];
  const ctx: Context = { sql, tokens, paramIndex, topology, scope: new Map() };
  const splices: Splice[] = [];
  const cteNames = new Set<string>();
  walk(ast['with'], (n) => {
    if (isNode(n['name']) && typeof n['name']['value'] === 'string') cteNames.add(n['name']['value'].toLowerCase());
  });
  if (statement === 'delete' && Array.isArray(ast['table']) && (ast['table'] as Node[]).some((t) => !t['addition'])) {
    throw unsupported('multi-table DELETE is not routed');
  }
  walk(ast, (n, parentKey) => {
    if (typeof n['table'] !== 'string' || !('db' in n) || 'column' in n) return;
    const loc = locOf(n);
    if (!loc) {
      if (parentKey === 'table' && (statement === 'insert' || statement === 'replace' || n['addition'])) return;
      throw unsupported(`cannot locate table ${n['table']} in the SQL text`);
    }
    const table = n['table'].toLowerCase();
    if (cteNames.has(table)) return;
    if (n['db']) throw unsupported(`qualified table names (${String(n['db'])}.${n['table']}) are not routed: use the logical name`);
    const kind = topology.table(table);
    if (!kind) throw unknownTable(table, topology);
    const tok = identAt(tokens, loc.start.offset);
    if (!tok || tok.value.toLowerCase() !== table) throw unsupported(`cannot locate table ${table} at offset ${loc.start.offset}`);
    splices.push({ start: tok.start, end: tok.end, table, kind: kind.kind });
    ctx.scope.set(table, table);
    if (typeof n['as'] === 'string') ctx.scope.set(n['as'].toLowerCase(), table);
  });
  const found = keyGroups(ast, { tokens, paramIndex, topology, cteNames });
  const target = writeTarget(ast, statement, topology);
  if (target?.kind === 'broadcast' && found.references > 0) {
    throw unsupported(
      `a write to broadcast table ${target.table} must not read sharded tables: it runs on every instance, the sharded rows live on one`,
    );
  }
  const insert = statement === 'insert' || statement === 'replace' ? analyzeInsert(ast, ctx, splices) : null;
  if (insert && found.blocks > 1) throw unsupported(`INSERT into sharded table ${target?.table ?? ''} must not contain subqueries`);
  const aliases = new Set([...ctx.scope.keys()].filter((k) => ctx.scope.get(k) !== k));
  walk(ast, (n) => {
    if (n['type'] !== 'column_ref' || typeof n['table'] !== 'string') return;
    const q = n['table'].toLowerCase();
    if (aliases.has(q) || !topology.table(q) || cteNames.has(q)) return;
    const loc = locOf(n);
    const tok = loc ? identAt(tokens, loc.start.offset) : undefined;
    if (!tok || tok.value.toLowerCase() !== q) throw unsupported(`cannot locate the qualifier ${q} of a column reference`);
    splices.push({ start: tok.start, end: tok.end, table: q, kind: topology.table(q)!.kind });
  });
  splices.sort((a, b) => a.start - b.start);
  const pieces: string[] = [];
  let at = 0;
  for (const s of splices) {
    pieces.push(sql.slice(at, s.start));
    at = s.end;
  }
  pieces.push(sql.slice(at));
  const sharded = [...new Set(splices.filter((s) => s.kind === 'sharded').map((s) => s.table))];
  const broadcast = [...new Set(splices.filter((s) => s.kind === 'broadcast').map((s) => s.table))];
  if (statement === 'update') checkKeyAssignments(asNodes(ast['set']), ctx, sharded, 'UPDATE');
  if (isNode(ast['on_duplicate_update']))
    checkKeyAssignments(asNodes(ast['on_duplicate_update']['set']), ctx, sharded, 'ON DUPLICATE KEY UPDATE');
  if (statement === 'update' && target?.kind === 'broadcast' && sharded.length > 0) {
    throw unsupported(
      `an UPDATE of broadcast table ${target.table} must not read sharded tables: it runs on every instance, the sharded rows live on one`,
    );
  }
  const groups = insert ? [] : found.groups;
  const only = groups.length === 1 ? groups[0]!.pin : null;
  const limit = isNode(ast['limit']) && Array.isArray(ast['limit']['value']) && ast['limit']['value'].length > 0;
  return {
    sql,
    statement,
    write: statement !== 'select',
    paramCount: paramIndex.size,
    splices,
    pieces,
    shardedTables: sharded,
    broadcastTables: broadcast,
    key: only,
    groups,
    perShardBlocker: found.perShardBlocker ?? (statement !== 'select' && limit ? 'LIMIT on a write' : null),
    insert,
    select: statement !== 'select' ? null : partial ? PARTIAL_SHAPE : selectShape(ast, ctx),
    lockingRead: statement === 'select' && hasLockingClause(tokens),
    session: sessionStateUse(tokens, statement),
  };
}

/** `FOR UPDATE`, `FOR SHARE` or `LOCK IN SHARE MODE` among the tokens (strings and comments are not tokens). */
export function hasLockingClause(tokens: readonly Token[]): boolean {
  const word = (i: number) => (tokens[i]?.type === 'ident' ? tokens[i]!.value.toUpperCase() : '');
  for (let i = 0; i < tokens.length; i++) {
    const w = word(i);
    if (w === 'FOR' && (word(i + 1) === 'UPDATE' || word(i + 1) === 'SHARE')) return true;
    if (w === 'LOCK' && word(i + 1) === 'IN' && word(i + 2) === 'SHARE' && word(i + 3) === 'MODE') return true;
  }
  return false;
}

const asNodes = (v: unknown): Node[] => (Array.isArray(v) ? v.filter(isNode) : []);

/** The table a write changes when it names only one (INSERT/REPLACE/DELETE), or a broadcast table among UPDATE's targets. */
function writeTarget(
  ast: Node,
  statement: Analysis['statement'],
  topology: Topology,
): { table: string; kind: 'sharded' | 'broadcast' } | null {
  if (statement === 'select') return null;
  const targets = asNodes(ast['table']).filter((t) => typeof t['table'] === 'string');
  const named = targets.map((t) => ({ table: String(t['table']).toLowerCase(), kind: topology.table(String(t['table']))?.kind }));
  if (statement === 'update') {
    const b = named.find((t) => t.kind === 'broadcast');
    return b ? { table: b.table, kind: 'broadcast' } : null;
  }
  const first = named[0];
  return first?.kind ? { table: first.table, kind: first.kind } : null;
}

/** Refuses an assignment (UPDATE … SET, ON DUPLICATE KEY UPDATE) that can change a shard-key column. */
function checkKeyAssignments(sets: Node[], ctx: Context, sharded: readonly string[], where: string): void {
  for (const set of sets) {
    const col = String(set['column']).toLowerCase();
    let owners: (string | undefined)[];
    if (typeof set['table'] === 'string') {
      const owner = ctx.scope.get(set['table'].toLowerCase());
      if (!owner)
        throw unsupported(`${where} assigns ${set['table']}.${String(set['column'])}, and ${set['table']} is not a table of the statement`);
      owners = [owner];
    } else owners = [...sharded];
    for (const t of owners) {
      const k = t ? ctx.topology.table(t) : undefined;
      if (k?.kind === 'sharded' && k.shardKey.toLowerCase() === col) {
        throw unsupported(
          `${where} must not change the shard key ${k.shardKey} of ${t}: the row would belong to another shard (delete and insert instead)`,
        );
      }
    }
  }
}

/**
 * The keyset pages of a SELECT for `router.paginate` (see {@link keysetPages}); the statement is
 * analysed (and refused) as {@link analyze} does first.
 * @throws {RoutingError} `SQL_UNSUPPORTED`: not a SELECT, or a shape keyset pages cannot follow.
 */
export function analyzeKeyset(rawSql: string, topology: Topology, limits: SqlLimits = DEFAULT_SQL_LIMITS): KeysetPages {
  const a = analyze(rawSql, topology, limits);
  if (a.statement !== 'select') throw unsupported('router.paginate pages a SELECT');
  const lexed = lex(a.sql);
  const ast = parse(blankComments(a.sql, lexed, ALL_COMMENTS));
  const paramIndex = new Map<number, number>();
  for (const t of lexed.tokens) if (t.type === 'param') paramIndex.set(t.start, paramIndex.size);
  return keysetPages(ast, selectItems(ast, a.sql), { sql: a.sql, tokens: lexed.tokens, paramIndex });
}
