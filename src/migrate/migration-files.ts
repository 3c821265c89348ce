import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { MigrationError } from '../errors/index.js';
import type { Topology } from '../shard/index.js';
import { lex, type Token } from '../sql/index.js';

/** One statement of a migration with the logical table it changes. */
export interface MigrationStatement {
  index: number;
  sql: string;
  table: string;
  kind: 'sharded' | 'broadcast';
  /** Offsets of the table name in `sql`, replaced per target. */
  nameStart: number;
  nameEnd: number;
}

/** A numbered migration file. */
export interface Migration {
  id: string;
  file: string;
  checksum: string;
  statements: MigrationStatement[];
}

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

function invalid(file: string, message: string): MigrationError {
  return new MigrationError('MIGRATION_INVALID', `${file}: ${message}`, { details: { file } });
}

/** Splits SQL text at top-level semicolons, dropping empty statements. */
export function splitStatements(text: string): string[] {
  const { semicolons } = lex(text);
  const out: string[] = [];
  let at = 0;
  for (const pos of [...semicolons, text.length]) {
    const stmt = text.slice(at, pos);
    if (lex(stmt).tokens.length > 0) out.push(stmt.trim());
    at = pos + 1;
  }
  return out;
}

const word = (t: Token | undefined, ...words: string[]) => t !== undefined && t.type === 'ident' && words.includes(t.value.toUpperCase());

/** Finds the table a DDL statement changes: CREATE/ALTER/DROP/TRUNCATE TABLE, CREATE/DROP INDEX … ON, INSERT/UPDATE/DELETE (broadcast seeds). */
function targetOf(tokens: readonly Token[]): Token | undefined {
  let i = 0;
  const first = tokens[0]?.value.toUpperCase();
  if (first === 'CREATE' || first === 'ALTER' || first === 'DROP') {
    i = 1;
    while (word(tokens[i], 'TEMPORARY', 'UNIQUE', 'FULLTEXT', 'SPATIAL', 'ONLINE', 'OFFLINE')) i++;
    if (word(tokens[i], 'TABLE')) {
      i++;
      if (word(tokens[i], 'IF')) i += word(tokens[i + 1], 'NOT') ? 3 : 2;
      return tokens[i];
    }
    if (word(tokens[i], 'INDEX')) {
      const on = tokens.findIndex((t, k) => k > i && word(t, 'ON'));
      return on === -1 ? undefined : tokens[on + 1];
    }
    return undefined;
  }
  if (first === 'TRUNCATE') return word(tokens[1], 'TABLE') ? tokens[2] : tokens[1];
  if (first === 'INSERT' || first === 'REPLACE') {
    i = 1;
    while (word(tokens[i], 'IGNORE', 'INTO', 'LOW_PRIORITY', 'DELAYED', 'HIGH_PRIORITY')) i++;
    return tokens[i];
  }
  if (first === 'UPDATE') return tokens[1];
  if (first === 'DELETE') return word(tokens[1], 'FROM') ? tokens[2] : undefined;
  return undefined;
}

/**
 * Why a statement would touch a table besides the one migrate renames per target (or rename that
 * one away from the topology's names), or null. Every other table name in a statement reaches the
 * server as written: unqualified it names a table of whatever database the connection has, or none.
 */
function otherTableUse(verb: string, tokens: readonly Token[], at: number): string | null {
  let depth = 0;
  for (let i = at + 1; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.type === 'punct' && t.value === '(') depth++;
    else if (t.type === 'punct' && t.value === ')') depth--;
    else if (verb === 'ALTER' && depth === 0 && word(t, 'RENAME') && !word(tokens[i + 1], 'COLUMN', 'INDEX', 'KEY'))
      return 'renames the table: physical names come from the config (sharding naming), a migration cannot change them';
    else if (verb === 'ALTER' && word(t, 'EXCHANGE'))
      return 'exchanges a partition with another table, which migrate would not rename per target';
    else if (verb === 'DROP' && depth === 0 && t.type === 'punct' && t.value === ',')
      return 'drops several tables: drop one table per statement (migrate renames only the first)';
    else if (
      verb === 'CREATE' &&
      (word(t, 'SELECT') || (word(t, 'LIKE') && (i === at + 1 || (i === at + 2 && tokens[at + 1]!.value === '('))))
    )
      return 'copies another table (CREATE TABLE … LIKE / … SELECT), which migrate would not rename per target: write the columns out';
    else if (verb !== 'CREATE' && verb !== 'ALTER' && verb !== 'DROP' && word(t, 'SELECT'))
      return 'reads another table, which migrate would not rename per target: write the values out';
  }
  return null;
}

/** Classifies one statement against the topology. @throws {MigrationError} */
export function classifyStatement(file: string, index: number, sql: string, topology: Topology): MigrationStatement {
  const { tokens, comments } = lex(sql);
  if (comments.some((c) => c.kind === 'executable'))
    throw invalid(
      file,
      `statement ${index + 1} holds an executable comment (/*! … */ or /*M! … */): the server runs its content, which migrate neither renames nor checks; write it as plain SQL`,
    );
  const name = targetOf(tokens);
  const verb = tokens[0]?.value.toUpperCase() ?? '';
  if (!name || (name.type !== 'ident' && name.type !== 'quoted')) {
    throw invalid(
      file,
      `statement ${index + 1} is not a supported migration statement (CREATE/ALTER/DROP TABLE, CREATE/DROP INDEX … ON, TRUNCATE, or data for broadcast tables)`,
    );
  }
  const next = tokens[tokens.indexOf(name) + 1];
  if (next?.value === '.') throw invalid(file, `statement ${index + 1}: use logical table names, not ${name.value}.…`);
  const table = name.value.toLowerCase();
  const kind = topology.table(table);
  if (!kind) throw invalid(file, `statement ${index + 1} changes ${table}, which is neither a sharded nor a broadcast table in the config`);
  if (['INSERT', 'REPLACE', 'UPDATE', 'DELETE'].includes(verb) && kind.kind === 'sharded') {
    throw invalid(file, `statement ${index + 1}: data changes to sharded table ${table} go through the router, not migrations`);
  }
  if (tokens.some((t) => word(t, 'REFERENCES')))
    throw invalid(file, `statement ${index + 1}: foreign keys cannot span shards; remove REFERENCES`);
  const other = otherTableUse(verb, tokens, tokens.indexOf(name));
  if (other) throw invalid(file, `statement ${index + 1} ${other}`);
  return { index, sql, table, kind: kind.kind, nameStart: name.start, nameEnd: name.end };
}

/** Reads `NNNN_name.sql` files in order. @throws {MigrationError} for misnamed or unsupported files. */
export function loadMigrations(dir: string, topology: Topology): Migration[] {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith('.sql'))
      .sort();
  } catch (cause) {
    throw new MigrationError('MIGRATION_INVALID', `cannot read migrations folder ${dir}: ${(cause as Error).message}`, { cause });
  }
  const seen = new Set<string>();
  return files.map((file) => {
    const m = FILE.exec(file);
    if (!m) throw invalid(file, 'migration files are named NNNN_name.sql (four digits, lowercase name)');
    if (seen.has(m[1]!)) throw invalid(file, `another migration already uses number ${m[1]}`);
    seen.add(m[1]!);
    const text = readFileSync(path.join(dir, file), 'utf8');
    const statements = splitStatements(text).map((sql, i) => classifyStatement(file, i, sql, topology));
    if (statements.length === 0) throw invalid(file, 'contains no statement');
    return { id: file.replace(/\.sql$/, ''), file, checksum: createHash('sha256').update(text).digest('hex'), statements };
  });
}
