import { RoutingError, SqlParseError } from '../errors/index.js';
import { lineColumn, type Lexed, type Token } from './lexer.js';

/** Bounds on what the router parses: the parser is slow and recursive on huge or deep input. */
export interface SqlLimits {
  /** UTF-8 bytes of one statement's text (bound values do not count). */
  maxStatementBytes: number;
  /** Items of one `IN (…)` list. */
  maxInList: number;
}

/** 1 MiB of SQL text and 1,000 items per IN list (10,000 take the parser about half a second). */
export const DEFAULT_SQL_LIMITS: Readonly<SqlLimits> = Object.freeze({ maxStatementBytes: 1 << 20, maxInList: 1000 });

/** Characters an optimizer hint may hold: names, numbers, `(`, `)`, `,`, `.`, `=`, `@` and spaces. */
const SAFE_HINT = /^\/\*\+[A-Za-z0-9_\s(),.=@]*\*\/$/;

function at(sql: string, offset: number) {
  return { offset, ...lineColumn(sql, offset) };
}

/** Refuses a statement longer than the limit before anything else looks at it. */
export function checkStatementSize(sql: string, limits: SqlLimits): void {
  if (sql.length <= limits.maxStatementBytes / 3) return;
  const bytes = Buffer.byteLength(sql, 'utf8');
  if (bytes > limits.maxStatementBytes) {
    throw new RoutingError(
      'SQL_TOO_LARGE',
      `the statement is ${bytes} bytes, more than the router's limit of ${limits.maxStatementBytes} (router.limits.maxStatementBytes): bind large values as parameters`,
      {
        details: { limit: limits.maxStatementBytes, found: bytes },
      },
    );
  }
}

/**
 * Refuses what the router, the parser, MySQL/MariaDB and mysql2's placeholder scanner could
 * read differently: executable comments (`/*! … *\/`, `/*M! … *\/`), optimizer hints other than
 * plain names and numbers, `?` inside any comment, `??`, `--` before a non-space, unterminated
 * strings and comments; and IN lists longer than the limit.
 */
export function checkLexed(sql: string, lexed: Lexed, limits: SqlLimits): void {
  for (const c of lexed.comments) {
    if (c.kind === 'executable') {
      throw new RoutingError(
        'SQL_EXECUTABLE_COMMENT',
        `an executable comment (/*! … */ or /*M! … */) at offset ${c.start}: MySQL and MariaDB run its content, which the router cannot see; write it as plain SQL`,
        {
          details: at(sql, c.start),
        },
      );
    }
    if (!c.closed) throw new SqlParseError('SQL_PARSE', `an unterminated comment at offset ${c.start}`, at(sql, c.start));
    const text = sql.slice(c.start, c.end);
    if (text.includes('?')) {
      throw new RoutingError(
        'SQL_AMBIGUOUS',
        `a \`?\` inside a comment at offset ${c.start}: mysql2 substitutes placeholders inside some comments and hints, the router does not; remove it`,
        {
          details: at(sql, c.start),
        },
      );
    }
    if (c.kind === 'hint' && (!SAFE_HINT.test(text) || /\bSET_VAR\b/i.test(text) || sql.charCodeAt(c.end) === 42)) {
      throw new RoutingError(
        'SQL_UNSUPPORTED',
        `an optimizer hint at offset ${c.start} holds more than names, numbers, parentheses, commas, dots and \`=\` (or SET_VAR): such hints are refused`,
        {
          details: at(sql, c.start),
        },
      );
    }
  }
  const first = lexed.ambiguities[0];
  if (first) {
    if (first.what.startsWith('an unterminated'))
      throw new SqlParseError('SQL_PARSE', `${first.what} at offset ${first.offset}`, at(sql, first.offset));
    throw new RoutingError(
      'SQL_AMBIGUOUS',
      `${first.what} at offset ${first.offset}: MySQL, the router and mysql2 could read it differently; rewrite it`,
      {
        details: at(sql, first.offset),
      },
    );
  }
  checkInLists(lexed.tokens, limits.maxInList);
  checkOperators(lexed.tokens);
}

/** AND/OR/XOR and arithmetic/bitwise operators per statement: the parser recurses per operator and needs seconds for 3,000. */
export const MAX_OPERATORS = 1000;
const OPERATOR_PUNCT = new Set(['+', '-', '*', '/', '%', '|', '&', '^']);
const OPERATOR_WORD = /^(and|or|xor|div|mod)$/i;

function checkOperators(tokens: readonly Token[]): void {
  let count = 0;
  for (const t of tokens) {
    if ((t.type === 'punct' && OPERATOR_PUNCT.has(t.value)) || (t.type === 'ident' && t.value.length <= 3 && OPERATOR_WORD.test(t.value))) {
      if (++count > MAX_OPERATORS) {
        throw new RoutingError(
          'SQL_TOO_COMPLEX',
          `the statement has more than ${MAX_OPERATORS} AND/OR/arithmetic operators (one at offset ${t.start}): the router's parser recurses per operator; split it or bind a list`,
          {
            details: { limit: MAX_OPERATORS, offset: t.start },
          },
        );
      }
    }
  }
}

function checkInLists(tokens: readonly Token[], max: number): void {
  for (let i = 0; i + 1 < tokens.length; i++) {
    const t = tokens[i]!;
    if (
      t.type !== 'ident' ||
      t.value.length !== 2 ||
      t.value.toLowerCase() !== 'in' ||
      tokens[i + 1]!.value !== '(' ||
      tokens[i + 1]!.type !== 'punct'
    )
      continue;
    let depth = 0;
    let items = 1;
    for (let j = i + 1; j < tokens.length; j++) {
      const u = tokens[j]!;
      if (u.type !== 'punct') continue;
      if (u.value === '(') depth++;
      else if (u.value === ')' && --depth === 0) break;
      else if (u.value === ',' && depth === 1 && ++items > max) {
        throw new RoutingError(
          'SQL_TOO_LARGE',
          `an IN list at offset ${t.start} has more than ${max} items (router.limits.maxInList): split the query`,
          {
            details: { limit: max, offset: t.start },
          },
        );
      }
    }
  }
}

/** The text with every comment replaced by spaces (newlines kept), offsets unchanged. */
export function blankComments(sql: string, lexed: Lexed, kinds: ReadonlySet<string>): string {
  let out = '';
  let from = 0;
  for (const c of lexed.comments) {
    if (!kinds.has(c.kind)) continue;
    out += sql.slice(from, c.start) + sql.slice(c.start, c.end).replace(/[^\n]/g, ' ');
    from = c.end;
  }
  return from === 0 ? sql : out + sql.slice(from);
}
