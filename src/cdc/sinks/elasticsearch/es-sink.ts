import { Client, type ClientOptions } from '@elastic/elasticsearch';
import type { Registry } from 'prom-client';
import { ConfigError } from '../../../errors/index.js';
import type { Logger } from '../../../log/logger.js';
import { backoffDelayMs, sleep, type BackoffPolicy } from '../../../retry/index.js';
import type { LogicalTableSchema } from '../../schema/logical-columns.js';
import type { DeadLetter, Sink, SinkRecord } from '../sink-record.js';
import { actionsFor, bulkBody, bulkChunks, documentWaves, type BulkAction } from './bulk-body.js';
import { errorReason, itemOutcome, requestFailure, type ItemOutcome } from './bulk-response.js';
import { EsSinkError } from './es-sink-error.js';
import { RequestSlots, settleAll } from './request-slots.js';
import { createEsSinkMetrics, type EsSinkMetrics } from './es-sink-metrics.js';
import { indexNamesFor, type IndexNames } from './index-names.js';
import {
  DEFAULT_FIELD_LIMIT,
  hasRenamedFields,
  indexTemplateFor,
  META_FIELD,
  TOMBSTONE_FILTER,
  tombstoneIndexBody,
  type IndexTemplateOptions,
} from './index-template.js';
import { esBackoffPolicy, type RetryOptions } from './retry-policy.js';

/** Options of {@link EsSink}. */
export interface EsSinkOptions {
  /** Elasticsearch URL (`elasticsearch.node` of the cluster config). */
  node: string;
  /**
   * Per logical table, what an archival delete (`source.archival`) does to its document:
   * `keep` it searchable (no change; also when absent), or `drop` it like a user's delete.
   */
  archivedSearch?: (table: string) => 'keep' | 'drop';
  /** `cdc.elasticsearch.indexPrefix`: tables are searched as `<indexPrefix><table>`. */
  indexPrefix: string;
  /** `cdc.elasticsearch.bulkMaxDocs`: actions per bulk request. */
  bulkMaxDocs: number;
  /** `cdc.elasticsearch.bulkMaxBytes`: bytes per bulk request (default 10 MiB; a single larger action goes alone). */
  bulkMaxBytes?: number;
  /** The logical table's columns and primary key (e.g. `readLogicalTableSchema` on a shard). */
  schemaOf: (table: string) => Promise<LogicalTableSchema>;
  registry?: Registry;
  logger?: Logger;
  /** Index template shape (replicas, shards, refresh interval, extra settings). */
  template?: IndexTemplateOptions;
  retry?: RetryOptions;
  /** Per-request time-out (default 60 s); a time-out is retried like a lost connection. */
  requestTimeoutMs?: number;
  /** How long a column the schema does not show is left unindexed before the schema is read again (default 60 s). */
  schemaRefreshMs?: number;
  /**
   * `cdc.elasticsearch.concurrency`: writes in flight at once, and bulk requests in flight at once
   * across them (default 4); one write's bulk requests run side by side up to it.
   */
  maxConcurrentWrites?: number;
  /** Extra client options (auth, TLS); retries stay the sink's own. */
  clientOptions?: Omit<ClientOptions, 'node' | 'nodes' | 'maxRetries'>;
}

/** A table the sink has set up in this process. */
interface TableState {
  names: IndexNames;
  schema: LogicalTableSchema;
  columns: Set<string>;
  /** Some column's document field is renamed (a column named like a metadata field, `_id`). */
  renamed: boolean;
  ready: boolean;
  /** Columns seen in rows but absent from the last schema read, with when that read was. */
  unknown: Map<string, number>;
}

type JsonBody = Record<string, unknown>;

/** Counts per table, reported once per table instead of one labelled metric update per document. */
class Tally {
  private readonly counts = new Map<string, number>();

  add(table: string): void {
    this.counts.set(table, (this.counts.get(table) ?? 0) + 1);
  }

  report(to: (table: string, n: number) => void): void {
    for (const [table, n] of this.counts) to(table, n);
  }
}

/**
 * Applies change records to Elasticsearch, exactly once in effect.
 *
 * - One concrete index per logical table (`<prefix><table>.v1`) behind a filtered alias
 *   (`<prefix><table>`), both made from {@link indexTemplateFor}'s template, installed before the
 *   first write to the table in this process, and again when the alias disappears (the index
 *   deleted by hand; the empty index ES then auto-creates under the alias name for a delete is
 *   removed). A `cdc snapshot --table T` fills the new index again.
 * - `_id` is the record's id; every write carries the record's source version with
 *   `version_type=external_gte`, so replays and reordering never move a document back in time.
 * - Deletes are real deletes (GET/_mget through the alias say `found: false`) plus a tombstone in
 *   the table's tombstones index, checked before every index (see `tombstoneFor`), so a replay
 *   after any delay cannot resurrect a deleted row.
 * - 429, 5xx, lost connections and time-outs (whole request or per item) are retried with
 *   jittered back-off until they succeed or the sink is closed; nothing is skipped. Items refused
 *   for good (400) come back as dead letters.
 *
 * @example
 * const sink = new EsSink({ node: config.elasticsearch.node, ...config.cdc.elasticsearch, schemaOf, registry });
 * const dead = await sink.write(records); // then publish `dead` and commit the offsets
 */
export class EsSink implements Sink {
  private readonly client: Client;
  private readonly metrics: EsSinkMetrics;
  private readonly tables = new Map<string, TableState>();
  private readonly abort = new AbortController();
  private readonly backoff: BackoffPolicy;
  private readonly inFlight = new Set<Promise<unknown>>();
  private running = 0;
  private readonly bulkSlots: RequestSlots;
  private readonly waiting: Array<() => void> = [];
  private closed = false;
  /** Whether the cluster has `unsigned_long` (learnt from the first template it refuses). */
  private unsignedLong: boolean;

  constructor(private readonly options: EsSinkOptions) {
    if (!Number.isInteger(options.bulkMaxDocs) || options.bulkMaxDocs < 1) {
      throw new ConfigError(
        'CONFIG_INVALID',
        `Elasticsearch sink: cdc.elasticsearch.bulkMaxDocs must be a positive integer, found ${options.bulkMaxDocs}`,
        { details: { field: 'cdc.elasticsearch.bulkMaxDocs' } },
      );
    }
    if (options.bulkMaxBytes !== undefined && (!Number.isInteger(options.bulkMaxBytes) || options.bulkMaxBytes < 1024)) {
      throw new ConfigError(
        'CONFIG_INVALID',
        `Elasticsearch sink: cdc.elasticsearch.bulkMaxBytes must be an integer of at least 1024, found ${options.bulkMaxBytes}`,
        { details: { field: 'cdc.elasticsearch.bulkMaxBytes' } },
      );
    }
    const concurrency = options.maxConcurrentWrites ?? 4;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new ConfigError(
        'CONFIG_INVALID',
        `Elasticsearch sink: cdc.elasticsearch.concurrency must be a positive integer, found ${concurrency}`,
        { details: { field: 'cdc.elasticsearch.concurrency' } },
      );
    }
    this.bulkSlots = new RequestSlots(concurrency);
    this.backoff = esBackoffPolicy(options.retry);
    this.client = new Client({
      ...options.clientOptions,
      node: options.node,
      maxRetries: 0,
      requestTimeout: options.requestTimeoutMs ?? 60_000,
    });
    this.metrics = createEsSinkMetrics(options.registry);
    this.unsignedLong = options.template?.unsignedLong ?? true;
  }

  /** The alias, concrete index and template names of a table. */
  namesOf(table: string): IndexNames {
    return indexNamesFor(this.options.indexPrefix, table);
  }

  /**
   * Writes the records in order and resolves with the ones Elasticsearch refused for good, once
   * every other record is applied (or superseded by a newer version). Up to `maxConcurrentWrites`
   * calls run at once (callers give each call its own keys, e.g. one Kafka partition each; the
   * versions make any interleaving of one key's writes converge anyway). Within a call, one
   * document's records reach Elasticsearch in their order (`documentWaves`); the bulk requests of
   * different documents run side by side, at most `maxConcurrentWrites` across all calls.
   * Rejects with `SINK_CLOSED` (retriable) when the sink is closed first: do not commit offsets then.
   */
  write(records: readonly SinkRecord[]): Promise<DeadLetter[]> {
    if (this.closed) return Promise.reject(this.closedError());
    const run = (async () => {
      while (this.running >= this.bulkSlots.size) await new Promise<void>((r) => this.waiting.push(r));
      this.throwIfClosed();
      this.running++;
      try {
        return await this.writeNow(records);
      } finally {
        this.running--;
        this.waiting.shift()?.();
      }
    })();
    const settled: Promise<unknown> = run.catch(() => undefined).finally(() => this.inFlight.delete(settled));
    this.inFlight.add(settled);
    return run;
  }

  /**
   * Makes every document written so far visible to search (`_refresh` of the sink's indices):
   * the sink's progress is published only after it, so a search after `router.indexed` sees the write.
   */
  async refresh(): Promise<void> {
    await this.request(
      'POST',
      `/${encodeURIComponent(`${this.options.indexPrefix}*`)}/_refresh?allow_no_indices=true&ignore_unavailable=true`,
    );
  }

  /** Stops retrying (a pending write rejects with `SINK_CLOSED`), waits for it, closes the client. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort(this.closedError());
    for (const w of this.waiting.splice(0)) w();
    await Promise.all([...this.inFlight]);
    await this.client.close();
  }

  /**
   * Deletes the tombstones of a table committed more than `olderThanMs` ago (those of the
   * tombstones index, and any left in the table's index by earlier versions of the sink). Run it
   * with a horizon longer than any replay the pipeline can produce (the change topics'
   * retention): once a tombstone is gone, a replay older than the delete can bring the row back.
   */
  async purgeTombstones(table: string, olderThanMs: number): Promise<number> {
    const names = this.namesOf(table);
    let purged = 0;
    for (const index of [names.tombstoneIndex, names.index]) purged += await this.purgeFrom(index, olderThanMs);
    return purged;
  }

  private async purgeFrom(concrete: string, olderThanMs: number): Promise<number> {
    const names = { index: concrete };
    const index = encodeURIComponent(concrete);
    const query = {
      bool: {
        filter: [
          { term: { [`${META_FIELD}.deleted`]: true } },
          { range: { [`${META_FIELD}.committed_at`]: { lt: Date.now() - olderThanMs } } },
        ],
      },
    };
    // Search + conditional bulk deletes rather than _delete_by_query (a module some distributions
    // lack): `if_seq_no`/`if_primary_term` leave a tombstone alone if a newer write replaced it.
    let purged = 0;
    for (;;) {
      try {
        await this.request('POST', `/${index}/_refresh`);
      } catch (err) {
        if (/index_not_found/.test(requestFailureReason(err))) return purged;
        throw err;
      }
      const found = await this.request('POST', `/${index}/_search`, {
        query,
        size: 1000,
        _source: false,
        seq_no_primary_term: true,
        sort: ['_doc'],
      });
      const hits = (found['hits'] as { hits?: { _id: string; _seq_no: number; _primary_term: number }[] } | undefined)?.hits ?? [];
      if (hits.length === 0) return purged;
      const body = hits
        .map(
          (h) =>
            `${JSON.stringify({ delete: { _index: names.index, _id: h._id, if_seq_no: h._seq_no, if_primary_term: h._primary_term } })}\n`,
        )
        .join('');
      const res = await this.client.transport.request<JsonBody>(
        { method: 'POST', path: '/_bulk', querystring: { filter_path: 'items.*.status' }, bulkBody: body },
        { signal: this.abort.signal },
      );
      const deleted = (Array.isArray(res['items']) ? (res['items'] as unknown[]) : []).filter(
        (i) => itemOutcome(i).kind === 'applied',
      ).length;
      purged += deleted;
      if (deleted === 0) return purged;
    }
  }

  private closedError(): EsSinkError {
    return new EsSinkError('SINK_CLOSED', 'the Elasticsearch sink was closed before the records were written', { retriable: true });
  }

  private throwIfClosed(): void {
    if (this.closed) throw this.closedError();
  }

  private async writeNow(all: readonly SinkRecord[]): Promise<DeadLetter[]> {
    // archival deletes of tables whose search keeps archived rows change nothing here
    const policy = this.options.archivedSearch ?? (() => 'keep');
    const records = all.filter((r) => !(r.event.source.archival === true && policy(r.table) === 'keep'));
    if (records.length === 0) return [];
    const reasons = new Map<number, string>();
    const states = new Map<string, TableState>();
    for (const table of new Set(records.map((r) => r.table))) states.set(table, await this.ensureTable(table));
    await this.followSchemaChanges(records, states);
    const actions: BulkAction[] = [];
    records.forEach((record, i) => {
      const state = states.get(record.table)!;
      const built = actionsFor(record, i, state.names.alias, state.schema.primaryKey, state.names.tombstones, state.renamed);
      if (built.ok) actions.push(...built.actions);
      else reasons.set(i, built.reason);
    });
    await this.apply(await this.dropSuperseded(actions, records, states), records, reasons);
    const dead: DeadLetter[] = [];
    for (const [i, reason] of [...reasons].sort((a, b) => a[0] - b[0])) {
      const record = records[i]!;
      dead.push({ record, reason });
      this.metrics.deadLetters(record.table, 1);
      this.options.logger?.warn(
        { table: record.table, id: record.id, origin: record.origin, error: reason.split(':')[0] },
        'elasticsearch sink: record dead-lettered',
      );
    }
    return dead;
  }

  /** Sends actions until each is applied, superseded or rejected; retries the others with back-off. */
  private async apply(actions: readonly BulkAction[], records: readonly SinkRecord[], reasons: Map<number, string>): Promise<void> {
    let pending = actions;
    for (let attempt = 1; pending.length > 0; attempt++) {
      this.throwIfClosed();
      const again: BulkAction[] = [];
      const why = new Set<string>();
      const lostAliases = new Set<string>();
      const waves = documentWaves(pending, (a) => records[a.record]!.table);
      for (const [w, wave] of waves.entries()) {
        if (again.length > 0) {
          // a document's later changes wait for its earlier ones to be retried
          again.push(...waves.slice(w).flat());
          break;
        }
        const chunks = bulkChunks(wave, this.options.bulkMaxDocs, this.options.bulkMaxBytes ?? 10 * 1024 * 1024);
        await settleAll(chunks, async (chunk) => {
          const outcomes = await this.send(chunk, (a) => {
            const names = this.namesOf(records[a.record]!.table);
            return a.kind === 'tombstone' ? names.tombstones : names.alias;
          });
          const indexed = new Tally();
          const deleted = new Tally();
          const conflicts = new Tally();
          chunk.forEach((action, k) => {
            const outcome = outcomes[k]!;
            const table = records[action.record]!.table;
            if (outcome.kind === 'applied') {
              if (action.kind === 'index') indexed.add(table);
              else if (action.kind === 'delete') deleted.add(table);
            } else if (outcome.kind === 'stale') {
              if (action.kind !== 'tombstone') conflicts.add(table);
            } else if (outcome.kind === 'rejected') {
              if (!reasons.has(action.record)) reasons.set(action.record, outcome.reason);
            } else {
              again.push(action);
              why.add(outcome.kind === 'retry' ? outcome.reason : 'alias_missing');
              if (outcome.kind === 'alias-missing') lostAliases.add(table);
            }
          });
          indexed.report((table, n) => this.metrics.indexed(table, n));
          deleted.report((table, n) => this.metrics.deleted(table, n));
          conflicts.report((table, n) => this.metrics.versionConflicts(table, n));
        });
      }
      if (again.length === 0) return;
      for (const reason of why) this.metrics.retry(reason);
      const delayMs = backoffDelayMs(this.backoff, attempt, this.options.retry?.random);
      this.options.logger?.warn({ items: again.length, reasons: [...why], attempt, delayMs }, 'elasticsearch sink: retrying bulk items');
      await this.pause(delayMs);
      for (const table of lostAliases) {
        const state = this.tables.get(table);
        if (state) state.ready = false;
        await this.ensureTable(table);
      }
      pending = again;
    }
  }

  /**
   * Leaves out the index actions whose id has a stored tombstone as new as them or newer (counted
   * as version conflicts): a late replay of an older write must not bring a deleted row back after
   * Elasticsearch has forgotten the delete (`index.gc_deletes`). The tombstones are read once per
   * batch (a real-time `_mget` of the batch's ids); a delete landing between this read and the
   * write is still refused by Elasticsearch's own delete version, which it keeps for `gc_deletes`.
   */
  private async dropSuperseded(
    actions: readonly BulkAction[],
    records: readonly SinkRecord[],
    states: Map<string, TableState>,
  ): Promise<BulkAction[]> {
    const idsOf = new Map<string, Set<string>>();
    for (const a of actions) {
      if (a.kind !== 'index') continue;
      const table = records[a.record]!.table;
      let ids = idsOf.get(table);
      if (!ids) idsOf.set(table, (ids = new Set()));
      ids.add(a.id);
    }
    const deletedAt = new Map<string, Map<string, bigint>>();
    for (const [table, ids] of idsOf) deletedAt.set(table, await this.tombstoneVersions(states.get(table)!, [...ids]));
    const conflicts = new Tally();
    const kept = actions.filter((a) => {
      if (a.kind !== 'index') return true;
      const table = records[a.record]!.table;
      const deleted = deletedAt.get(table)?.get(a.id);
      if (deleted === undefined || a.version > deleted) return true;
      conflicts.add(table);
      return false;
    });
    conflicts.report((table, n) => this.metrics.versionConflicts(table, n));
    return kept;
  }

  /** The version of each stored tombstone among `ids` (from `_shardline.version`, exact past 2^53). */
  private async tombstoneVersions(state: TableState, ids: readonly string[]): Promise<Map<string, bigint>> {
    const found = new Map<string, bigint>();
    for (let from = 0; from < ids.length; from += 1000) {
      const chunk = ids.slice(from, from + 1000);
      for (let attempt = 1; ; attempt++) {
        this.throwIfClosed();
        let docs: { _id?: string; found?: boolean; error?: unknown; _source?: { [META_FIELD]?: { version?: unknown } } }[];
        let missing = false;
        let retryReason: string | null = null;
        try {
          const res = await this.client.transport.request<JsonBody>(
            {
              method: 'POST',
              path: `/${encodeURIComponent(state.names.tombstones)}/_mget`,
              querystring: { _source_includes: `${META_FIELD}.version`, realtime: 'true' },
              body: { ids: chunk },
            },
            { signal: this.abort.signal },
          );
          docs = Array.isArray(res['docs']) ? (res['docs'] as typeof docs) : [];
          const failed = docs.find((d) => d.error !== undefined);
          if (failed) {
            missing = /index_not_found/.test(errorReason(failed.error));
            if (!missing) retryReason = 'tombstone_read';
          }
        } catch (err) {
          const failure = requestFailure(err);
          if (failure.kind === 'aborted' || this.closed) throw this.closedError();
          if (failure.kind === 'fatal' && /index_not_found/.test(failure.reason)) missing = true;
          else if (failure.kind === 'retry') retryReason = failure.reason;
          else
            throw new EsSinkError(
              (failure.kind === 'fatal' && failure.code) || 'ES_SINK_FAILED',
              `Elasticsearch refused to read the tombstones of ${state.schema.table}: ${failure.kind === 'fatal' ? failure.reason : 'request too large'}`,
              { cause: err },
            );
          docs = [];
        }
        if (missing) {
          state.ready = false;
          await this.ensureTable(state.schema.table);
          continue;
        }
        if (retryReason !== null) {
          this.metrics.retry(retryReason);
          await this.pause(backoffDelayMs(this.backoff, attempt, this.options.retry?.random));
          continue;
        }
        for (const d of docs) {
          const v = d._source?.[META_FIELD]?.version;
          if (d.found && d._id !== undefined && (typeof v === 'string' || typeof v === 'number')) found.set(d._id, BigInt(v));
        }
        break;
      }
    }
    return found;
  }

  /**
   * One bulk request; its outcome per action (a failed request gives every action the same).
   * `targetOf` names the alias each action is sent to (see `itemOutcome`).
   */
  private async send(chunk: readonly BulkAction[], targetOf: (a: BulkAction) => string): Promise<ItemOutcome[]> {
    // timed from when the request goes out: the wait for a slot is not the bulk's duration
    let started: number | null = null;
    const seconds = (): number => (performance.now() - started!) / 1000;
    let body: JsonBody;
    try {
      body = await this.bulkSlots.run(() => {
        this.throwIfClosed();
        started = performance.now();
        return this.client.transport.request<JsonBody>(
          {
            method: 'POST',
            path: '/_bulk',
            querystring: { require_alias: 'true', filter_path: 'errors,items.*._index,items.*.status,items.*.error' },
            bulkBody: bulkBody(chunk),
          },
          { signal: this.abort.signal },
        );
      });
    } catch (err) {
      if (started !== null) this.metrics.bulk('failed', seconds()); // a request never sent (closed while waiting) is no failed bulk
      const failure = requestFailure(err);
      if (failure.kind === 'aborted' || this.closed) throw this.closedError();
      if (failure.kind === 'retry') return chunk.map(() => ({ kind: 'retry', reason: failure.reason }));
      if (failure.kind === 'split') {
        if (chunk.length === 1)
          return [{ kind: 'rejected', reason: 'request_entity_too_large: the document is larger than http.max_content_length' }];
        const half = Math.ceil(chunk.length / 2);
        return [...(await this.send(chunk.slice(0, half), targetOf)), ...(await this.send(chunk.slice(half), targetOf))];
      }
      throw new EsSinkError(
        failure.code ?? 'ES_SINK_FAILED',
        `Elasticsearch refused a bulk request (status ${failure.status ?? 'none'}): ${failure.reason}`,
        {
          cause: err,
          details: { status: failure.status },
        },
      );
    }
    const items = Array.isArray(body['items']) ? (body['items'] as unknown[]) : [];
    const outcomes = chunk.map((a, k) => itemOutcome(items[k], targetOf(a)));
    this.metrics.bulk(outcomes.some((o) => o.kind === 'retry' || o.kind === 'alias-missing') ? 'partial' : 'ok', seconds());
    return outcomes;
  }

  /** The table's state, setting up its template, index, mapping and alias the first time. */
  /** Set-ups in progress per table: concurrent writes wait for one set-up instead of racing it. */
  private readonly settingUp = new Map<string, Promise<TableState>>();

  private ensureTable(table: string): Promise<TableState> {
    const state = this.tables.get(table);
    if (state?.ready) return Promise.resolve(state);
    let p = this.settingUp.get(table);
    if (!p) {
      p = this.setUpTable(table).finally(() => this.settingUp.delete(table));
      this.settingUp.set(table, p);
    }
    return p;
  }

  private async setUpTable(table: string): Promise<TableState> {
    let state = this.tables.get(table);
    if (state?.ready) return state;
    if (!state) {
      const schema = await this.options.schemaOf(table);
      state = {
        names: this.namesOf(table),
        schema,
        columns: new Set(schema.columns.map((c) => c.name)),
        renamed: hasRenamedFields(schema.columns),
        ready: false,
        unknown: new Map(),
      };
      this.tables.set(table, state);
    }
    await this.withRetry(() => this.setUp(state));
    state.ready = true;
    return state;
  }

  /**
   * Re-reads the schema of a table whose rows carry a column the mapping does not know (an ADD
   * COLUMN since the template was made) and puts the new mapping before writing them. A column the
   * re-read does not show either (dropped since, or a shard the DDL has not reached) is asked about
   * again after `schemaRefreshMs`; meanwhile its values stay in `_source`, unindexed.
   */
  private async followSchemaChanges(records: readonly SinkRecord[], states: Map<string, TableState>): Promise<void> {
    const now = Date.now();
    const retryAfter = this.options.schemaRefreshMs ?? 60_000;
    const stale = new Set<string>();
    for (const r of records) {
      const state = states.get(r.table)!;
      if (!r.event.after || stale.has(r.table)) continue;
      for (const c of Object.keys(r.event.after)) {
        const askedAt = state.unknown.get(c);
        if (!state.columns.has(c) && (askedAt === undefined || now - askedAt >= retryAfter)) stale.add(r.table);
      }
    }
    for (const table of stale) {
      const state = states.get(table)!;
      state.schema = await this.options.schemaOf(table);
      state.columns = new Set(state.schema.columns.map((c) => c.name));
      state.renamed = hasRenamedFields(state.schema.columns);
      for (const r of records) {
        if (r.table !== table || !r.event.after) continue;
        for (const c of Object.keys(r.event.after)) if (!state.columns.has(c)) state.unknown.set(c, now);
      }
      this.options.logger?.info(
        { table, columns: state.schema.columns.length, unknown: [...state.unknown.keys()] },
        'elasticsearch sink: schema re-read, updating the mapping',
      );
      await this.withRetry(() => this.setUp(state));
    }
  }

  /**
   * Template, concrete index, mapping (adds new columns) and aliases; each step idempotent. An
   * empty index where an alias belongs (see `removeAliasShadow`) is removed first, and again when
   * one comes back meanwhile (a delete in flight through the missing alias).
   */
  private async setUp(state: TableState): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await this.removeAliasShadow(state.names.alias);
      await this.removeAliasShadow(state.names.tombstones);
      try {
        await this.putIndexAndAliases(state);
        return;
      } catch (err) {
        if (attempt >= 3 || !/invalid_alias_name_exception/.test(requestFailureReason(err))) throw err;
      }
    }
  }

  /**
   * Deletes a concrete index named like one of the table's aliases when it holds no document.
   * Elasticsearch creates such an index when an externally versioned delete is sent through the
   * alias while the index behind it is gone (deleted by hand): bulk deletes ignore `require_alias`
   * and auto-create their target, with no mapping (the template matches `<alias>.v1` only), and
   * the alias can then never be put back. A delete writes no document, so the index is empty; an
   * index of that name holding documents is not the sink's doing and is left alone (the set-up
   * then fails with ES's `invalid_alias_name_exception`).
   */
  private async removeAliasShadow(alias: string): Promise<void> {
    const path = `/${encodeURIComponent(alias)}`;
    let found: JsonBody;
    try {
      found = await this.request('GET', `${path}/_settings`);
    } catch (err) {
      if (/index_not_found/.test(requestFailureReason(err))) return;
      throw err;
    }
    if (!(alias in found)) return;
    await this.request('POST', `${path}/_refresh`);
    const count = Number((await this.request('GET', `${path}/_count`))['count']);
    if (count !== 0) {
      this.options.logger?.error(
        { index: alias, documents: count },
        'elasticsearch sink: an index holding documents is named like the alias the sink needs; move them and delete it',
      );
      return;
    }
    this.options.logger?.warn(
      { index: alias },
      'elasticsearch sink: deleting the empty index Elasticsearch created under the alias name (the index behind the alias was deleted)',
    );
    try {
      await this.request('DELETE', path);
    } catch (err) {
      if (!/index_not_found/.test(requestFailureReason(err))) throw err;
    }
  }

  private async putIndexAndAliases(state: TableState): Promise<void> {
    const { names, schema } = state;
    const triedUnsignedLong = this.unsignedLong;
    let template = indexTemplateFor(schema, this.options.indexPrefix, { ...this.options.template, unsignedLong: triedUnsignedLong });
    try {
      await this.request('PUT', `/_index_template/${encodeURIComponent(names.template)}`, template);
    } catch (err) {
      if (!triedUnsignedLong || !/unsigned_long/.test(requestFailureReason(err))) throw err;
      if (this.unsignedLong)
        this.options.logger?.warn(
          { table: schema.table },
          'elasticsearch sink: the cluster has no unsigned_long type; BIGINT UNSIGNED columns are mapped as keyword with a double sub-field',
        );
      this.unsignedLong = false;
      template = indexTemplateFor(schema, this.options.indexPrefix, { ...this.options.template, unsignedLong: false });
      await this.request('PUT', `/_index_template/${encodeURIComponent(names.template)}`, template);
    }
    try {
      await this.request('PUT', `/${encodeURIComponent(names.index)}`, {});
    } catch (err) {
      if (!/resource_already_exists_exception/.test(requestFailureReason(err))) throw err;
    }
    const limit = template.template.settings['index.mapping.total_fields.limit'];
    if (limit !== undefined) {
      // an index made before the table grew past the default keeps its old limit: raise it first (never lowered)
      const current = await this.request(
        'GET',
        `/${encodeURIComponent(names.index)}/_settings/index.mapping.total_fields.limit`,
        undefined,
        {
          include_defaults: 'true',
          flat_settings: 'true',
        },
      );
      if (Number(limit) > indexFieldLimit(current))
        await this.request('PUT', `/${encodeURIComponent(names.index)}/_settings`, { 'index.mapping.total_fields.limit': limit });
    }
    try {
      await this.request('PUT', `/${encodeURIComponent(names.index)}/_mapping`, template.template.mappings);
    } catch (err) {
      const reason = requestFailureReason(err);
      if (!/illegal_argument_exception/.test(reason)) throw err;
      // A column whose type changed cannot be remapped in place (that needs a reindex into .v2);
      // new values of it that do not fit the old type become dead letters.
      this.options.logger?.warn({ table: schema.table, reason }, 'elasticsearch sink: mapping not updated');
    }
    if (this.options.template?.refreshInterval) {
      await this.request('PUT', `/${encodeURIComponent(names.index)}/_settings`, {
        index: { refresh_interval: this.options.template.refreshInterval },
      });
    }
    await this.request('PUT', `/${encodeURIComponent(names.index)}/_alias/${encodeURIComponent(names.alias)}`, {
      is_write_index: true,
      filter: TOMBSTONE_FILTER,
    });
    try {
      await this.request('PUT', `/${encodeURIComponent(names.tombstoneIndex)}`, tombstoneIndexBody(names, this.options.template));
    } catch (err) {
      if (!/resource_already_exists_exception/.test(requestFailureReason(err))) throw err;
      await this.request('PUT', `/${encodeURIComponent(names.tombstoneIndex)}/_alias/${encodeURIComponent(names.tombstones)}`, {
        is_write_index: true,
      });
    }
  }

  private async request(method: string, path: string, body?: object, querystring?: Record<string, string>): Promise<JsonBody> {
    return this.client.transport.request<JsonBody>(
      { method, path, ...(body ? { body: body as JsonBody } : {}), ...(querystring ? { querystring } : {}) },
      { signal: this.abort.signal },
    );
  }

  /** Runs a set-up step until it succeeds, retrying what `requestFailure` calls retriable. */
  private async withRetry(step: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      this.throwIfClosed();
      try {
        await step();
        return;
      } catch (err) {
        if (err instanceof EsSinkError) throw err;
        const failure = requestFailure(err);
        if (failure.kind === 'aborted' || this.closed) throw this.closedError();
        if (failure.kind !== 'retry') {
          const reason = failure.kind === 'fatal' ? failure.reason : 'request too large';
          const status = failure.kind === 'fatal' ? failure.status : 413;
          throw new EsSinkError(
            (failure.kind === 'fatal' && failure.code) || 'ES_SINK_FAILED',
            `Elasticsearch refused to set up the sink's index (status ${status ?? 'none'}): ${reason}`,
            { cause: err, details: { status } },
          );
        }
        this.metrics.retry(failure.reason);
        const delayMs = backoffDelayMs(this.backoff, attempt, this.options.retry?.random);
        this.options.logger?.warn({ reason: failure.reason, attempt, delayMs }, 'elasticsearch sink: retrying set-up');
        await this.pause(delayMs);
      }
    }
  }

  private async pause(ms: number): Promise<void> {
    try {
      await sleep(ms, this.abort.signal);
    } catch {
      throw this.closedError();
    }
  }
}

/** ES's reason of a failed request, for matching (`type: reason`). */
function requestFailureReason(err: unknown): string {
  const failure = requestFailure(err);
  return failure.kind === 'fatal' ? failure.reason : failure.kind;
}

/** An index's `index.mapping.total_fields.limit` from `GET <index>/_settings?include_defaults&flat_settings` (set or default). */
function indexFieldLimit(response: JsonBody): number {
  const key = 'index.mapping.total_fields.limit';
  for (const v of Object.values(response)) {
    const index = v as { settings?: Record<string, unknown>; defaults?: Record<string, unknown> };
    const value = index.settings?.[key] ?? index.defaults?.[key];
    if (value !== undefined) return Number(value);
  }
  return DEFAULT_FIELD_LIMIT;
}
