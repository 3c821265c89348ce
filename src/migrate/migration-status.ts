import type { ClusterConfig } from '../config/index.js';
import type { Topology } from '../shard/index.js';
import { endpointOf, type Connect } from './migrate-runner.js';
import type { Migration } from './migration-files.js';

/** Where one migration file stands across the fleet. */
export interface MigrationState {
  id: string;
  /** applied: every target done; pending: none started; partial: some done or interrupted; changed: edited after it was applied. */
  state: 'applied' | 'pending' | 'partial' | 'changed';
  /** (statement, target) pairs recorded done, out of `targets`. */
  done: number;
  /** Pairs a killed run left `running` (the next run checks and finishes them). */
  running: number;
  targets: number;
  statements: number;
}

/** A migration the ledger records as applied whose file is gone from the folder. */
export interface MissingMigration {
  id: string;
  instances: string[];
  targets: number;
}

/** What `migrate status` reports. */
export interface MigrateStatus {
  migrations: MigrationState[];
  /** Applied (at least in part) but no longer in the migrations folder. */
  missing: MissingMigration[];
  /** (statement, target) pairs a run would apply now. */
  pending: number;
  upToDate: boolean;
}

interface LedgerRow {
  migration: string;
  statement: number;
  target: string;
  checksum: string;
  state: string;
}

async function readLedger(config: ClusterConfig, connect: Connect, instance: ClusterConfig['instances'][number]): Promise<LedgerRow[]> {
  const meta = config.sharding.naming.metaDatabase;
  const conn = await connect(endpointOf(instance));
  try {
    const exists = await conn.query('SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = ? AND table_name = ?', [
      meta,
      'schema_migrations',
    ]);
    if (exists.kind !== 'rows' || Number(exists.rows[0]?.['n'] ?? 0) === 0) return [];
    const rows = await conn.query(
      `SELECT migration, statement, target, checksum, state FROM \`${meta.replace(/`/g, '``')}\`.\`schema_migrations\``,
      [],
    );
    if (rows.kind !== 'rows') return [];
    return rows.rows.map((r) => ({
      migration: String(r['migration']),
      statement: Number(r['statement']),
      target: String(r['target']),
      checksum: String(r['checksum']),
      state: String(r['state']),
    }));
  } finally {
    await conn.close();
  }
}

/** The targets of each statement of `migration` on an instance. */
function targetsOn(topology: Topology, migration: Migration, instance: string): number {
  const shards = topology.map.shardsOf(instance).length;
  return migration.statements.reduce((n, s) => n + (s.kind === 'broadcast' ? 1 : shards), 0);
}

/**
 * Reads every instance's ledger and compares it with the migration files — without creating
 * or changing anything (an instance that never ran a migration has no ledger yet).
 */
export async function migrationStatus(
  config: ClusterConfig,
  topology: Topology,
  migrations: readonly Migration[],
  connect: Connect,
): Promise<MigrateStatus> {
  return statusOf(topology, migrations, await readLedgers(config, connect));
}

type Ledgers = { instance: string; rows: LedgerRow[] }[];

function readLedgers(config: ClusterConfig, connect: Connect): Promise<Ledgers> {
  return Promise.all(config.instances.map(async (inst) => ({ instance: inst.name, rows: await readLedger(config, connect, inst) })));
}

function statusOf(topology: Topology, migrations: readonly Migration[], ledgers: Ledgers): MigrateStatus {
  const files = new Map(migrations.map((m) => [m.id, m]));
  const states = migrations.map((m): MigrationState => {
    let done = 0;
    let running = 0;
    let changed = false;
    let targets = 0;
    for (const { instance, rows } of ledgers) {
      targets += targetsOn(topology, m, instance);
      for (const r of rows) {
        if (r.migration !== m.id) continue;
        if (r.checksum !== m.checksum) changed = true;
        if (r.state === 'done') done++;
        else running++;
      }
    }
    const state = changed ? 'changed' : done >= targets ? 'applied' : done === 0 && running === 0 ? 'pending' : 'partial';
    return { id: m.id, state, done, running, targets, statements: m.statements.length };
  });
  const missingBy = new Map<string, MissingMigration>();
  for (const { instance, rows } of ledgers) {
    for (const r of rows) {
      if (files.has(r.migration)) continue;
      const entry = missingBy.get(r.migration) ?? { id: r.migration, instances: [], targets: 0 };
      if (!entry.instances.includes(instance)) entry.instances.push(instance);
      entry.targets++;
      missingBy.set(r.migration, entry);
    }
  }
  const pending = states.reduce((n, s) => n + (s.state === 'changed' ? 0 : s.targets - s.done), 0);
  const missing = [...missingBy.values()].sort((a, b) => a.id.localeCompare(b.id));
  return {
    migrations: states,
    missing,
    pending,
    upToDate: pending === 0 && missing.length === 0 && states.every((s) => s.state === 'applied'),
  };
}

/** One statement a run would apply, with the physical SQL of its first target. */
export interface PlannedStatement {
  migration: string;
  statement: number;
  table: string;
  kind: 'sharded' | 'broadcast';
  /** Physical targets still to do across the fleet. */
  targets: number;
  example: string;
}

/** What `migrate --dry-run` would apply: per statement, the targets not yet done. */
export async function planMigrations(
  config: ClusterConfig,
  topology: Topology,
  migrations: readonly Migration[],
  connect: Connect,
): Promise<{ status: MigrateStatus; statements: PlannedStatement[] }> {
  const ledgers = await readLedgers(config, connect);
  const status = statusOf(topology, migrations, ledgers);
  const doneKeys = new Set<string>();
  for (const { instance, rows } of ledgers)
    for (const r of rows) if (r.state === 'done') doneKeys.add(`${instance}|${r.migration}|${r.statement}|${r.target}`);
  const statements: PlannedStatement[] = [];
  for (const m of migrations) {
    for (const s of m.statements) {
      let targets = 0;
      let example = '';
      for (const inst of config.instances) {
        const shards: (number | null)[] = s.kind === 'broadcast' ? [null] : [...topology.map.shardsOf(inst.name)];
        for (const shard of shards) {
          const target = shard === null ? 'instance' : `shard:${String(shard).padStart(4, '0')}`;
          if (doneKeys.has(`${inst.name}|${m.id}|${s.index}|${target}`)) continue;
          targets++;
          if (!example) {
            const name = shard === null ? topology.names.broadcast(s.table) : topology.names.qualified(s.table, shard);
            example = `${s.sql.slice(0, s.nameStart)}${name}${s.sql.slice(s.nameEnd)}`;
          }
        }
      }
      if (targets > 0) statements.push({ migration: m.id, statement: s.index + 1, table: s.table, kind: s.kind, targets, example });
    }
  }
  return { status, statements };
}
