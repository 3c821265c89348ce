import { ConfigError } from '../errors/index.js';

const PLACEHOLDER = /\{([a-z]+)(?::0(\d))?\}/g;

/**
 * Expands `{name}` and `{name:0N}` (N a single digit) placeholders of a naming template.
 * @throws {ConfigError} `CONFIG_INVALID` naming `field` for an unknown placeholder or a stray brace.
 */
export function expandTemplate(template: string, values: Readonly<Record<string, string | number>>, field = 'sharding.naming'): string {
  const out = template.replace(PLACEHOLDER, (match, key: string, width: string | undefined) => {
    const value = values[key];
    if (value === undefined)
      throw namingError(
        field,
        template,
        `unknown placeholder ${match} (this template knows ${Object.keys(values)
          .map((k) => `{${k}}`)
          .join(', ')})`,
      );
    return width ? String(value).padStart(Number(width), '0') : String(value);
  });
  if (/[{}]/.test(out))
    throw namingError(field, template, 'a brace that is not a placeholder: placeholders are {name} or {name:0N} with N one digit');
  return out;
}

function namingError(field: string, template: string, why: string): ConfigError {
  return new ConfigError('CONFIG_INVALID', `${field} "${template}": ${why}`, { details: { field, fields: [field] } });
}

/**
 * Checks the naming templates against the whole layout: every placeholder known, `{table}` in
 * the table template, every (database, table) pair distinct across the shards, names at most 64
 * characters. Pure; run when a Topology is built from a config.
 * @throws {ConfigError} `CONFIG_INVALID` naming the field (`sharding.naming.table` / `.database`).
 */
export function checkNaming(rules: NamingRules, logicalTables: readonly string[]): void {
  const names = new PhysicalNames(rules);
  for (const db of names.allDatabases()) {
    if (db.length === 0 || db.length > 64)
      throw namingError(
        'sharding.naming.database',
        rules.database,
        `gives the database name "${db}" (${db.length} characters; MySQL allows 1 … 64)`,
      );
  }
  const probe = logicalTables.reduce((a, b) => (b.length > a.length ? b : a), 't');
  names.table(probe, 0);
  if (!/\{table\}/.test(rules.table))
    throw namingError('sharding.naming.table', rules.table, 'needs {table}: without it every logical table would share one physical table');
  const seen = new Map<string, number>();
  for (let shard = 0; shard < rules.shardCount; shard++) {
    const table = names.table(probe, shard);
    if (table.length > 64)
      throw namingError(
        'sharding.naming.table',
        rules.table,
        `gives the table name "${table}" (${table.length} characters; MySQL allows 64)`,
      );
    const key = `${names.database(shard)}.${table}`;
    const other = seen.get(key);
    if (other !== undefined) {
      throw namingError(
        'sharding.naming.table',
        rules.table,
        `puts shards ${other} and ${shard} in the same table ${key}: every shard needs its own physical table — add {shard} (e.g. "{table}_{shard:04}") or give every shard its own database`,
      );
    }
    seen.set(key, shard);
  }
}

/** Backtick-quotes an identifier for MySQL. */
export function quoteIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

/** Naming rules resolved from config. */
export interface NamingRules {
  shardCount: number;
  databases: number;
  database: string;
  table: string;
  broadcastDatabase: string;
}

/**
 * Physical names of logical tables, computed once per (table, shard) and then served from a
 * cache: on the hot path a name is one array read.
 */
export class PhysicalNames {
  private readonly dbNames: string[];
  private readonly tableCache = new Map<string, string[]>();
  private readonly qualifiedCache = new Map<string, string[]>();

  constructor(private readonly rules: NamingRules) {
    this.dbNames = Array.from({ length: rules.shardCount }, (_, shard) =>
      expandTemplate(rules.database, { db: this.databaseIndex(shard), shard }, 'sharding.naming.database'),
    );
  }

  /** floor(shard × databases ÷ shards): contiguous shards share a database. */
  databaseIndex(shard: number): number {
    return Math.floor((shard * this.rules.databases) / this.rules.shardCount);
  }

  /** The database holding `shard`. */
  database(shard: number): string {
    return this.dbNames[shard]!;
  }

  /** Every distinct shard database name, in shard order. */
  allDatabases(): string[] {
    return [...new Set(this.dbNames)];
  }

  /** The physical table name of `logical` on `shard` (unqualified). */
  table(logical: string, shard: number): string {
    let names = this.tableCache.get(logical);
    if (!names) {
      names = Array.from({ length: this.rules.shardCount }, (_, s) =>
        expandTemplate(this.rules.table, { table: logical, shard: s }, 'sharding.naming.table'),
      );
      this.tableCache.set(logical, names);
    }
    return names[shard]!;
  }

  /** `` `app_08`.`users_0513` `` — ready to splice into SQL. */
  qualified(logical: string, shard: number): string {
    let names = this.qualifiedCache.get(logical);
    if (!names) {
      names = Array.from(
        { length: this.rules.shardCount },
        (_, s) => `${quoteIdent(this.database(s))}.${quoteIdent(this.table(logical, s))}`,
      );
      this.qualifiedCache.set(logical, names);
    }
    return names[shard]!;
  }

  /** `` `app_global`.`countries` `` — the instance-local copy of a broadcast table. */
  broadcast(logical: string): string {
    return `${quoteIdent(this.rules.broadcastDatabase)}.${quoteIdent(logical)}`;
  }

  get broadcastDatabase(): string {
    return this.rules.broadcastDatabase;
  }
}
