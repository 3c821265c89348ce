import type { Token } from './lexer.js';

/**
 * What a statement does with the state of the connection it runs on: user variables, named
 * locks, the previous statement's LAST_INSERT_ID / FOUND_ROWS / ROW_COUNT — or a file written on
 * the server. Outside a transaction every statement may borrow another pooled connection, so such
 * a statement reads another caller's state or leaves its own behind for the next borrower.
 */
export interface SessionStateUse {
  /** The first construct found, as the message names it (`LAST_INSERT_ID()`, `the user variable @v`). */
  what: string;
  /** How to do it without the connection's state. */
  instead: string;
  /** Whether it writes a file on the server (refused even inside a transaction). */
  file: boolean;
  /** Whether the statement leaves state on the connection (a variable set, a lock held). */
  sets: boolean;
}

const READS: Record<string, string> = {
  last_insert_id: 'the INSERT’s result carries insertId',
  found_rows: 'count the rows with a COUNT(*) query',
  row_count: 'a write’s result carries affectedRows',
  lastval: 'keep the value NEXTVAL returned',
};
const LOCKS = new Set(['get_lock', 'release_lock', 'release_all_locks']);
/** Session variables that describe the connection's previous statement or commit, with what to use instead. */
const SESSION_COUNTERS: Record<string, string> = {
  identity: READS['last_insert_id']!,
  last_insert_id: READS['last_insert_id']!,
  warning_count: 'the result carries warningStatus',
  error_count: 'the failed call’s error says what failed',
  last_gtid: 'a write’s result carries its commit’s token',
};
const USER_VARIABLE_INSTEAD = 'bind the value as a parameter (`?`)';

const word = (t: Token | undefined): string => (t?.type === 'ident' ? t.value.toLowerCase() : '');
const punct = (t: Token | undefined, v: string): boolean => t?.type === 'punct' && t.value === v;
const adjacent = (a: Token | undefined, b: Token | undefined): boolean => a !== undefined && b !== undefined && a.end === b.start;

/**
 * The statement's use of its connection's state, or null (strings and comments are not tokens,
 * so a `@` or a function name inside them is not seen). Pure.
 */
export function sessionStateUse(tokens: readonly Token[], statement: string): SessionStateUse | null {
  let found: SessionStateUse | null = null;
  const note = (use: SessionStateUse) => {
    if (!found || (use.file && !found.file)) found = use;
    else if (use.sets) found.sets = true;
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const w = word(t);
    if (w === 'into' && statement === 'select') {
      const target = word(tokens[i + 1]);
      if (target === 'outfile' || target === 'dumpfile')
        note({
          what: `SELECT … INTO ${target.toUpperCase()}`,
          instead: 'read the rows through the router (router.stream for many) and write the file where the application runs',
          file: true,
          sets: false,
        });
      else
        note({ what: 'SELECT … INTO a variable', instead: 'read the row and keep the value in the application', file: false, sets: true });
    } else if (w === 'sql_calc_found_rows') {
      note({ what: 'SQL_CALC_FOUND_ROWS', instead: READS['found_rows']!, file: false, sets: true });
    } else if (w !== '' && punct(tokens[i + 1], '(') && !punct(tokens[i - 1], '.')) {
      if (Object.hasOwn(READS, w)) {
        const sets = w === 'last_insert_id' && !punct(tokens[i + 2], ')');
        note({ what: `${t.value.toUpperCase()}(${sets ? '…' : ''})`, instead: READS[w]!, file: false, sets });
      } else if (LOCKS.has(w)) {
        note({
          what: `${t.value.toUpperCase()}()`,
          instead:
            'a named lock belongs to one connection: take it inside a transaction (the connection is closed after it) or on a connection of your own',
          file: false,
          sets: true,
        });
      }
    } else if (punct(t, '@') && adjacent(t, tokens[i + 1])) {
      if (punct(tokens[i + 1], '@')) {
        let j = i + 2;
        if (/^(session|local)$/.test(word(tokens[j])) && punct(tokens[j + 1], '.')) j += 2;
        const counter = SESSION_COUNTERS[word(tokens[j])];
        if (counter !== undefined && Object.hasOwn(SESSION_COUNTERS, word(tokens[j])))
          note({ what: `@@${tokens[j]!.value}`, instead: counter, file: false, sets: false });
        i = j;
        continue;
      }
      const name = tokens[i + 1]!;
      const sets = punct(tokens[i + 2], ':') && punct(tokens[i + 3], '=') && adjacent(tokens[i + 2], tokens[i + 3]);
      note({ what: `the user variable @${name.value}`, instead: USER_VARIABLE_INSTEAD, file: false, sets });
      i++;
    }
  }
  return found;
}
