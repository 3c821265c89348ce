/**
 * Redaction of secrets in SQL text that shardline prints (the statements `binlog dump` shows).
 * Built on a tokenizer, not on one regular expression, so that quotes, escapes (`\'`, `''`),
 * comments and executable comments cannot end a redaction early or hide a secret from it.
 *
 * Rules, per statement:
 * 1. Account and replication statements (CREATE/ALTER USER, SET PASSWORD, GRANT, CHANGE MASTER,
 *    CHANGE REPLICATION SOURCE, START SLAVE/REPLICA/GROUP_REPLICATION, CREATE/ALTER SERVER,
 *    SET STATEMENT, PREPARE, EXECUTE, statements on the `mysql` schema, any statement with
 *    IDENTIFIED) fail closed: every string literal is redacted except account names
 *    (`'app'@'%'`), plugin names (WITH/VIA) and values of keys known to hold no secret (HOST,
 *    USER, DATABASE, MASTER_LOG_FILE, SSL paths…).
 * 2. In every statement, a string after a password key (PASSWORD, OLD_PASSWORD,
 *    MASTER_PASSWORD, SOURCE_PASSWORD, AUTHENTICATION_STRING) and every string argument of
 *    PASSWORD(), ENCRYPT(), AES_ENCRYPT()… is redacted.
 * 3. In strings that are kept, URL credentials (`mysql://u:secret@h`) and `password=…` /
 *    `password "…"` options are masked.
 *
 * The session's sql_mode is not known from the text (NO_BACKSLASH_ESCAPES changes where a string
 * ends), so text with a backslash is read both ways and the union of what each reading redacts
 * is redacted.
 */

/** The text that replaces a redacted string literal. */
export const REDACTED_LITERAL = "'<redacted>'";
const REDACTED_PART = '<redacted>';

type TokenKind = 'word' | 'string' | 'ident' | 'punct';

interface Token {
  kind: TokenKind;
  start: number;
  end: number;
  /** Upper-cased text for words, the character for punctuation. */
  value: string;
}

const WORD = /[A-Za-z0-9_$\u0080-\uffff]/;

/**
 * Splits SQL into significant tokens; comments are dropped, executable comments are read as
 * code. `clean` is false when a string, identifier or comment is not closed.
 */
function tokenize(sql: string, backslashEscapes: boolean): { tokens: Token[]; clean: boolean } {
  const tokens: Token[] = [];
  let clean = true;
  let i = 0;
  let execDepth = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') {
      i++;
    } else if (c === '#' || (c === '-' && sql[i + 1] === '-' && (i + 2 >= n || /\s/.test(sql[i + 2]!)))) {
      const nl = sql.indexOf('\n', i);
      i = nl === -1 ? n : nl + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const exec = /^\/\*(?:!|M!)(\d{5,6})?/.exec(sql.slice(i, i + 10));
      if (exec) {
        execDepth++;
        i += exec[0].length;
      } else {
        const close = sql.indexOf('*/', i + 2);
        if (close === -1) clean = false;
        i = close === -1 ? n : close + 2;
      }
    } else if (c === '*' && sql[i + 1] === '/' && execDepth > 0) {
      execDepth--;
      i += 2;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      for (;;) {
        if (j >= n) {
          clean = false;
          break;
        }
        const d = sql[j]!;
        if (backslashEscapes && d === '\\') {
          j += 2;
        } else if (d === c) {
          if (sql[j + 1] === c) j += 2;
          else {
            j++;
            break;
          }
        } else {
          j++;
        }
      }
      tokens.push({ kind: 'string', start: i, end: Math.min(j, n), value: c });
      i = Math.min(j, n);
    } else if (c === '`') {
      let j = i + 1;
      for (;;) {
        if (j >= n) {
          clean = false;
          break;
        }
        if (sql[j] === '`') {
          if (sql[j + 1] === '`') j += 2;
          else {
            j++;
            break;
          }
        } else j++;
      }
      tokens.push({
        kind: 'ident',
        start: i,
        end: Math.min(j, n),
        value: sql
          .slice(i + 1, j - 1)
          .replace(/``/g, '`')
          .toUpperCase(),
      });
      i = Math.min(j, n);
    } else if (WORD.test(c)) {
      let j = i + 1;
      while (j < n && WORD.test(sql[j]!)) j++;
      tokens.push({ kind: 'word', start: i, end: j, value: sql.slice(i, j).toUpperCase() });
      i = j;
    } else {
      tokens.push({ kind: 'punct', start: i, end: i + 1, value: c });
      i++;
    }
  }
  return { tokens, clean: clean && execDepth === 0 };
}

/** Keys whose string value is a secret in any statement. */
const SECRET_KEYS = new Set(['PASSWORD', 'OLD_PASSWORD', 'MASTER_PASSWORD', 'SOURCE_PASSWORD', 'AUTHENTICATION_STRING', 'PASSWD']);
/** Functions whose string arguments are secrets (passwords, encryption keys). */
const SECRET_FUNCTIONS = new Set([
  'PASSWORD',
  'OLD_PASSWORD',
  'ENCRYPT',
  'DES_ENCRYPT',
  'DES_DECRYPT',
  'AES_ENCRYPT',
  'AES_DECRYPT',
  'ENCODE',
  'DECODE',
  'ED25519_PASSWORD',
]);
/** Keys after which a string holds no secret, in the statements that otherwise fail closed. */
const SAFE_KEYS = new Set([
  'USER',
  'EXISTS',
  'FOR',
  'TO',
  'FROM',
  'WITH',
  'VIA',
  'SUBJECT',
  'ISSUER',
  'CIPHER',
  'CHANNEL',
  'ROLE',
  'HOST',
  'SOCKET',
  'DATABASE',
  'OWNER',
  'WRAPPER',
  'PORT',
  'MASTER_HOST',
  'MASTER_USER',
  'MASTER_LOG_FILE',
  'RELAY_LOG_FILE',
  'MASTER_SSL_CA',
  'MASTER_SSL_CAPATH',
  'MASTER_SSL_CERT',
  'MASTER_SSL_KEY',
  'MASTER_SSL_CIPHER',
  'MASTER_SSL_CRL',
  'MASTER_SSL_CRLPATH',
  'MASTER_TLS_VERSION',
  'MASTER_TLS_CIPHERSUITES',
  'MASTER_PUBLIC_KEY_PATH',
  'MASTER_COMPRESSION_ALGORITHMS',
  'SOURCE_HOST',
  'SOURCE_USER',
  'SOURCE_LOG_FILE',
  'SOURCE_SSL_CA',
  'SOURCE_SSL_CAPATH',
  'SOURCE_SSL_CERT',
  'SOURCE_SSL_KEY',
  'SOURCE_SSL_CIPHER',
  'SOURCE_SSL_CRL',
  'SOURCE_SSL_CRLPATH',
  'SOURCE_TLS_VERSION',
  'SOURCE_TLS_CIPHERSUITES',
  'SOURCE_PUBLIC_KEY_PATH',
  'SOURCE_COMPRESSION_ALGORITHMS',
  'NETWORK_NAMESPACE',
  'DEFAULT_AUTH',
  'PLUGIN_DIR',
]);
/** Statement beginnings that make the statement fail closed. */
const SENSITIVE_STARTS: readonly (readonly string[])[] = [
  ['CREATE', 'USER'],
  ['CREATE', 'OR', 'REPLACE', 'USER'],
  ['ALTER', 'USER'],
  ['SET', 'PASSWORD'],
  ['SET', 'STATEMENT'],
  ['GRANT'],
  ['CHANGE', 'MASTER'],
  ['CHANGE', 'REPLICATION', 'SOURCE'],
  ['START', 'SLAVE'],
  ['START', 'REPLICA'],
  ['START', 'GROUP_REPLICATION'],
  ['CREATE', 'SERVER'],
  ['CREATE', 'OR', 'REPLACE', 'SERVER'],
  ['ALTER', 'SERVER'],
  ['PREPARE'],
  ['EXECUTE'],
];
/** Account-name contexts: a string after these (or next to `@`) names a user or host. */
const ACCOUNT_STATEMENTS = new Set(['CREATE', 'ALTER', 'GRANT', 'SET']);

interface Mask {
  start: number;
  end: number;
  /** True when the whole literal goes (`'<redacted>'`), false for a part inside a kept string. */
  whole: boolean;
}

function isIntroducer(t: Token | undefined): boolean {
  return t !== undefined && t.kind === 'word' && (/^_[A-Z0-9]+$/.test(t.value) || t.value === 'N' || t.value === 'X' || t.value === 'B');
}

function isSensitive(statement: readonly Token[]): boolean {
  const words = statement.slice(0, 4).map((t) => (t.kind === 'word' ? t.value : ''));
  if (SENSITIVE_STARTS.some((start) => start.every((w, i) => words[i] === w))) return true;
  for (let i = 0; i < statement.length; i++) {
    const t = statement[i]!;
    if (t.kind === 'word' && t.value === 'IDENTIFIED') return true;
    if ((t.kind === 'word' || t.kind === 'ident') && t.value === 'MYSQL' && statement[i + 1]?.value === '.') return true;
  }
  return false;
}

/** The word a string is the value of: the last word before it, skipping `=`, `(` and introducers. */
function keyOf(statement: readonly Token[], index: number): Token | undefined {
  let k = index - 1;
  while (k >= 0) {
    const t = statement[k]!;
    if (t.kind === 'punct' && (t.value === '=' || t.value === '(')) k--;
    else if (isIntroducer(t) && t.end === statement[k + 1]!.start) k--;
    else break;
  }
  return statement[k];
}

const URL_CREDENTIALS = /(:\/\/[^/\s:@'"]*:)([^@\s'"/]+)(@)/g;
const PASSWORD_OPTION = /(\bpass(?:word|wd)?\b\s*(?:[=:]\s*)?)("(?:[^"\\]|\\.)*"|\\?'(?:[^'\\]|\\.)*\\?'|[^\s,;'")]+)/gi;

function partialMasks(sql: string, t: Token, into: Mask[]): void {
  const body = sql.slice(t.start, t.end);
  for (const re of [URL_CREDENTIALS, PASSWORD_OPTION]) {
    re.lastIndex = 0;
    for (let m = re.exec(body); m; m = re.exec(body)) {
      const start = t.start + m.index + m[1]!.length;
      into.push({ start, end: start + m[2]!.length, whole: false });
    }
  }
}

function statementMasks(sql: string, statement: readonly Token[], into: Mask[]): void {
  const sensitive = isSensitive(statement);
  const accounts = sensitive && statement[0]?.kind === 'word' && ACCOUNT_STATEMENTS.has(statement[0].value);
  let secretDepth = -1;
  let depth = 0;
  for (let i = 0; i < statement.length; i++) {
    const t = statement[i]!;
    if (t.kind === 'punct') {
      if (t.value === '(') {
        const fn = statement[i - 1];
        if (secretDepth === -1 && fn?.kind === 'word' && SECRET_FUNCTIONS.has(fn.value)) secretDepth = depth;
        depth++;
      } else if (t.value === ')') {
        depth--;
        if (depth === secretDepth) secretDepth = -1;
      }
      continue;
    }
    if (t.kind !== 'string') continue;
    const key = keyOf(statement, i);
    const keyWord = key?.kind === 'word' ? key.value : undefined;
    let secret = secretDepth !== -1 || (keyWord !== undefined && SECRET_KEYS.has(keyWord));
    if (!secret && sensitive) {
      const nextToken = statement[i + 1];
      const account =
        (key?.kind === 'punct' && key.value === '@') ||
        (nextToken?.kind === 'punct' && nextToken.value === '@' && nextToken.start === t.end);
      const safe = keyWord !== undefined && SAFE_KEYS.has(keyWord);
      const listedAccount = accounts && key?.kind === 'punct' && key.value === ',';
      secret = !(account || safe || listedAccount);
    }
    if (secret) into.push({ start: t.start, end: t.end, whole: true });
    else partialMasks(sql, t, into);
  }
}

function masksFor(sql: string, backslashEscapes: boolean): { masks: Mask[]; clean: boolean } {
  const { tokens, clean } = tokenize(sql, backslashEscapes);
  const masks: Mask[] = [];
  let from = 0;
  for (let i = 0; i <= tokens.length; i++) {
    if (i === tokens.length || (tokens[i]!.kind === 'punct' && tokens[i]!.value === ';')) {
      if (i > from) statementMasks(sql, tokens.slice(from, i), masks);
      from = i + 1;
    }
  }
  return { masks, clean };
}

/**
 * Replaces the secrets in SQL text (see the module comment for the rules):
 * `ALTER USER 'app'@'%' IDENTIFIED BY 's3cret'` → `ALTER USER 'app'@'%' IDENTIFIED BY '<redacted>'`.
 */
export function redactSqlSecrets(sql: string): string {
  const escaped = masksFor(sql, true);
  let masks = escaped.masks;
  if (sql.includes('\\')) {
    // A statement the server ran has no unclosed string in its true reading: when only one
    // reading is clean, it is the true one; otherwise redact what either reading finds.
    const literal = masksFor(sql, false);
    if (literal.clean && !escaped.clean) masks = literal.masks;
    else if (literal.clean === escaped.clean) masks = [...escaped.masks, ...literal.masks];
  }
  if (masks.length === 0) return sql;
  masks.sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: Mask[] = [];
  for (const m of masks) {
    const last = merged[merged.length - 1];
    if (last && m.start < last.end) {
      last.end = Math.max(last.end, m.end);
      last.whole ||= m.whole;
    } else merged.push({ ...m });
  }
  let out = '';
  let at = 0;
  for (const m of merged) {
    out += sql.slice(at, m.start) + (m.whole ? REDACTED_LITERAL : REDACTED_PART);
    at = m.end;
  }
  return out + sql.slice(at);
}
