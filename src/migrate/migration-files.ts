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

/** Classifies one statement against the topology. @throws {MigrationError} */
export function classifyStatement(file: string, index: number, sql: string, topology: Topology): MigrationStatement {
  const { tokens } = lex(sql);
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
