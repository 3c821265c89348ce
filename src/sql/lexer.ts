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

/** Result of {@link lex}: tokens outside comments and strings, and the statement terminators. */
export interface Lexed {
  tokens: Token[];
  /** Offsets of `;` at the top level. */
  semicolons: number[];
}

const isIdentStart = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36 || c > 127;
const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * A small MySQL lexer: identifiers (bare and backticked), strings ('…', "…" with backslash and
 * doubled-quote escapes), numbers, `?` placeholders and punctuation, skipping `#`, `-- ` and
 * `/* … *\/` comments. It only locates things; the parser decides what they mean.
 */
export function lex(sql: string): Lexed {
  const tokens: Token[] = [];
  const semicolons: number[] = [];
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 12) {
      i++;
    } else if (c === 35 || (c === 45 && sql.charCodeAt(i + 1) === 45 && (i + 2 >= n || /\s/.test(sql[i + 2]!)))) {
      const nl = sql.indexOf('\n', i);
      i = nl === -1 ? n : nl + 1;
    } else if (c === 47 && sql.charCodeAt(i + 1) === 42) {
      const close = sql.indexOf('*/', i + 2);
      i = close === -1 ? n : close + 2;
    } else if (c === 39 || c === 34) {
      const start = i;
      i++;
      while (i < n) {
        const d = sql.charCodeAt(i);
        if (d === 92) i += 2;
        else if (d === c && sql.charCodeAt(i + 1) === c) i += 2;
        else if (d === c) {
          i++;
          break;
        } else i++;
      }
      tokens.push({ type: 'string', start, end: Math.min(i, n), value: sql.slice(start, Math.min(i, n)) });
    } else if (c === 96) {
      const start = i;
      let name = '';
      i++;
      while (i < n) {
        if (sql.charCodeAt(i) === 96) {
          if (sql.charCodeAt(i + 1) === 96) {
            name += '`';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        name += sql[i];
        i++;
      }
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
      tokens.push({ type: 'param', start: i, end: i + 1, value: '?' });
      i++;
    } else {
      if (c === 59) semicolons.push(i);
      tokens.push({ type: 'punct', start: i, end: i + 1, value: sql[i]! });
      i++;
    }
  }
  return { tokens, semicolons };
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
