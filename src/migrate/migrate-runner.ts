import type { ClusterConfig, InstanceConfig } from '../config/index.js';
import { MigrationError, sanitizeDriverError } from '../errors/index.js';
import type { DbConnection, InstanceEndpoint, ServerErrorInfo } from '../net/index.js';
import { quoteIdent, type Topology } from '../shard/index.js';
import type { Migration, MigrationStatement } from './migration-files.js';

/** Opens an administrative connection to an instance. */
export type Connect = (endpoint: InstanceEndpoint) => Promise<DbConnection>;

/** Progress of a run, reported after each applied statement. */
export interface MigrateProgress {
  done: number;
  total: number;
  instance: string;
  instanceDone: number;
  instanceTotal: number;
}

/** What a run did. */
export interface MigrateReport {
  migrations: string[];
  applied: number;
  alreadyApplied: number;
  perInstance: { instance: string; applied: number }[];
  seconds: number;
  /** Migrations the ledger records as applied whose file is no longer in the folder. */
  missing: string[];
}

/** Errors a statement may raise when a crashed run already applied it. */
const ALREADY_APPLIED_ERRNO = new Set([1050, 1060, 1061, 1091, 1068, 1826]);

interface Step {
  migration: Migration;
  statement: MigrationStatement;
  target: string;
  sql: string;
  /** A previous run started this step and may or may not have finished it. */
  resumed: boolean;
}

function physicalSql(topology: Topology, s: MigrationStatement, shard: number | null): string {
  const name = shard === null ? topology.names.broadcast(s.table) : topology.names.qualified(s.table, shard);
  return s.sql.slice(0, s.nameStart) + name + s.sql.slice(s.nameEnd);
}

/** The administrative endpoint of an instance (its application account). */
export function endpointOf(inst: InstanceConfig): InstanceEndpoint {
  return {
    name: inst.name,
    host: inst.host,
    port: inst.port,
    user: inst.user,
    password: inst.password,
    tls: inst.tls,
    serverPublicKey: inst.serverPublicKey,
  };
}

/**
 * Applies pending migrations to every physical target: each statement of a sharded table on
 * every shard, of a broadcast table once per instance. Instances run in parallel, several
 * connections per instance. Each (migration, statement, target) is recorded in
 * `<metaDatabase>.schema_migrations` before (running) and after (done) it runs, so a killed run
 * resumes exactly where it stopped and never applies a statement twice.
 */
export async function runMigrations(
  config: ClusterConfig,
  topology: Topology,
  migrations: readonly Migration[],
  connect: Connect,
  options: {
    concurrency?: number;
    onProgress?: (p: MigrateProgress) => void;
    /** Only these instances, and for each these shards instead of the map's (a shard move creating its target's tables). */
    scope?: { instances: readonly string[]; shardsOf: (instance: string) => readonly number[] };
  } = {},
): Promise<MigrateReport> {
  const t0 = Date.now();
  const meta = config.sharding.naming.metaDatabase;
  const ledger = `${quoteIdent(meta)}.\`schema_migrations\``;
  const concurrency = options.concurrency ?? 4;
  const scope = options.scope;
  const prepared = await Promise.all(
    config.instances
      .filter((inst) => !scope || scope.instances.includes(inst.name))
      .map(async (inst) => {
        const conn = await connect(endpointOf(inst));
        try {
          const shards = scope ? scope.shardsOf(inst.name) : topology.map.shardsOf(inst.name);
          const databases = new Set([meta, topology.names.broadcastDatabase, ...shards.map((s) => topology.names.database(s))]);
          for (const db of databases) await conn.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(db)}`, []);
          await conn.query(
            `CREATE TABLE IF NOT EXISTS ${ledger} (migration VARCHAR(64) NOT NULL, statement INT NOT NULL, target VARCHAR(32) NOT NULL, checksum CHAR(64) NOT NULL, state ENUM('running','done') NOT NULL, applied_at DATETIME(6) NOT NULL, PRIMARY KEY (migration, statement, target))`,
            [],
          );
          const rows = await conn.query(`SELECT migration, statement, target, checksum, state FROM ${ledger}`, []);
          const recorded = new Map<string, { checksum: string; state: string }>();
          const ids = new Set(migrations.map((m) => m.id));
          const missing = new Set<string>();
          if (rows.kind === 'rows') for (const r of rows.rows) if (!ids.has(String(r['migration']))) missing.add(String(r['migration']));
          if (rows.kind === 'rows')
            for (const r of rows.rows)
              recorded.set(`${r['migration']}|${r['statement']}|${r['target']}`, {
                checksum: String(r['checksum']),
                state: String(r['state']),
              });
          const steps: Step[] = [];
          let already = 0;
          for (const migration of migrations) {
            for (const statement of migration.statements) {
              const targets = statement.kind === 'broadcast' ? [null] : shards;
              for (const shard of targets) {
                const target = shard === null ? 'instance' : `shard:${String(shard).padStart(4, '0')}`;
                const seen = recorded.get(`${migration.id}|${statement.index}|${target}`);
                if (seen && seen.checksum !== migration.checksum) {
                  throw new MigrationError(
                    'MIGRATION_INVALID',
                    `${migration.file} changed after it was applied on ${inst.name} (${target}): never edit an applied migration, add a new one`,
                    {
                      details: { migration: migration.id, instance: inst.name },
                    },
                  );
                }
                if (seen?.state === 'done') {
                  already++;
                  continue;
                }
                steps.push({
                  migration,
                  statement,
                  target,
                  sql: physicalSql(topology, statement, shard),
                  resumed: seen?.state === 'running',
                });
              }
            }
          }
          return { inst, steps, already, missing };
        } finally {
          await conn.close();
        }
      }),
  );
  const total = prepared.reduce((n, p) => n + p.steps.length, 0);
  let done = 0;
  const perInstance = await Promise.all(
    prepared.map(async ({ inst, steps }) => {
      const byTarget = new Map<string, Step[]>();
      for (const step of steps) {
        let list = byTarget.get(step.target);
        if (!list) byTarget.set(step.target, (list = []));
        list.push(step);
      }
      const queue = [...byTarget.values()];
      let instanceDone = 0;
      const worker = async () => {
        const conn = await connect(endpointOf(inst));
        try {
          for (let seq = queue.shift(); seq; seq = queue.shift()) {
            for (const step of seq) {
              const key = [step.migration.id, step.statement.index, step.target];
              await conn.query(
                `INSERT INTO ${ledger} (migration, statement, target, checksum, state, applied_at) VALUES (?, ?, ?, ?, 'running', NOW(6)) ON DUPLICATE KEY UPDATE state = 'running'`,
                [...key, step.migration.checksum],
              );
              try {
                await conn.query(step.sql, []);
              } catch (raw) {
                const err = sanitizeDriverError(raw, step.sql);
                const errno = (err as ServerErrorInfo).errno;
                if (!(step.resumed && errno !== undefined && ALREADY_APPLIED_ERRNO.has(errno))) {
                  throw new MigrationError(
                    'MIGRATION_FAILED',
                    `${step.migration.file} statement ${step.statement.index + 1} failed on ${inst.name} (${step.target}): ${(err as Error).message}`,
                    {
                      cause: err,
                      details: { migration: step.migration.id, instance: inst.name, target: step.target, errno },
                    },
                  );
                }
              }
              await conn.query(
                `UPDATE ${ledger} SET state = 'done', applied_at = NOW(6) WHERE migration = ? AND statement = ? AND target = ?`,
                key,
              );
              done++;
              instanceDone++;
              options.onProgress?.({ done, total, instance: inst.name, instanceDone, instanceTotal: steps.length });
            }
          }
        } finally {
          await conn.close();
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, queue.length)) }, worker));
      return { instance: inst.name, applied: instanceDone };
    }),
  );
  return {
    migrations: migrations.map((m) => m.id),
    applied: done,
    alreadyApplied: prepared.reduce((n, p) => n + p.already, 0),
    perInstance,
    seconds: (Date.now() - t0) / 1000,
    missing: [...new Set(prepared.flatMap((p) => [...p.missing]))].sort(),
  };
}
