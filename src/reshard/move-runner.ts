import { crc32 } from 'node:zlib';
import { binlogSources } from '../cdc/pipeline/transaction-source.js';
import type { Checkpoint } from '../cdc/checkpoint/checkpoint.js';
import { readLogicalTableSchema, type LogicalTableSchema } from '../cdc/schema/logical-columns.js';
import type { ClusterConfig, InstanceConfig } from '../config/index.js';
import { ReshardError } from '../errors/index.js';
import { endpointOf, loadMigrations, runMigrations } from '../migrate/index.js';
import { openDbConnection, openMysqlSession, openRawRowSession, type RawRowSession } from '../net/index.js';
import { ShardMap, Topology, createShardMapTableSql, latestShardMapSql, quoteIdent, shardMapTable } from '../shard/index.js';
import { ChunkPacer } from '../cdc/snapshot/chunk-pacer.js';
import { throttledChunkRows } from '../cdc/snapshot/snapshot-feed.js';
import { CatchUp } from './catch-up.js';
import { copyTable, pacedRead } from './copy-rows.js';
import { MoveProgress } from './move-progress.js';
import { isUnfinished, MOVE_PHASES, shardListText, type MovePhase, type MoveState, type TableCopy } from './move-state.js';
import { checkAbortable, undoMove, type AbortReport } from './move-abort.js';
import { holdMoveLock } from './move-lock.js';
import { MoveStore } from './move-store.js';
import { fencedName, movedTables, type MovedTable } from './moved-tables.js';
import { batchedRangeSums, checksumSql, chunkEnd, difference, keysChecksumSql, rangeSum } from './verify-tables.js';
import { dropFenceRow, flipFence, installFence, isFenced } from './fence-steps.js';
import type { TouchedRows } from './catch-up.js';

/** Progress of a phase, for bars and logs. */
export interface MoveProgressEvent {
  phase: MovePhase;
  done: number;
  total: number;
  note?: string;
}

/**
 * What a move tells metrics as it goes (the CLI's `--metrics-port` serves them as Prometheus
 * gauges); every figure is the move's total so far, resumes included.
 */
export interface MoveMetrics {
  phase(phase: MovePhase): void;
  rowsCopied(rows: number): void;
  changesApplied(changes: number): void;
  /** How far the catch-up is behind the source's binlog (ms), sampled every 100 ms. */
  catchupLagMs(ms: number): void;
  verified(chunks: number, tablesDone: number, tablesTotal: number): void;
  /** How long writes to the moving shards were fenced (ms). */
  fenceMs(ms: number): void;
}

const NO_METRICS: MoveMetrics = {
  phase: () => undefined,
  rowsCopied: () => undefined,
  changesApplied: () => undefined,
  catchupLagMs: () => undefined,
  verified: () => undefined,
  fenceMs: () => undefined,
};

/** Tunables of a move (defaults in {@link DEFAULT_MOVE_OPTIONS}). */
export interface MoveOptions {
  chunkRows: number;
  /** Tables copied at once. */
  copyConcurrency: number;
  /** The catch-up is done when a round reaches the source's end within this (ms). */
  catchupLagMs: number;
  verifyChunkRows: number;
  /**
   * Rows per second the copy and verify read from the source, all tables together (null: no
   * bound; default 5,000): keeps a move from crowding the source's other shards. Chunks shrink to a tenth of a
   * second's worth so the reads come as steady small steps.
   */
  maxRowsPerSecond: number | null;
  /** How long the cut-over waits for the target to apply everything up to the fence (ms). */
  fenceTimeoutMs: number;
  /** How long the fence waits for writers in flight (s): a longer transaction on a moving table makes it give up, nothing fenced; also the RENAME's `lock_wait_timeout` after the cut-over. */
  fenceLockWaitS: number;
  migrationsDir: string;
}

/** Sessions per side for the checksums inside the write fence. */
const FENCE_CHECK_SESSIONS = 4;

/** The steps of the write fence, timed in `timings`. */
type FenceStep = 'fence_flip' | 'fence_apply' | 'fence_check' | 'fence_publish';

export const DEFAULT_MOVE_OPTIONS: Omit<MoveOptions, 'migrationsDir'> = {
  chunkRows: 2000,
  copyConcurrency: 4,
  catchupLagMs: 500,
  verifyChunkRows: 5000,
  maxRowsPerSecond: 5_000,
  fenceTimeoutMs: 30_000,
  fenceLockWaitS: 5,
};

/** What a move reports when it ends. */
export interface MoveReport {
  id: string;
  kind: 'move' | 'rollback';
  shards: string;
  from: string;
  to: string;
  phase: MoveState['phase'];
  rows_copied: number;
  changes_applied: number;
  verified_chunks: number;
  differences: number;
  map_version: number | null;
  fence_ms: number | null;
  /** p99 of the catch-up's lag behind the source, sampled every 100 ms while it ran in this process (ms). */
  catchup_lag_ms_p99: number | null;
  /** The fence (its RENAME) and the publication of the new map, ms since the epoch. */
  fenced_at: number | null;
  published_at: number | null;
  /** Milliseconds per phase (over every run of this move, resumes included). */
  phase_ms: MoveState['timings'];
  seconds: number;
}

/**
 * A fault-injection point for the kill -9 tests: with `SHARDLINE_FAILPOINT=<name>` in the
 * environment the move stops there for good (after telling stderr), to be killed; otherwise nothing.
 */
async function failpoint(name: string): Promise<void> {
  if (process.env['SHARDLINE_FAILPOINT'] !== name) return;
  process.stderr.write(`shardline: failpoint ${name} reached\n`);
  await new Promise(() => setInterval(() => undefined, 60_000));
}

const instanceOf = (config: ClusterConfig, name: string): InstanceConfig => {
  const inst = config.instances.find((i) => i.name === name);
  if (!inst)
    throw new ReshardError(
      'RESHARD_FAILED',
      `no instance ${name} in the config (instances: ${config.instances.map((i) => i.name).join(', ')})`,
    );
  return inst;
};

/** The shard map in force: the config's, or the latest version published on any instance. */
export async function currentMap(config: ClusterConfig, topology: Topology): Promise<ShardMap> {
  const meta = config.sharding.naming.metaDatabase;
  for (const inst of config.instances) {
    const s = await openMysqlSession(endpointOf(inst)).catch(() => null);
    if (!s) continue;
    try {
      const [row] = await s.query<Record<string, unknown>>(latestShardMapSql(meta)).catch(() => []);
      if (row) topology.adoptMap(ShardMap.fromJson(Number(row['version']), topology.shardCount, String(row['ranges'])));
    } finally {
      await s.close();
    }
  }
  return topology.map;
}

/**
 * Moves shards from the instance that holds them to another, online: copy (tables created from
 * the migrations, rows in primary-key chunks, no lock), catch-up (the source's binlog changes of
 * exactly those tables applied to the target, idempotently), verify (chunked checksums on both
 * sides; any difference stops the move), cut-over (the fence row that triggers on the moving
 * tables read is flipped on the source — the write fence, other shards never pause —, the target
 * applies up to it, the rows changed since verify are compared again, a new shard-map version is
 * published, target first, and the source's tables are renamed away). Every phase resumes after a kill where it stopped: the
 * state is on the target (`<metaDatabase>.reshard_moves` and `reshard_progress`).
 */
export class ShardMove {
  private readonly topology: Topology;
  private readonly meta: string;
  private readonly store: MoveStore;
  private readonly progress: MoveProgress;
  private catchUp: CatchUp | null = null;
  private catchUpRun: Promise<void> | null = null;
  private readonly sessions: RawRowSession[] = [];
  private readonly lagSamples: number[] = [];
  private gtidSession: Promise<RawRowSession> | null = null;
  private lagTimer: NodeJS.Timeout | null = null;
  private readonly pacer: ChunkPacer;

  constructor(
    private readonly config: ClusterConfig,
    private readonly options: MoveOptions,
    private readonly onProgress: (e: MoveProgressEvent) => void = () => undefined,
    private readonly metrics: MoveMetrics = NO_METRICS,
  ) {
    this.topology = new Topology(
      config.sharding,
      config.instances.map((i) => i.name),
    );
    this.meta = config.sharding.naming.metaDatabase;
    this.store = new MoveStore(this.meta);
    this.progress = new MoveProgress(this.meta);
    this.pacer = new ChunkPacer(options.maxRowsPerSecond);
  }

  /**
   * Starts a move of `shards` to `to`, or resumes the unfinished move of the same shards.
   * @throws {ReshardError} RESHARD_FAILED when the shards are not on one other instance, or another move is unfinished
   */
  async plan(shards: readonly number[], to: string, kind: 'move' | 'rollback' = 'move', dryRun = false): Promise<MoveState> {
    instanceOf(this.config, to);
    const map = await currentMap(this.config, this.topology);
    const target = await this.session(to);
    if (!dryRun) {
      await target.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(this.meta)}`);
      await this.store.ensure(target);
      await this.progress.ensure(target);
    }
    const unfinished = (await this.allMoves()).filter(isUnfinished);
    const same = unfinished.find((m) => m.to === to && m.shards.join() === shards.join());
    if (same) return same;
    if (unfinished.length)
      throw new ReshardError(
        'RESHARD_FAILED',
        `move ${unfinished[0]!.id} (shards ${shardListText(unfinished[0]!.shards)} to ${unfinished[0]!.to}) is not finished: resume it first`,
      );
    const owners = new Set(shards.map((s) => map.instanceOf(s)));
    if (owners.size !== 1)
      throw new ReshardError(
        'RESHARD_FAILED',
        `shards ${shardListText(shards)} are held by ${[...owners].join(', ')}: a move takes shards of one instance`,
      );
    const from = [...owners][0]!;
    if (from === to) throw new ReshardError('RESHARD_FAILED', `shards ${shardListText(shards)} are on ${to} already`);
    const source = instanceOf(this.config, from);
    if (!source.replication)
      throw new ReshardError(
        'RESHARD_FAILED',
        `${from} has no replication account (instances[].replication): the catch-up reads its binlog`,
      );
    if (dryRun) return { id: 'dry-run', kind, shards: [...shards], from, to, phase: 'copy', mapVersion: map.version } as MoveState;
    const start = await binlogSources({
      instance: { ...source, replication: source.replication },
      replicaServerId: this.serverId(`${from}-${to}`),
      heartbeatMs: 1000,
    }).current();
    const now = new Date().toISOString();
    const state: MoveState = {
      id: `${kind}-${Date.now().toString(36)}-${shardListText(shards).slice(0, 24)}`,
      kind,
      shards: [...shards],
      from,
      to,
      phase: 'copy',
      mapVersion: map.version,
      start,
      copied: {},
      applied: null,
      appliedChanges: 0,
      verify: null,
      fence: null,
      published: null,
      timings: {},
      startedAt: now,
      updatedAt: now,
      error: null,
    };
    await this.store.save(target, state);
    return state;
  }

  /** Every move recorded on any instance, newest first. */
  async allMoves(): Promise<MoveState[]> {
    const out: MoveState[] = [];
    const sessions = new Map<string, RawRowSession>();
    try {
      for (const inst of this.config.instances) {
        const s = await openRawRowSession(endpointOf(inst)).catch(() => null);
        if (!s) continue;
        sessions.set(inst.name, s);
        out.push(...(await this.store.all(s)));
      }
      for (const m of out) {
        const target = isUnfinished(m) ? sessions.get(m.to) : undefined;
        if (target) await this.withTargetProgress(target, m);
      }
    } finally {
      for (const s of sessions.values()) await s.close().catch(() => undefined);
    }
    return out.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  }

  /**
   * A running move records its copy and catch-up progress on the target, chunk by chunk, and its
   * state only between phases: the target's rows are the current figures of an unfinished move.
   */
  private async withTargetProgress(target: RawRowSession, m: MoveState): Promise<void> {
    const copied = await this.progress.copied(target, m.id).catch(() => new Map<string, TableCopy>());
    for (const [table, c] of copied) m.copied[table] = c;
    const applied = await this.progress.applied(target, m.id).catch(() => null);
    if (applied && applied.changes > m.appliedChanges) m.appliedChanges = applied.changes;
  }

  /** Runs (or resumes) the move to its end, or up to and including `until`. */
  async run(state: MoveState, until: MovePhase = 'done'): Promise<MoveReport> {
    const t0 = performance.now();
    const tables = movedTables(this.topology, state.shards);
    if (state.phase === 'aborted') throw new ReshardError('RESHARD_FAILED', `move ${state.id} was aborted: plan it again`);
    try {
      await holdMoveLock(await this.session(state.to), state.id);
    } catch (err) {
      await this.close();
      throw err;
    }
    state.error = null;
    try {
      const schemas = await this.schemas(state, tables);
      while (state.phase !== 'done' && MOVE_PHASES.indexOf(state.phase) <= MOVE_PHASES.indexOf(until)) {
        const p0 = performance.now();
        const phase: MovePhase = state.phase;
        this.metrics.phase(phase);
        if (phase === 'copy') await this.copy(state, tables, schemas);
        else if (phase === 'catchup') await this.catchUpPhase(state, tables, schemas);
        else if (phase === 'verify') await this.verify(state, tables, schemas);
        else if (phase === 'cutover') await this.cutOver(state, tables, schemas);
        state.timings[phase] = (state.timings[phase] ?? 0) + Math.round(performance.now() - p0);
        state.phase = MOVE_PHASES[MOVE_PHASES.indexOf(phase) + 1]!;
        await this.store.save(await this.session(state.to), state);
        this.metrics.phase(state.phase);
        if (phase === until) break;
      }
    } catch (err) {
      state.error = (err as Error).message;
      await this.store.save(await this.session(state.to), state).catch(() => undefined);
      throw err;
    } finally {
      await this.close();
    }
    return this.report(state, (performance.now() - t0) / 1000);
  }

  report(state: MoveState, seconds: number): MoveReport {
    return {
      ...moveIdentity(state),
      phase: state.phase,
      rows_copied: Object.values(state.copied).reduce((n, c) => n + c.rows, 0),
      changes_applied: state.appliedChanges,
      verified_chunks: state.verify?.chunks ?? 0,
      differences: state.verify?.differences.length ?? 0,
      map_version: state.published,
      fence_ms: state.timings.fence ?? null,
      catchup_lag_ms_p99: this.lagSamples.length
        ? [...this.lagSamples].sort((a, b) => a - b)[Math.floor(this.lagSamples.length * 0.99)]!
        : null,
      fenced_at: state.fence?.startedMs ?? null,
      published_at: state.publishedMs ?? null,
      phase_ms: { ...state.timings },
      seconds: Math.round(seconds * 10) / 10,
    };
  }

  async close(): Promise<void> {
    if (this.lagTimer) clearInterval(this.lagTimer);
    this.lagTimer = null;
    this.catchUp?.stop();
    await this.catchUpRun?.catch(() => undefined);
    this.catchUp = null;
    this.catchUpRun = null;
    this.gtidSession = null;
    await Promise.all(this.sessions.splice(0).map((s) => s.close().catch(() => undefined)));
  }

  private serverId(seed: string): number {
    return 2_000_000_000 + (crc32(seed) % 1_000_000);
  }

  private async session(instance: string): Promise<RawRowSession> {
    const s = await openRawRowSession(endpointOf(instanceOf(this.config, instance)));
    this.sessions.push(s);
    return s;
  }

  private async schemas(state: MoveState, tables: readonly MovedTable[]): Promise<Map<string, LogicalTableSchema>> {
    const source = await this.session(state.from);
    const out = new Map<string, LogicalTableSchema>();
    for (const t of tables) {
      if (out.has(t.logical)) continue;
      const read = (name: string) => readLogicalTableSchema((sql, values) => source.query(sql, values), t.logical, t.database, name);
      // renamed away after the publication (a move killed around the rename may find either name)
      const names = state.phase === 'done' ? [fencedName(t.table), t.table] : [t.table, fencedName(t.table)];
      let schema = await read(names[0]!);
      if (!schema.columns.length) schema = await read(names[1]!);
      if (!schema.columns.length || !schema.primaryKey.length)
        throw new ReshardError(
          'RESHARD_FAILED',
          `${t.key} on ${state.from}: no such table with a primary key (run \`shardline migrate\` first)`,
        );
      out.set(t.logical, schema);
    }
    return out;
  }

  private async copy(state: MoveState, tables: readonly MovedTable[], schemas: Map<string, LogicalTableSchema>): Promise<void> {
    const migrations = loadMigrations(this.options.migrationsDir, this.topology);
    const target0 = await this.session(state.to);
    // Shards whose tables are not on the target yet get them from the migrations; ledger rows an
    // earlier stay of those shards left there (they moved away since) are forgotten first.
    const present = new Set(
      (
        await target0.query<Record<string, unknown>>(
          `SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) AS t FROM information_schema.TABLES WHERE (TABLE_SCHEMA, TABLE_NAME) IN (${tables.map(() => '(?, ?)').join(', ')})`,
          tables.flatMap((t) => [t.database, t.table]),
        )
      ).map((r) => String(r['t'])),
    );
    const create = [...new Set(tables.filter((t) => !present.has(t.key)).map((t) => t.shard))];
    if (create.length) {
      const ledger = `${quoteIdent(this.meta)}.\`schema_migrations\``;
      await target0
        .query(
          `DELETE FROM ${ledger} WHERE target IN (${create.map(() => '?').join(', ')})`,
          create.map((s) => `shard:${String(s).padStart(4, '0')}`),
        )
        .catch((err: unknown) => {
          if ((err as { errno?: number }).errno !== 1146) throw err;
        });
      await runMigrations(this.config, this.topology, migrations, (e) => openDbConnection(e), {
        scope: { instances: [state.to], shardsOf: () => create },
      });
    }
    const done = await this.progress.copied(target0, state.id);
    for (const t of tables) state.copied[t.key] = done.get(t.key) ?? { after: null, rows: 0, done: false };
    const queue = tables.filter((t) => !state.copied[t.key]!.done);
    let finished = tables.length - queue.length;
    const report = () => {
      const rows = Object.values(state.copied).reduce((n, c) => n + c.rows, 0);
      this.metrics.rowsCopied(rows);
      this.onProgress({ phase: 'copy', done: finished, total: tables.length, note: `${rows} rows` });
    };
    report();
    const worker = async () => {
      const source = await this.session(state.from);
      const target = await this.session(state.to);
      for (let t = queue.shift(); t; t = queue.shift()) {
        await copyTable({
          source,
          target,
          progress: this.progress,
          move: state.id,
          table: t,
          schema: schemas.get(t.logical)!,
          chunkRows: throttledChunkRows(this.options.chunkRows, this.options.maxRowsPerSecond),
          pacer: this.pacer,
          state: state.copied[t.key]!,
          onChunk: report,
        });
        finished++;
        report();
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(this.options.copyConcurrency, queue.length)) }, worker));
  }

  /** Starts the catch-up applier in the background (once per run), from its recorded position. */
  private async startCatchUp(state: MoveState, tables: readonly MovedTable[], schemas: Map<string, LogicalTableSchema>): Promise<CatchUp> {
    if (this.catchUp) return this.catchUp;
    const target = await this.session(state.to);
    const at = await this.progress.applied(target, state.id);
    const source = instanceOf(this.config, state.from);
    const sources = binlogSources({
      instance: { ...source, replication: source.replication! },
      replicaServerId: this.serverId(`${state.from}-${state.to}`),
      heartbeatMs: 1000,
    });
    const keys = new Set(tables.map((t) => t.key));
    const catchUp = new CatchUp({
      move: state.id,
      open: (from: Checkpoint) => sources.open(from, (db, table) => keys.has(`${db}.${table}`)),
      target,
      progress: this.progress,
      tables: tables.map((t) => ({ table: t, schema: schemas.get(t.logical)! })),
      from: at?.at ?? state.start,
      changes: at?.changes ?? 0,
    });
    this.catchUp = catchUp;
    this.lagTimer = setInterval(() => {
      this.lagSamples.push(catchUp.lagMs);
      this.metrics.catchupLagMs(catchUp.lagMs);
      this.metrics.changesApplied(catchUp.applied);
    }, 100);
    this.lagTimer.unref();
    this.catchUpRun = catchUp.run();
    this.catchUpRun.catch(() => undefined);
    return catchUp;
  }

  /** The source's executed GTIDs now (MySQL set, MariaDB binlog position). */
  private async sourceGtid(state: MoveState): Promise<string> {
    this.gtidSession ??= this.session(state.from);
    const s = await this.gtidSession;
    const sql = state.start.flavour === 'mariadb' ? 'SELECT @@global.gtid_binlog_pos AS g' : 'SELECT @@global.gtid_executed AS g';
    const [row] = await s.query<Record<string, unknown>>(sql);
    return String(row?.['g'] ?? '').replace(/\s+/g, '');
  }

  /** Waits until the catch-up has applied `gtid`; rethrows the applier's failure. */
  private async applyUpTo(catchUp: CatchUp, gtid: string, timeoutMs: number, what: string, pollMs = 20): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let failed: unknown = null;
    void this.catchUpRun?.catch((e: unknown) => (failed = e));
    while (!catchUp.covers(gtid)) {
      if (failed) throw failed;
      if (performance.now() > deadline)
        throw new ReshardError(
          'RESHARD_FAILED',
          `the catch-up did not apply the source up to ${what} within ${timeoutMs} ms (lag ${catchUp.lagMs} ms)`,
          { retriable: true },
        );
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  private async catchUpPhase(state: MoveState, tables: readonly MovedTable[], schemas: Map<string, LogicalTableSchema>): Promise<void> {
    const catchUp = await this.startCatchUp(state, tables, schemas);
    for (let round = 1; ; round++) {
      const r0 = performance.now();
      await this.applyUpTo(catchUp, await this.sourceGtid(state), 600_000, 'its end');
      const ms = performance.now() - r0;
      state.appliedChanges = catchUp.applied;
      this.onProgress({
        phase: 'catchup',
        done: round,
        total: round,
        note: `round ${round}: ${Math.round(ms)} ms, ${catchUp.applied} changes applied`,
      });
      await failpoint('reshard.catchup');
      if (ms <= this.options.catchupLagMs) return;
    }
  }

  private async verify(state: MoveState, tables: readonly MovedTable[], schemas: Map<string, LogicalTableSchema>): Promise<void> {
    const catchUp = await this.startCatchUp(state, tables, schemas);
    // what the catch-up changes from here on is all the fence's final check has to compare again
    catchUp.trackTouched();
    const source = await this.session(state.from);
    const target = await this.session(state.to);
    const v = {
      tables: 0,
      chunks: 0,
      rows: 0,
      differences: [] as MoveState['verify'] extends infer V ? (V extends { differences: infer D } ? D : never) : never,
    };
    for (const t of tables) {
      const schema = schemas.get(t.logical)!;
      let from: unknown[] | null = null;
      for (;;) {
        const rows = throttledChunkRows(this.options.verifyChunkRows, this.options.maxRowsPerSecond);
        const to = await pacedRead(
          this.pacer,
          () => chunkEnd(source, t, schema, t.table, from, rows),
          () => rows,
        );
        let s = await rangeSum(source, checksumSql(t, schema, t.table, from, to));
        let d = await rangeSum(target, checksumSql(t, schema, t.table, from, to));
        for (let again = 0; again < 5 && (s.rows !== d.rows || s.checksum !== d.checksum); again++) {
          // the source may have changed the range since: read it again, let the target apply up to there, compare again
          s = await rangeSum(source, checksumSql(t, schema, t.table, from, to));
          await this.applyUpTo(catchUp, await this.sourceGtid(state), 60_000, 'the verified chunk');
          d = await rangeSum(target, checksumSql(t, schema, t.table, from, to));
        }
        if (s.rows !== d.rows || s.checksum !== d.checksum) v.differences.push(difference(t, from, to, s, d));
        v.chunks++;
        v.rows += s.rows;
        if (to === null) break;
        from = to;
      }
      v.tables++;
      this.metrics.verified(v.chunks, v.tables, tables.length);
      if (v.tables === 1) await failpoint('reshard.verify');
      this.onProgress({
        phase: 'verify',
        done: v.tables,
        total: tables.length,
        note: `${v.chunks} chunks, ${v.differences.length} differences`,
      });
    }
    state.verify = v;
    if (v.differences.length) {
      await this.store.save(target, state);
      throw new ReshardError(
        'RESHARD_DIFFERENCE',
        `verify found ${v.differences.length} chunk(s) that differ between ${state.from} and ${state.to} (first: ${v.differences[0]!.table}, keys ${JSON.stringify(v.differences[0]!.from)} … ${JSON.stringify(v.differences[0]!.to)}): the move does not cut over`,
        { details: { differences: v.differences.slice(0, 20) } },
      );
    }
  }

  private async cutOver(state: MoveState, tables: readonly MovedTable[], schemas: Map<string, LogicalTableSchema>): Promise<void> {
    const catchUp = await this.startCatchUp(state, tables, schemas);
    const source = await this.session(state.from);
    const target = await this.session(state.to);
    const map = await currentMap(this.config, this.topology);
    const published = map.version > state.mapVersion && state.shards.every((s) => map.instanceOf(s) === state.to);
    if (published) {
      // killed while publishing (or renaming): the instances that lack the version get it now
      // (their CDC readers wait for its row), and the source's tables go out of reach
      await this.publish(map, state);
      state.published = map.version;
      await this.renameAway(state, source, tables);
      return;
    }
    if (map.version !== state.mapVersion)
      throw new ReshardError(
        'RESHARD_FAILED',
        `the shard map moved from version ${state.mapVersion} to ${map.version} during the move: plan it again`,
      );
    // everything the fence needs is ready before it: the write pause holds only the flip of the
    // fence row, the wait for the last changes, the final checks (in parallel) and the publication
    const sourceSessions = await Promise.all(Array.from({ length: FENCE_CHECK_SESSIONS }, () => this.session(state.from)));
    const targetSessions = await Promise.all(Array.from({ length: FENCE_CHECK_SESSIONS }, () => this.session(state.to)));
    const publishTo = await this.publishSessions(state);
    if (!state.fence) await this.prepareFence(state, source, sourceSessions, tables);
    // the catch-up is close: the fence's wait is short
    await this.applyUpTo(catchUp, await this.sourceGtid(state), 60_000, 'its end');
    let fenceStarted = performance.now();
    const steps: Partial<Record<FenceStep, number>> = {};
    let stepStarted = fenceStarted;
    const step = (name: FenceStep) => {
      const now = performance.now();
      steps[name] = Math.round(now - stepStarted);
      stepStarted = now;
    };
    if (!state.fence) {
      fenceStarted = stepStarted = performance.now();
      if (!(await isFenced(source, this.meta, state.id))) await flipFence(source, this.meta, state.id, this.options.fenceLockWaitS);
      state.fence = {
        gtid: await this.sourceGtid(state),
        at: new Date().toISOString(),
        startedMs: Date.now() - Math.round(performance.now() - fenceStarted),
      };
      await this.store.save(target, state);
      step('fence_flip');
      await failpoint('reshard.fenced');
    }
    // the fenced tables no longer change: once the target applied up to the fence, both sides are summed at once
    await this.applyUpTo(catchUp, state.fence.gtid, this.options.fenceTimeoutMs, 'the fence', 2);
    step('fence_apply');
    const checks = finalChecks(tables, schemas, catchUp.touched);
    const [sourceSums, targetSums] = await Promise.all([
      batchedRangeSums(
        sourceSessions,
        checks.map((c) => c.sql),
      ),
      batchedRangeSums(
        targetSessions,
        checks.map((c) => c.sql),
      ),
    ]);
    step('fence_check');
    // every row of the fenced tables is on the target
    checks.forEach((c, i) => {
      const a = sourceSums[i]!;
      const b = targetSums[i]!;
      if (a.rows !== b.rows || a.checksum !== b.checksum)
        throw new ReshardError(
          'RESHARD_DIFFERENCE',
          `${c.table.key}: after the fence the target differs from the source (${a.rows} vs ${b.rows} ${c.what}): the move does not cut over; the source's tables stay fenced until \`reshard move\` is resumed or \`reshard abort\` undoes the move`,
        );
    });
    const next = map.reassign(state.shards, state.to);
    await this.publish(next, state, publishTo);
    step('fence_publish');
    state.published = next.version;
    state.publishedMs = Date.now();
    state.timings.fence = Math.round(performance.now() - fenceStarted);
    Object.assign(state.timings, steps);
    this.metrics.fenceMs(state.timings.fence);
    state.timings.fence_checked_tables = checks.length;
    const r0 = performance.now();
    await this.renameAway(state, source, tables);
    state.timings.rename = Math.round(performance.now() - r0);
    this.onProgress({ phase: 'cutover', done: 1, total: 1, note: `shard map version ${next.version}` });
  }

  /**
   * Before the fence: refuses a source that still holds an earlier move's renamed tables (the
   * rename after the cut-over would fail), then installs the fence row and triggers.
   */
  private async prepareFence(
    state: MoveState,
    source: RawRowSession,
    sessions: readonly RawRowSession[],
    tables: readonly MovedTable[],
  ): Promise<void> {
    if (!(await this.renamedAlready(source, tables))) {
      const left = await source.query<Record<string, unknown>>(
        `SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) AS t FROM information_schema.TABLES WHERE (TABLE_SCHEMA, TABLE_NAME) IN (${tables.map(() => '(?, ?)').join(', ')})`,
        tables.flatMap((t) => [t.database, fencedName(t.table)]),
      );
      if (left.length)
        throw new ReshardError(
          'RESHARD_FAILED',
          `${state.from} still holds ${left.length} fenced table(s) of an earlier move (${String(left[0]!['t'])}…): run \`shardline reshard cleanup\` first`,
        );
    }
    await installFence(sessions, instanceOf(this.config, state.from).flavour, this.meta, state.id, tables, this.options.fenceLockWaitS);
  }

  /**
   * After the publication: renames the moving tables away on the source (\`_moved_…\`), so a
   * router that has not read the new map yet finds them gone for reads too and follows the map
   * (writes already met the fence). Outside the write pause; idempotent.
   */
  private async renameAway(state: MoveState, source: RawRowSession, tables: readonly MovedTable[]): Promise<void> {
    if (await this.renamedAlready(source, tables)) return;
    await source.query(`SET SESSION lock_wait_timeout = ${Math.max(1, Math.floor(this.options.fenceLockWaitS))}`);
    try {
      await source.query(
        `RENAME TABLE ${tables.map((t) => `${quoteIdent(t.database)}.${quoteIdent(t.table)} TO ${quoteIdent(t.database)}.${quoteIdent(fencedName(t.table))}`).join(', ')}`,
      );
    } catch (err) {
      throw new ReshardError(
        'RESHARD_FAILED',
        `shard map version ${state.published} is published, but the moved tables on ${state.from} could not be renamed away (${(err as Error).message}): run \`reshard move\` again to finish`,
        { retriable: true, cause: err },
      );
    }
  }

  /**
   * A session on every instance that answers, its shard-map table created: the publication's,
   * prepared before the fence so that inside it each instance gets one INSERT. The target's is required.
   */
  private async publishSessions(state: MoveState): Promise<Map<string, RawRowSession>> {
    const out = new Map<string, RawRowSession>();
    await Promise.all(
      this.config.instances.map(async (i) => {
        const s = await this.session(i.name)
          .then(async (s) => {
            await this.createShardMapTable(s);
            return s;
          })
          .catch((err: unknown) => {
            if (i.name === state.to) throw err;
            return null;
          });
        if (s) out.set(i.name, s);
      }),
    );
    return out;
  }

  private async createShardMapTable(s: RawRowSession): Promise<void> {
    await s.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(this.meta)}`);
    await s.query(createShardMapTableSql(this.meta));
  }

  /**
   * Writes `next` into `<metaDatabase>.shard_map` on the target, then on every other instance that
   * answers, those in parallel (idempotent). `sessions`: open ones whose table exists, else each is opened.
   */
  private async publish(next: ShardMap, state: MoveState, sessions?: Map<string, RawRowSession>): Promise<void> {
    const write = async (name: string) => {
      const open = sessions?.get(name);
      const s =
        open ??
        (await openRawRowSession(endpointOf(instanceOf(this.config, name))).catch((err: unknown) => {
          if (name === state.to) throw err;
          return null;
        }));
      if (!s) return;
      try {
        if (!open) await this.createShardMapTable(s);
        await s.query(`INSERT IGNORE INTO ${shardMapTable(this.meta)} (version, ranges, move, published_at) VALUES (?, ?, ?, NOW(6))`, [
          next.version,
          next.toJson(),
          state.id,
        ]);
      } finally {
        if (!open) await s.close();
      }
    };
    await write(state.to);
    await failpoint('reshard.published-on-target');
    await Promise.all(
      this.config.instances
        .map((i) => i.name)
        .filter((n) => n !== state.to)
        .map(write),
    );
  }

  /**
   * Drops the fenced tables (`_moved_…`) that finished moves left on the instances the shards
   * left; marks each move cleaned. Moves not finished are left alone.
   */
  async cleanup(): Promise<{ id: string; instance: string; dropped: number }[]> {
    const out: { id: string; instance: string; dropped: number }[] = [];
    for (const state of await this.allMoves()) {
      if (state.phase !== 'done' || state.cleanedAt) continue;
      const source = await this.session(state.from);
      let dropped = 0;
      for (const t of movedTables(this.topology, state.shards)) {
        const r = await source.query<{ affectedRows?: number }>(
          `DROP TABLE IF EXISTS ${quoteIdent(t.database)}.${quoteIdent(fencedName(t.table))}`,
        );
        void r;
        dropped++;
      }
      await dropFenceRow(source, this.meta, state.id);
      state.cleanedAt = new Date().toISOString();
      await this.store.save(await this.session(state.to), state);
      out.push({ id: state.id, instance: state.from, dropped });
    }
    await this.close();
    return out;
  }

  /**
   * Aborts the unfinished move before its new shard map is out (`reshard abort`): takes the
   * move's lock (no process may be running it), drops the fence triggers and row on the source
   * — writes to the moving shards are taken again if it was fenced — and the target's copies,
   * and records the move as `aborted`. The move's state lives on its target: that instance must answer.
   * @throws {ReshardError} RESHARD_FAILED when no move is unfinished, another process runs it, or its map is published
   */
  async abort(): Promise<AbortReport> {
    try {
      const found = (await this.allMoves()).find(isUnfinished);
      if (!found) throw new ReshardError('RESHARD_FAILED', 'no unfinished shard move to abort (`reshard status` lists the moves)');
      const target = await this.session(found.to);
      await holdMoveLock(target, found.id);
      // read again under the lock: a process that ran it until just now may have moved it on
      const state = (await this.store.all(target)).find((m) => m.id === found.id) ?? found;
      if (!isUnfinished(state))
        throw new ReshardError('RESHARD_FAILED', `move ${state.id} ended (${state.phase}) meanwhile: nothing to abort`);
      checkAbortable(state, await currentMap(this.config, this.topology));
      const undone = await undoMove(state, movedTables(this.topology, state.shards), this.meta, await this.session(state.from), target);
      const reached = state.phase;
      state.phase = 'aborted';
      state.error = null;
      await this.store.save(target, state);
      return {
        ...moveIdentity(state),
        phase: reached,
        triggers_dropped: undone.triggers,
        tables_dropped: undone.tables,
      };
    } finally {
      await this.close();
    }
  }

  /** The finished move that last brought shards somewhere, to be moved back (`reshard rollback`). */
  async lastMove(): Promise<MoveState | null> {
    const last = (await this.allMoves()).find((m) => m.phase === 'done');
    return last && last.kind === 'move' ? last : null;
  }

  private async renamedAlready(source: RawRowSession, tables: readonly MovedTable[]): Promise<boolean> {
    const t = tables[0]!;
    const rows = await source.query<Record<string, unknown>>(
      'SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (?, ?)',
      [t.database, t.table, fencedName(t.table)],
    );
    return rows.some((r) => r['t'] === fencedName(t.table)) && !rows.some((r) => r['t'] === t.table);
  }
}

/** What names a move in its reports. */
function moveIdentity(state: MoveState): Pick<MoveReport, 'id' | 'kind' | 'shards' | 'from' | 'to'> {
  return { id: state.id, kind: state.kind, shards: shardListText(state.shards), from: state.from, to: state.to };
}

/** Most keys in one statement of the final check. */
const KEYS_PER_CHECK = 500;

/** One checksum statement of the fence's final check, run alike on both sides. */
interface FinalCheck {
  table: MovedTable;
  sql: { sql: string; params: unknown[] };
  what: 'rows' | 'changed rows';
}

/**
 * What the fence compares: with the rows the catch-up changed since verify began, those rows
 * (a table with more, whole; a table with none, nothing — verify compared it and neither side
 * changed since); without (a move resumed after its verify), every table whole. Pure.
 */
export function finalChecks(
  tables: readonly MovedTable[],
  schemas: Map<string, LogicalTableSchema>,
  touched: TouchedRows | null,
): FinalCheck[] {
  const out: FinalCheck[] = [];
  for (const t of tables) {
    const schema = schemas.get(t.logical)!;
    const changed = touched?.get(t.key);
    if (touched && !changed) continue;
    if (!changed || changed.whole) {
      out.push({ table: t, sql: checksumSql(t, schema, t.table, null, null), what: 'rows' });
      continue;
    }
    const keys = [...changed.keys.values()];
    for (let i = 0; i < keys.length; i += KEYS_PER_CHECK)
      out.push({ table: t, sql: keysChecksumSql(t, schema, t.table, keys.slice(i, i + KEYS_PER_CHECK)), what: 'changed rows' });
  }
  return out;
}
