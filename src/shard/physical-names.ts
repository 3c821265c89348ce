/** Expands `{name}` and `{name:0N}` placeholders of a naming template. */
export function expandTemplate(template: string, values: Readonly<Record<string, string | number>>): string {
  return template.replace(/\{([a-z]+)(?::0(\d+))?\}/g, (match, key: string, width: string | undefined) => {
    const value = values[key];
    if (value === undefined) throw new RangeError(`unknown placeholder ${match} in naming template "${template}"`);
    return width ? String(value).padStart(Number(width), '0') : String(value);
  });
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
      expandTemplate(rules.database, { db: this.databaseIndex(shard), shard }),
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
      names = Array.from({ length: this.rules.shardCount }, (_, s) => expandTemplate(this.rules.table, { table: logical, shard: s }));
      this.tableCache.set(logical, names);
    }
    return names[shard]!;
  }

  /** `` `app_08`.`users_0513` `` — ready to splice into SQL. */
  qualified(logical: string, shard: number): string {
    let names = this.qualifiedCache.get(logical);
    if (!names) {
      names = Array.from({ length: this.rules.shardCount }, (_, s) => `${quoteIdent(this.database(s))}.${quoteIdent(this.table(logical, s))}`);
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
