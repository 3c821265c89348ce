/** Token kinds the router cares about; everything else is `punct`. */
export type TokenType = 'ident' | 'quoted' | 'string' | 'number' | 'param' | 'punct';

/** One token with its [start, end) offsets in the SQL text. */
export interface Token {
  type: TokenType;
  start: number;
  end: number;
  /** The identifier's name (unquoted), the punctuation, or the raw text. */
  value: string;
}

/**
 * A comment: `line` (`#`, `-- `), `block` (`/* … *\/`), `hint` (`/*+ … *\/`) or `executable`
 * (`/*! … *\/`, `/*M! … *\/`, which MySQL/MariaDB run as SQL). `end` is exclusive.
 */
export interface Comment {
  kind: 'line' | 'block' | 'hint' | 'executable';
  start: number;
  end: number;
  /** False when the text ends before the comment's `*\/`. */
  closed: boolean;
}

/** Something MySQL, the parser and mysql2 may read differently; the router refuses it. */
export interface Ambiguity {
  offset: number;
  what: string;
}

/** Result of {@link lex}: tokens outside comments and strings, and the statement terminators. */
export interface Lexed {
  tokens: Token[];
  /** Offsets of `;` at the top level. */
  semicolons: number[];
  comments: Comment[];
  ambiguities: Ambiguity[];
}

const isIdentStart = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36 || c > 127;
const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * A small MySQL lexer: identifiers (bare and backticked), strings ('…', "…" with backslash and
 * doubled-quote escapes), numbers, `?` placeholders and punctuation, skipping `#`, `-- ` and
 * `/* … *\/` comments (reported in `comments`). Comment boundaries follow MySQL and mysql2's
 * placeholder scanner: `--` starts a comment only before a control character or space. It only
 * locates things; the parser decides what they mean.
 */
export function lex(sql: string): Lexed {
  const tokens: Token[] = [];
  const semicolons: number[] = [];
  const comments: Comment[] = [];
  const ambiguities: Ambiguity[] = [];
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 12) {
      i++;
    } else if (c === 35 || (c === 45 && sql.charCodeAt(i + 1) === 45 && (i + 2 >= n || sql.charCodeAt(i + 2) <= 32))) {
      const nl = sql.indexOf('\n', i);
      const end = nl === -1 ? n : nl;
      comments.push({ kind: 'line', start: i, end, closed: true });
      i = end;
    } else if (c === 45 && sql.charCodeAt(i + 1) === 45) {
      ambiguities.push({ offset: i, what: '`--` not followed by a space (MySQL reads two minus signs, the parser a comment)' });
      tokens.push({ type: 'punct', start: i, end: i + 1, value: '-' });
      i++;
    } else if (c === 47 && sql.charCodeAt(i + 1) === 42) {
      const close = sql.indexOf('*/', i + 2);
      const end = close === -1 ? n : close + 2;
      const m = sql.charCodeAt(i + 2);
      const kind = m === 33 || ((m === 77 || m === 109) && sql.charCodeAt(i + 3) === 33) ? 'executable' : m === 43 ? 'hint' : 'block';
      comments.push({ kind, start: i, end, closed: close !== -1 });
      i = end;
    } else if (c === 39 || c === 34) {
      const start = i;
      let closed = false;
      i++;
      while (i < n) {
        const d = sql.charCodeAt(i);
        if (d === 92) i += 2;
        else if (d === c && sql.charCodeAt(i + 1) === c) i += 2;
        else if (d === c) {
          i++;
          closed = true;
          break;
        } else i++;
      }
      if (!closed) ambiguities.push({ offset: start, what: 'an unterminated string' });
      tokens.push({ type: 'string', start, end: Math.min(i, n), value: sql.slice(start, Math.min(i, n)) });
    } else if (c === 96) {
      const start = i;
      let name = '';
      let closed = false;
      i++;
      while (i < n) {
        if (sql.charCodeAt(i) === 96) {
          if (sql.charCodeAt(i + 1) === 96) {
            name += '`';
            i += 2;
            continue;
          }
          i++;
          closed = true;
          break;
        }
        name += sql[i];
        i++;
      }
      if (!closed) ambiguities.push({ offset: start, what: 'an unterminated quoted identifier' });
      tokens.push({ type: 'quoted', start, end: i, value: name });
    } else if (isDigit(c) || (c === 46 && isDigit(sql.charCodeAt(i + 1)))) {
      const start = i;
      while (i < n && /[0-9a-zA-Z_.]/.test(sql[i]!)) {
        if ((sql[i] === 'e' || sql[i] === 'E') && (sql[i + 1] === '+' || sql[i + 1] === '-')) i++;
        i++;
      }
      const text = sql.slice(start, i);
      tokens.push({ type: /^[0-9]*\.?[0-9]+(e[+-]?\d+)?$|^\d+\.$/i.test(text) ? 'number' : 'ident', start, end: i, value: text });
    } else if (isIdentStart(c)) {
      const start = i;
      while (i < n) {
        const d = sql.charCodeAt(i);
        if (isIdentStart(d) || isDigit(d)) i++;
        else break;
      }
      tokens.push({ type: 'ident', start, end: i, value: sql.slice(start, i) });
    } else if (c === 63) {
      if (sql.charCodeAt(i + 1) === 63) ambiguities.push({ offset: i, what: '`??` (mysql2 reads an identifier placeholder)' });
      tokens.push({ type: 'param', start: i, end: i + 1, value: '?' });
      i++;
    } else {
      if (c === 59) semicolons.push(i);
      tokens.push({ type: 'punct', start: i, end: i + 1, value: sql[i]! });
      i++;
    }
  }
  return { tokens, semicolons, comments, ambiguities };
}

/** Index of the first token whose start is ≥ offset (binary search). */
export function tokenAt(tokens: readonly Token[], offset: number): number {
  let lo = 0;
  let hi = tokens.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (tokens[mid]!.start < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** 1-based line and column of an offset. */
export function lineColumn(sql: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < sql.length; i++) {
    if (sql.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  }
  return { line, column: offset - last };
}
