import type { ClusterConfig } from '../../config/index.js';
import { ConfigError } from '../../errors/index.js';
import { openMysqlSession, type MysqlSession } from '../../net/index.js';
import type { Topology } from '../../shard/index.js';
import { readLogicalTableSchema, type LogicalTableSchema } from './logical-columns.js';

/**
 * The schema of logical tables as the source shards have it now (for sink DDL and index
 * templates — never for decoding): a sharded table is read from its shard 0's physical table,
 * a broadcast table from the first instance, a pass-through `db.table` from the first instance
 * that has it. Cached per table; `forget()` after DDL.
 */
export class SourceSchemas {
  private readonly cache = new Map<string, Promise<LogicalTableSchema>>();
  private readonly sessions = new Map<string, Promise<MysqlSession>>();

  constructor(
    private readonly config: ClusterConfig,
    private readonly topology: Topology,
    private readonly passThrough: ReadonlyMap<string, string> = new Map(),
  ) {}

  /** @throws {ShardlineError} CDC_CONFIG when the table is not found */
  schemaOf(table: string, options?: { refresh: boolean }): Promise<LogicalTableSchema> {
    if (options?.refresh) this.cache.delete(table);
    let p = this.cache.get(table);
    if (!p) {
      p = this.load(table);
      p.catch(() => this.cache.delete(table));
      this.cache.set(table, p);
    }
    return p;
  }

  forget(table?: string): void {
    if (table) this.cache.delete(table);
    else this.cache.clear();
  }

  private session(instance: string): Promise<MysqlSession> {
    let s = this.sessions.get(instance);
    if (!s) {
      const inst = this.config.instances.find((i) => i.name === instance)!;
      s = openMysqlSession({
        name: inst.name,
        host: inst.host,
        port: inst.port,
        user: inst.user,
        password: inst.password,
        tls: inst.tls,
        serverPublicKey: inst.serverPublicKey,
      });
      s.catch(() => this.sessions.delete(instance));
      this.sessions.set(instance, s);
    }
    return s;
  }

  private async load(table: string): Promise<LogicalTableSchema> {
    const kind = this.topology.table(table);
    let instance: string;
    let database: string;
    let physical: string;
    if (kind?.kind === 'sharded') {
      instance = this.topology.map.instanceOf(0);
      database = this.topology.names.database(0);
      physical = this.topology.names.table(table, 0);
    } else if (kind?.kind === 'broadcast') {
      instance = this.config.instances[0]!.name;
      database = this.config.sharding.naming.broadcastDatabase;
      physical = table;
    } else {
      const db = this.passThrough.get(table);
      if (!db) throw new ConfigError('CDC_CONFIG', `table ${table} is neither a sharded, a broadcast nor an included table`);
      instance = this.config.instances[0]!.name;
      database = db;
      physical = table;
    }
    const s = await this.session(instance);
    const schema = await readLogicalTableSchema((sql, values) => s.query(sql, values), table, database, physical);
    if (schema.columns.length === 0)
      throw new ConfigError('CDC_CONFIG', `table ${database}.${physical} (for ${table}) does not exist on ${instance}`);
    return schema;
  }

  async close(): Promise<void> {
    for (const s of this.sessions.values()) await (await s.catch(() => null))?.close().catch(() => undefined);
    this.sessions.clear();
  }
}
