import type { Topology } from '../../shard/index.js';
import { canonicalRow, type CanonicalValue } from '../binlog/decoder/canonical-json.js';
import type { BinlogEvent } from '../binlog/decoder/binlog-event.js';
import { rowVersions, type VersionEpoch } from './source-version.js';

/** Where a change came from (the `source` block of a change event). */
export interface ChangeSource {
  instance: string;
  flavour: 'mysql' | 'mariadb';
  /** MySQL server_uuid; null on MariaDB (which has none). */
  server_uuid: string | null;
  server_id: number;
  db: string;
  table: string;
  /** The logical table when `table` is one of its shards, else null. */
  logical_table: string | null;
  shard: number | null;
  gtid: string | null;
  file: string;
  pos: number;
  /**
   * Index of the row among the rows at this position: its index in its rows event (the rows of
   * a compressed transaction payload, which share the payload's position, count on).
   */
  row: number;
  /** Commit time in microseconds (the GTID's commit timestamp where the server has it). */
  ts_us: number;
  /**
   * `"false"` for a change read from the binlog; `"initial"` or `"incremental"` for a row read by a
   * snapshot (op `r`), as Debezium's `source.snapshot`.
   */
  snapshot: 'initial' | 'incremental' | 'false';
  /**
   * The change's source version (decimal, below 2^63): Elasticsearch's external version and the
   * archive's `_version`. Monotonic per row across failovers (see `VersionEpoch`); absent only in
   * events written before shardline carried it (a sink then derives it from file/pos/row).
   */
  version?: string;
  /**
   * `true` on a delete made by shardline's archival job (a row of `<metaDatabase>.archival_batches`
   * written first in the same transaction names the physical table): the row moved to the archive,
   * it was not deleted by a user. Absent on every other change.
   */
  archival?: true;
}

/** A Debezium-shaped change event (schemas/change-event.schema.json). */
export interface ChangeEvent {
  op: 'c' | 'u' | 'd' | 'r';
  before: Record<string, CanonicalValue> | null;
  after: Record<string, CanonicalValue> | null;
  source: ChangeSource;
  /** When shardline produced the event (ms since the epoch). */
  ts_ms: number;
}

/** Context a rows event needs to become change events. */
export interface ChangeContext {
  instance: string;
  flavour: 'mysql' | 'mariadb';
  serverUuid?: string | null;
  gtid: string | null;
  /** Commit time of the current transaction in µs, if known. */
  commitUs: bigint | null;
  topology: Topology | null;
  /** How the server's positions become versions (absent: epoch 0). */
  epoch?: VersionEpoch;
}

/** Turns one decoded rows event into change events, one per row, values in the canonical encoding. */
export function changeEvents(
  event: Extract<BinlogEvent, { kind: 'rows' }>,
  ctx: ChangeContext,
  now = Date.now(),
  rowBase = 0,
): ChangeEvent[] {
  const mapped = ctx.topology?.logicalOf(event.table.database, event.table.table) ?? null;
  const tsUs = Number(ctx.commitUs ?? BigInt(event.timestamp) * 1_000_000n);
  const versionOf = rowVersions(ctx.epoch, event.file, event.pos, rowBase);
  return event.rows.map((row, i) => ({
    op: event.op,
    before: canonicalRow(row.before),
    after: canonicalRow(row.after),
    source: {
      instance: ctx.instance,
      flavour: ctx.flavour,
      server_uuid: ctx.serverUuid ?? null,
      server_id: event.serverId,
      db: event.table.database,
      table: event.table.table,
      logical_table: mapped?.logical ?? null,
      shard: mapped?.shard ?? null,
      gtid: ctx.gtid,
      file: event.file,
      pos: event.pos,
      row: rowBase + i,
      ts_us: tsUs,
      snapshot: 'false',
      version: versionOf(i),
    },
    ts_ms: now,
  }));
}
