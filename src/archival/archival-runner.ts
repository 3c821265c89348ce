import { randomBytes } from 'node:crypto';
import type { ClusterConfig, InstanceConfig } from '../config/index.js';
import { ArchivalError, isShardlineError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { endpointOf } from '../migrate/index.js';
import { openMysqlSession, openRawRowSession, type RawRowSession } from '../net/index.js';
import { retry, sleep, systemClock, type BackoffPolicy, type Clock } from '../retry/index.js';
import {
  ShardMap,
  Topology,
  archivalMarkerDeletedUpdate,
  archivalMarkerInsert,
  archivalMarkerTableSql,
  archivalRemovedSql,
  latestShardMapSql,
  quoteIdent,
  ARCHIVAL_MARKER_TABLE,
} from '../shard/index.js';
import {
  NOW_SQL,
  RatePacer,
  archivalTables,
  boundKey,
  columnsOfTablesSql,
  countOlderSql,
  cutOf,
  deleteBatchSql,
  isShardMoveError,
  physicalDetails,
  physicalTables,
  primaryKeysOfTablesSql,
  rowsPerSecond,
  runIdOf,
  selectBatchSql,
  tableShapes,
  type ArchivalTable,
  type PhysicalTable,
  type TableShape,
} from './archival-plan.js';

/** Progress of a run: physical tables done of all the run's, rows deleted (or counted) so far. */
export interface ArchivalProgressEvent {
  table: string;
  done: number;
  total: number;
  rows: number;
}

/** How a run runs. */
export interface ArchivalRunOptions {
  /** Only this logical table (it must have an `archival` config). */
  table?: string | undefined;
  /** Count the rows older than the cut per table; change nothing. */
  dryRun?: boolean;
  /** Structured logs (names and counts only, never a bound value). */
  log?: Logger;
  onProgress?: (e: ArchivalProgressEvent) => void;
  /** Aborting stops the run after the batches in flight; the report says `interrupted`. */
  signal?: AbortSignal;
  clock?: Clock;
}

/** One logical table of a run's report. */
export interface ArchivalTableReport {
  table: string;
  column: string;
  cut: string;
  /** Rows deleted (absent in a dry run). */
  rows_deleted?: number;
  /** Rows older than the cut (dry run only). */
  rows_to_delete?: number;
  batches: number;
  physical_tables: number;
  seconds: number;
}

/** What `shardline archival run --json` prints. */
export interface ArchivalRunReport {
  run_id: string;
  /** The cut of the run's tables when they share one (the same `olderThan`), else null: see each table's. */
  cut: string | null;
  /** The server time the cuts were computed from (UTC). */
  now: string;
  dry_run: boolean;
  tables: ArchivalTableReport[];
  rows_deleted: number;
  /** Dry run: rows older than the cut in all. */
  rows_to_delete?: number;
  rows_per_s: number;
  seconds: number;
  /** The run was stopped (signal) before it finished: run it again to go on. */
  interrupted?: boolean;
}

/** One table of `shardline archival verify`. */
export interface ArchivalVerifyRow {
  table: string;
  /** Rows the job deleted from the shards, by its marker rows on every instance (all runs). */
  removed_from_shards: number;
  /** Rows of the archive's table marked `_archived = 1`. */
  marked_archived: number;
  /** removed_from_shards − marked_archived. */
  difference: number;
  batches: number;
  /** Why a count may be 0 (the archive table or its `_archived` column missing). */
  note?: string;
}

/** What `shardline archival verify --json` prints. */
export interface ArchivalVerifyReport {
  tables: ArchivalVerifyRow[];
  /** Tables with a difference. */
  differences: number;
}

/** Transient failures of a batch (deadlock, lock wait, lost connection) are retried this way; the batch was rolled back. */
const BATCH_RETRY: BackoffPolicy = { initialMs: 200, maxMs: 5000, jitter: 'full' };
const BATCH_ATTEMPTS = 6;
/** Rounds over physical tables a shard move fenced or took away meanwhile (the map is read again before each). */
const MOVED_ROUNDS = 10;
const MOVED_WAIT_MS = 1000;
/** How long a batch waits for a row lock before it gives up and is retried (s). */
const LOCK_WAIT_S = 10;
interface ServerErrorLike {
  kind?: string;
  retriable?: boolean;
}

const asServerError = (err: unknown): ServerErrorLike => (typeof err === 'object' && err !== null ? (err as ServerErrorLike) : {});

const isMoved = isShardMoveError;

/** The physical tables of one logical table a pass could not finish because a shard move fenced them. */
class MovedTables extends Error {
  constructor(readonly tables: PhysicalTable[]) {
    super('moved');
  }
}

/** One session per instance, opened on first use (READ COMMITTED, UTC), replaced after a lost connection. */
class InstanceSessions {
  private readonly open = new Map<string, Promise<RawRowSession>>();

  constructor(private readonly config: ClusterConfig) {}

  get(instance: string): Promise<RawRowSession> {
    let s = this.open.get(instance);
    if (!s) {
      s = this.connect(instance);
      this.open.set(instance, s);
      s.catch(() => this.open.delete(instance));
    }
    return s;
  }

  /** Drops the instance's session (its connection failed); the next {@link get} opens another. */
  async discard(instance: string): Promise<void> {
    const s = this.open.get(instance);
    this.open.delete(instance);
    if (s) await s.then((x) => x.close()).catch(() => undefined);
  }

  async closeAll(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.all(all.map((s) => s.then((x) => x.close()).catch(() => undefined)));
  }

  private async connect(instance: string): Promise<RawRowSession> {
    const s = await openRawRowSession(endpointOf(instanceOf(this.config, instance)));
    try {
      await s.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
      await s.query(`SET SESSION innodb_lock_wait_timeout = ${LOCK_WAIT_S}`);
    } catch (err) {
      await s.close();
      throw err;
    }
    return s;
  }
}

function instanceOf(config: ClusterConfig, name: string): InstanceConfig {
  const inst = config.instances.find((i) => i.name === name);
  if (!inst) throw new ArchivalError('ARCHIVAL_FAILED', `the shard map names instance ${name}, which the config does not have`);
  return inst;
}

/** The config's topology with the latest shard map any instance has published (`shardline reshard`). */
async function currentTopology(config: ClusterConfig, sessions: InstanceSessions): Promise<Topology> {
  const topology = new Topology(
    config.sharding,
    config.instances.map((i) => i.name),
  );
  await Promise.all(
    config.instances.map(async (inst) => {
      const s = await sessions.get(inst.name).catch(() => null);
      if (!s) return;
      const [row] = await s.query<Record<string, unknown>>(latestShardMapSql(config.sharding.naming.metaDatabase)).catch(() => []);
      if (row) topology.adoptMap(ShardMap.fromJson(Number(row['version']), topology.shardCount, String(row['ranges'])));
    }),
  );
  return topology;
}

/**
 * Runs `fn` over `items` grouped by `key`: the groups at once, each group's items one after
 * another; after a failure the other groups stop before their next item.
 */
async function perInstance<T>(items: readonly T[], key: (t: T) => string, fn: (t: T) => Promise<void>): Promise<void> {
  const groups = new Map<string, T[]>();
  for (const t of items) {
    const k = key(t);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(t);
  }
  let stopped = false;
  const results = await Promise.allSettled(
    [...groups.values()].map(async (g) => {
      for (const t of g) {
        if (stopped) return;
        await fn(t).catch((err: unknown) => {
          stopped = true;
          throw err;
        });
      }
    }),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * `shardline archival run`: for every table with an `archival` config (or `options.table`),
 * deletes the rows older than the cut (`NOW(6) − olderThan`, the server's clock read once per
 * run) from each of its physical tables, in primary-key batches of `batchRows` — the keys read
 * without locks, then one transaction: the marker row, the `DELETE` (re-checking the cut) —
 * at most `maxRowsPerSecond` rows per second over the run, one batch at a time per instance (the
 * instances in parallel). A kill rolls back the open batch only: running it again finds the rows
 * that are left. With `dryRun`, counts those rows and changes nothing.
 * @throws {ArchivalError} ARCHIVAL_NOT_CONFIGURED, ARCHIVAL_FAILED
 */
export async function runArchival(config: ClusterConfig, options: ArchivalRunOptions = {}): Promise<ArchivalRunReport> {
  const tables = archivalTables(config.sharding, options.table);
  const dryRun = options.dryRun === true;
  const clock = options.clock ?? systemClock;
  const meta = config.sharding.naming.metaDatabase;
  const runId = runIdOf(Date.now(), randomBytes(4).toString('hex'));
  const started = Date.now();
  const sessions = new InstanceSessions(config);
  try {
    let topology = await currentTopology(config, sessions);
    const owners = topology.map.instances;
    const first = owners[0];
    if (first === undefined) throw new ArchivalError('ARCHIVAL_FAILED', 'the shard map gives no instance any shard');
    const [clockRow] = await (await sessions.get(first)).query<{ now: string }>(NOW_SQL);
    const now = String(clockRow?.now);
    const cuts = new Map(tables.map((t) => [t.logical, cutOf(now, t.olderThanMs)]));
    const withMarkerTable = new Set<string>();
    /** Creates the marker table on the instances that hold shards and lack it (a shard move may add one mid-run). */
    const ensureMarkerTables = async (instances: readonly string[]): Promise<void> => {
      if (dryRun) return;
      await Promise.all(
        instances
          .filter((name) => !withMarkerTable.has(name))
          .map(async (name) => {
            const s = await sessions.get(name);
            await s.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(meta)}`);
            await s.query(archivalMarkerTableSql(meta));
            withMarkerTable.add(name);
          }),
      );
    };
    await ensureMarkerTables(owners);
    options.log?.info(
      { run_id: runId, dry_run: dryRun, tables: tables.map((t) => t.logical), instances: owners.length },
      dryRun ? 'archival dry run started' : 'archival run started',
    );
    const total = tables.length * topology.shardCount;
    let done = 0;
    let rowsSoFar = 0;
    const reports: ArchivalTableReport[] = [];
    let interrupted = false;
    for (const table of tables) {
      if (options.signal?.aborted) {
        interrupted = true;
        break;
      }
      const cut = cuts.get(table.logical)!;
      const t0 = Date.now();
      const pacer = new RatePacer(table.maxRowsPerSecond);
      const tally = { rows: 0, batches: 0 };
      const shapes = new Map<string, TableShape | ArchivalError>();
      let pending = physicalTables(topology, table.logical);
      const one = async (t: PhysicalTable): Promise<void> => {
        const key = `${t.database}.${t.table}`;
        if (!shapes.has(key)) {
          const unread = pending.filter((p) => p.instance === t.instance && !shapes.has(`${p.database}.${p.table}`));
          for (const [k, v] of await readShapes(sessions, t.instance, unread.length ? unread : [t], table.column)) shapes.set(k, v);
        }
        const shape = shapes.get(key);
        if (shape === undefined) throw new ArchivalError('ARCHIVAL_FAILED', `no shape was read for ${key} on ${t.instance}`);
        if (shape instanceof ArchivalError) throw shape;
        const before = tally.rows;
        if (dryRun) {
          const q = countOlderSql(t, table.column, cut);
          const [row] = await (await sessions.get(t.instance)).query<{ n: unknown }>(q.sql, q.params);
          tally.rows += Number(row?.n ?? 0);
        } else {
          await archiveTable(sessions, t, shape, table, cut, { meta, runId, pacer, clock, tally, signal: options.signal });
        }
        rowsSoFar += tally.rows - before;
        options.onProgress?.({ table: table.logical, done: ++done, total, rows: rowsSoFar });
        options.log?.debug(
          { table: t.logical, instance: t.instance, database: t.database, physical: t.table, rows: tally.rows - before },
          dryRun ? 'archival physical table counted' : 'archival physical table done',
        );
      };
      for (let round = 1; pending.length; round++) {
        const moved: PhysicalTable[] = [];
        await perInstance(
          pending,
          (t) => t.instance,
          async (t) => {
            if (options.signal?.aborted) return;
            try {
              await one(t);
            } catch (err) {
              if (!isMoved(err) && !(err instanceof MovedTables)) throw err;
              moved.push(t);
            }
          },
        );
        pending = [];
        if (!moved.length) break;
        if (round >= MOVED_ROUNDS)
          throw new ArchivalError(
            'ARCHIVAL_FAILED',
            `${moved.length} physical table(s) of ${table.logical} stayed fenced by a shard move (e.g. ${moved[0]!.database}.${moved[0]!.table} on ${moved[0]!.instance}): run the job again once the move is done`,
            { details: { table: table.logical, tables: moved.length } },
          );
        options.log?.info(
          { table: table.logical, tables: moved.length, round },
          'archival: tables fenced or moved by a shard move; reading the shard map again',
        );
        await sleep(MOVED_WAIT_MS, options.signal, clock).catch(() => undefined);
        topology = await currentTopology(config, sessions);
        await ensureMarkerTables(topology.map.instances);
        const where = new Map(physicalTables(topology, table.logical).map((t) => [t.shard, t]));
        pending = moved.map((t) => where.get(t.shard)!);
        for (const t of pending) shapes.delete(`${t.database}.${t.table}`);
      }
      if (options.signal?.aborted) interrupted = true;
      const seconds = (Date.now() - t0) / 1000;
      const report: ArchivalTableReport = {
        table: table.logical,
        column: table.column,
        cut,
        ...(dryRun ? { rows_to_delete: tally.rows } : { rows_deleted: tally.rows }),
        batches: tally.batches,
        physical_tables: topology.shardCount,
        seconds,
      };
      reports.push(report);
      options.log?.info(
        { run_id: runId, table: table.logical, rows: tally.rows, batches: tally.batches, physical_tables: topology.shardCount, seconds },
        dryRun ? 'archival table counted' : 'archival table done',
      );
    }
    const seconds = (Date.now() - started) / 1000;
    const deleted = dryRun ? 0 : reports.reduce((n, r) => n + (r.rows_deleted ?? 0), 0);
    const distinctCuts = new Set(cuts.values());
    return {
      run_id: runId,
      cut: distinctCuts.size === 1 ? [...distinctCuts][0]! : null,
      now,
      dry_run: dryRun,
      tables: reports,
      rows_deleted: deleted,
      ...(dryRun ? { rows_to_delete: reports.reduce((n, r) => n + (r.rows_to_delete ?? 0), 0) } : {}),
      rows_per_s: dryRun ? 0 : rowsPerSecond(deleted, seconds * 1000),
      seconds,
      ...(interrupted ? { interrupted: true } : {}),
    };
  } catch (err) {
    throw wrap(err, 'archival run');
  } finally {
    await sessions.closeAll();
  }
}

/** Anything that is not a ShardlineError yet becomes ARCHIVAL_FAILED (sanitized server errors keep their own class as the cause). */
function wrap(err: unknown, what: string): unknown {
  if (isShardlineError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ArchivalError('ARCHIVAL_FAILED', `${what} failed: ${message}`, {
    cause: err,
    retriable: asServerError(err).retriable === true,
  });
}

/** Physical tables whose shapes one pair of catalogue reads covers. */
const SHAPES_PER_READ = 512;

/** The shapes of `tables` (all on `instance`), two catalogue reads per {@link SHAPES_PER_READ} tables. */
async function readShapes(
  sessions: InstanceSessions,
  instance: string,
  tables: readonly PhysicalTable[],
  column: string,
): Promise<Map<string, TableShape | ArchivalError>> {
  const s = await sessions.get(instance);
  const out = new Map<string, TableShape | ArchivalError>();
  for (let i = 0; i < tables.length; i += SHAPES_PER_READ) {
    const part = tables.slice(i, i + SHAPES_PER_READ);
    const cols = columnsOfTablesSql(part);
    const pks = primaryKeysOfTablesSql(part);
    const columns = await s.query<{ db: unknown; tbl: unknown; name: unknown; type: unknown }>(cols.sql, cols.params);
    const primaryKeys = await s.query<{ db: unknown; tbl: unknown; name: unknown }>(pks.sql, pks.params);
    for (const [k, v] of tableShapes(part, column, columns, primaryKeys)) out.set(k, v);
  }
  return out;
}

interface BatchContext {
  meta: string;
  runId: string;
  pacer: RatePacer;
  clock: Clock;
  tally: { rows: number; batches: number };
  signal: AbortSignal | undefined;
}

/** Deletes a physical table's rows older than the cut, batch after batch (keyset on the primary key within the run). */
async function archiveTable(
  sessions: InstanceSessions,
  t: PhysicalTable,
  shape: TableShape,
  table: ArchivalTable,
  cut: string,
  ctx: BatchContext,
): Promise<void> {
  let from: unknown[] | null = null;
  for (;;) {
    if (ctx.signal?.aborted) return;
    const wait = ctx.pacer.delay(ctx.clock.now());
    if (wait > 0) await sleep(wait, ctx.signal, ctx.clock).catch(() => undefined);
    if (ctx.signal?.aborted) return;
    const startedAt = ctx.clock.now();
    let outcome: BatchOutcome;
    try {
      outcome = await retry(() => batch(sessions, t, shape, table, cut, from, ctx), {
        policy: BATCH_RETRY,
        maxAttempts: BATCH_ATTEMPTS,
        clock: ctx.clock,
        isRetriable: (err) => !isMoved(err) && asServerError(err).retriable === true,
        onRetry: async ({ error }) => {
          if (asServerError(error).kind === 'connection') await sessions.discard(t.instance);
        },
      });
    } catch (err) {
      if (isMoved(err)) throw new MovedTables([t]);
      if (isShardlineError(err)) throw err;
      const e = asServerError(err);
      throw new ArchivalError(
        'ARCHIVAL_FAILED',
        `a batch of ${t.database}.${t.table} on ${t.instance} failed: ${err instanceof Error ? err.message : String(err)} (batches committed before stay done; run the job again to go on)`,
        { cause: err, retriable: e.retriable === true, details: physicalDetails(t) },
      );
    }
    ctx.pacer.book(startedAt, outcome.deleted);
    if (outcome.last === null) return;
    ctx.tally.rows += outcome.deleted;
    if (outcome.deleted > 0) ctx.tally.batches++;
    // fewer rows than asked: none older than the cut is left after them (the cut is fixed for the run)
    if (outcome.selected < table.batchRows) return;
    from = outcome.last;
  }
}

interface BatchOutcome {
  /** The last key selected; null when no row older than the cut is left after `from`. */
  last: unknown[] | null;
  /** Keys the SELECT returned (the marker's `rows_planned`). */
  selected: number;
  deleted: number;
}

/**
 * One batch: the candidates read without locks, then one transaction on the table's instance —
 * the marker row, the DELETE re-checking the cut, COMMIT (see {@link runArchival}). A batch whose
 * candidates were all changed or deleted meanwhile rolls back and leaves no marker.
 */
async function batch(
  sessions: InstanceSessions,
  t: PhysicalTable,
  shape: TableShape,
  table: ArchivalTable,
  cut: string,
  from: readonly unknown[] | null,
  ctx: BatchContext,
): Promise<BatchOutcome> {
  const s = await sessions.get(t.instance);
  const select = selectBatchSql(t, shape, from, cut, table.batchRows);
  const rows = await s.query<Record<string, unknown>>(select.sql, select.params);
  if (!rows.length) return { last: null, selected: 0, deleted: 0 };
  const keys = rows.map((r) => boundKey(shape, r));
  const last = keys[keys.length - 1]!;
  await s.query('BEGIN');
  try {
    const marker = archivalMarkerInsert(ctx.meta, {
      runId: ctx.runId,
      logicalTable: t.logical,
      physicalDb: t.database,
      physicalTable: t.table,
      cut,
      rowsPlanned: keys.length,
    });
    const [inserted] = await s.query<{ insertId?: number | string }>(marker.sql, marker.params);
    const del = deleteBatchSql(t, shape, keys, cut);
    const [deletedOk] = await s.query<{ affectedRows?: number }>(del.sql, del.params);
    const deleted = Number(deletedOk?.affectedRows ?? 0);
    if (deleted === 0) {
      await s.query('ROLLBACK');
      return { last, selected: keys.length, deleted: 0 };
    }
    if (deleted !== keys.length) {
      const fix = archivalMarkerDeletedUpdate(ctx.meta, inserted?.insertId ?? 0, deleted);
      await s.query(fix.sql, fix.params);
    }
    await s.query('COMMIT');
    return { last, selected: keys.length, deleted };
  } catch (err) {
    await s.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * `shardline archival verify`: per table with an `archival` config (or `options.table`), the rows
 * the job removed from the shards — by its marker rows on every instance of the config, all runs —
 * against the rows of the archive's table marked `_archived = 1`. A difference right after a run
 * may be the CDC not having applied it yet.
 * @throws {ArchivalError} ARCHIVAL_NOT_CONFIGURED, or ARCHIVAL_FAILED when an instance or the archive cannot be read (or the config has no `archive`)
 */
export async function verifyArchival(config: ClusterConfig, options: { table?: string | undefined } = {}): Promise<ArchivalVerifyReport> {
  const tables = archivalTables(config.sharding, options.table);
  const archive = config.archive;
  if (!archive) throw new ArchivalError('ARCHIVAL_FAILED', 'archival verify reads the archive: the cluster config has no archive section');
  const meta = config.sharding.naming.metaDatabase;
  const removed = new Map<string, { rows: number; batches: number }>(tables.map((t) => [t.logical.toLowerCase(), { rows: 0, batches: 0 }]));
  try {
    await Promise.all(
      config.instances.map(async (inst) => {
        const s = await openMysqlSession(endpointOf(inst));
        try {
          const [exists] = await s.query<{ n: unknown }>(
            'SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
            [meta, ARCHIVAL_MARKER_TABLE],
          );
          if (Number(exists?.n ?? 0) === 0) return;
          const rows = await s.query<{ logical_table: unknown; batches: unknown; removed: unknown }>(
            archivalRemovedSql(meta, tables.length),
            tables.map((t) => t.logical),
          );
          for (const r of rows) {
            const sum = removed.get(String(r.logical_table).toLowerCase());
            if (!sum) continue;
            sum.rows += Number(r.removed);
            sum.batches += Number(r.batches);
          }
        } finally {
          await s.close();
        }
      }),
    );
    const s = await openMysqlSession({
      name: archive.name,
      host: archive.host,
      port: archive.port,
      user: archive.user,
      password: archive.password,
      tls: archive.tls,
      serverPublicKey: archive.serverPublicKey,
    });
    const out: ArchivalVerifyRow[] = [];
    try {
      for (const t of tables) {
        const columns = await s.query<{ name: unknown }>(
          'SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
          [archive.database, t.logical],
        );
        let marked = 0;
        let note: string | undefined;
        if (!columns.length) note = `the archive has no table ${archive.database}.${t.logical} (yet): counted as 0`;
        else if (!columns.some((c) => String(c.name).toLowerCase() === '_archived'))
          note = `the archive table ${archive.database}.${t.logical} has no _archived column (a CDC sink older than the archival job): counted as 0`;
        else {
          const [row] = await s.query<{ n: unknown }>(
            `SELECT COUNT(*) AS n FROM ${quoteIdent(archive.database)}.${quoteIdent(t.logical)} WHERE \`_archived\` = 1`,
          );
          marked = Number(row?.n ?? 0);
        }
        const sum = removed.get(t.logical.toLowerCase())!;
        out.push({
          table: t.logical,
          removed_from_shards: sum.rows,
          marked_archived: marked,
          difference: sum.rows - marked,
          batches: sum.batches,
          ...(note ? { note } : {}),
        });
      }
    } finally {
      await s.close();
    }
    return { tables: out, differences: out.filter((r) => r.difference !== 0).length };
  } catch (err) {
    throw wrap(err, 'archival verify');
  }
}
