import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { crc32 } from 'node:zlib';
import type { Registry } from 'prom-client';
import { requireSections, type ClusterConfig } from '../config/index.js';
import { ConfigError, isShardlineError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { sinkProgressKey, Topology } from '../shard/index.js';
import { BinlogReader } from './binlog/syncer/binlog-reader.js';
import { CheckpointStore } from './checkpoint/checkpoint-store.js';
import { startMetricsServer } from './http/metrics-server.js';
import type { EventLog, GroupConsumer } from './kafka/event-log.js';
import { createCdcMetrics, type CdcMetrics } from './metrics/cdc-metrics.js';
import type { CaptureRules } from './pipeline/capture-rules.js';
import { InstancePipeline } from './pipeline/instance-pipeline.js';
import { snapshotTables } from './pipeline/snapshot-tables.js';
import { instanceShardMaps } from './pipeline/shard-map-source.js';
import { snapshotSession } from './snapshot/snapshot-session.js';
import { SnapshotStore } from './snapshot/snapshot-store.js';
import { newSnapshotRequest, parseSnapshotRequest, type SnapshotRequest } from './snapshot/snapshot-request.js';
import type { Sink } from './sinks/sink-record.js';
import { SinkRunner } from './sinks/sink-runner.js';
import { ProgressPublisher, type ProgressSink } from './progress/progress-publisher.js';
import { ArchivalSchedule } from './archival-schedule.js';
import { parseDuration } from '../config/index.js';

/** What a worker process does: read instances, feed sinks, or both. */
export type WorkerRole = 'reader' | 'elasticsearch' | 'archive';

const READER = 'a CDC worker that reads binlogs (role reader)';

/** Options of a {@link CdcWorker}. */
export interface CdcWorkerOptions {
  config: ClusterConfig;
  log: EventLog;
  logger: Logger;
  registry: Registry;
  roles: ReadonlySet<WorkerRole>;
  /** Builds the sinks of the roles this worker has. */
  sinks: Partial<Record<'elasticsearch' | 'archive', () => Sink>>;
  /** Port of /metrics and /healthz (0 for any); defaults to the config's. */
  httpPort?: number;
}

/**
 * The replica server_id a deployment's reader uses on an instance: unique per (group prefix,
 * instance), so two deployments reading one server never collide, while a worker taking an
 * instance over from a dead one reuses its id (MySQL then drops the stale connection).
 */
export function replicaServerId(groupPrefix: string, instanceIndex: number): number {
  return 3_000_000_000 + (crc32(Buffer.from(groupPrefix)) % 1_000_000) * 1024 + (instanceIndex % 1024);
}

/** Captured tables: the sharding config's tables, plus `db.table` includes, minus excludes. */
export function captureRules(config: ClusterConfig, topology: Topology): CaptureRules {
  const includes = config.cdc.tables.include;
  return {
    topology,
    include: includes ? new Set(includes.filter((t) => t.includes('.'))) : null,
    exclude: new Set(config.cdc.tables.exclude),
    broadcastDatabase: config.sharding.naming.broadcastDatabase,
    broadcastInstance: config.instances[0]!.name,
  };
}

/** Logical tables the worker publishes (topic names follow). */
export function capturedTables(config: ClusterConfig): string[] {
  const names = [
    ...Object.keys(config.sharding.tables),
    ...config.sharding.broadcast,
    ...(config.cdc.tables.include ?? []).filter((t) => t.includes('.')).map((t) => t.split('.')[1]!),
  ];
  const exclude = new Set(config.cdc.tables.exclude);
  return [...new Set(names)].filter((t) => !exclude.has(t));
}

/**
 * The CDC worker: one binlog reader per physical instance it is assigned, sinks as consumer
 * groups. Instances are assigned through Kafka's own group membership: every worker joins the
 * group `<prefix>-workers` on the assignment topic, which has one partition per instance
 * (partition i = the i-th instance of the config); the partitions the group gives a worker are
 * the instances it reads. When a worker dies, its session times out and the group hands its
 * partitions to the others; their producers (transactional id per instance) fence the dead
 * worker's, so it can never commit behind them.
 */
export class CdcWorker {
  private topology: Topology;
  private rules: CaptureRules;
  private readonly pipelines = new Map<string, { pipeline: InstancePipeline; done: Promise<void> }>();
  private readonly failures = new Map<string, string>();
  private assignment: GroupConsumer | null = null;
  private signals: GroupConsumer | null = null;
  private readonly snapshotRequests = new Map<string, SnapshotRequest>();
  private readonly runners: SinkRunner[] = [];
  private progress: ProgressPublisher | null = null;
  private archival: ArchivalSchedule | null = null;
  private http: { port: number; close(): Promise<void> } | null = null;
  private readonly metrics: CdcMetrics;
  private stopping = false;
  private config: ClusterConfig;

  constructor(private readonly o: CdcWorkerOptions) {
    this.config = o.config;
    this.topology = new Topology(
      o.config.sharding,
      o.config.instances.map((i) => i.name),
    );
    this.rules = captureRules(o.config, this.topology);
    this.metrics = createCdcMetrics(o.registry);
  }

  /** The port /metrics and /healthz listen on. */
  get httpPort(): number | null {
    return this.http?.port ?? null;
  }

  /** Instances this worker reads now (start position committed, binlog open). */
  get reading(): string[] {
    return [...this.pipelines].filter(([, p]) => p.pipeline.reading).map(([name]) => name);
  }

  /** Whether every assigned instance's reader has caught up with its binlog (for demos and tests). */
  get caughtUp(): boolean {
    return this.pipelines.size > 0 && [...this.pipelines.values()].every((p) => p.pipeline.caughtUp);
  }

  /** Instances assigned to this worker (reading or starting). */
  get assigned(): string[] {
    return [...this.pipelines.keys()];
  }

  /** Checks every instance's server (readers), creates topics, joins the groups, serves HTTP. @throws {BinlogError} naming a misconfigured variable */
  async start(): Promise<void> {
    const { config, log, logger, roles } = this.o;
    const cdc = config.cdc;
    if (roles.has('reader')) {
      for (const [i, inst] of requireSections(config, ['replication'], READER).instances.entries()) {
        const reader = await BinlogReader.open({
          instance: inst.name,
          endpoint: {
            name: inst.name,
            host: inst.host,
            port: inst.port,
            ...inst.replication,
            tls: inst.tls,
            serverPublicKey: inst.serverPublicKey,
          },
          replicaServerId: replicaServerId(cdc.groupPrefix, i),
          from: 'current',
        });
        reader.close();
      }
    }
    // Topics (and the sinks' subscriptions) for every table of the sharding config, excluded ones
    // too: a table that SIGHUP brings into the capture filter then reaches the sinks.
    const tables = [...new Set([...capturedTables(config), ...Object.keys(config.sharding.tables), ...config.sharding.broadcast])];
    await log.ensureTopics([
      { topic: cdc.checkpointTopic, partitions: config.instances.length, replicationFactor: cdc.replicationFactor, compacted: true },
      { topic: cdc.assignmentTopic, partitions: config.instances.length, replicationFactor: cdc.replicationFactor },
      { topic: cdc.deadLetterTopic, partitions: 1, replicationFactor: cdc.replicationFactor },
      { topic: cdc.signalTopic, partitions: 1, replicationFactor: cdc.replicationFactor, compacted: true },
      ...tables.map((t) => ({
        topic: `${cdc.topicPrefix}${t}`,
        partitions: cdc.partitions,
        replicationFactor: cdc.replicationFactor,
        maxMessageBytes: cdc.maxEventBytes,
      })),
    ]);
    this.http = await startMetricsServer(cdc.http.host, this.o.httpPort ?? cdc.http.port, this.o.registry, () => this.health());
    const topics = tables.map((t) => `${cdc.topicPrefix}${t}`);
    const progressSinks: ProgressSink[] = [];
    for (const name of ['elasticsearch', 'archive'] as const) {
      const make = this.o.sinks[name];
      if (!roles.has(name) || !make) continue;
      const sink = make();
      // the sink's consumer group: also the key of its progress rows
      const groupId = sinkProgressKey(cdc.groupPrefix, name);
      const runner = new SinkRunner({
        name,
        sink,
        log,
        groupId,
        topics,
        deadLetterTopic: cdc.deadLetterTopic,
        metrics: this.metrics,
        logger,
        writesInFlight: name === 'elasticsearch' ? cdc.elasticsearch.concurrency : 1,
      });
      await runner.start();
      this.runners.push(runner);
      progressSinks.push({
        name,
        groupId,
        topics,
        refresh: sink.refresh ? () => sink.refresh!() : undefined,
      });
    }
    if (progressSinks.length && cdc.progress.enabled) {
      if (!config.archive)
        logger.warn('sink progress is not published (no `archive` section): router.analytics `after` and router.indexed cannot wait');
      else {
        this.progress = new ProgressPublisher({
          log,
          checkpointTopic: cdc.checkpointTopic,
          groupPrefix: cdc.groupPrefix,
          instances: config.instances.map((i) => i.name),
          sinks: progressSinks,
          archive: config.archive,
          metaDatabase: config.sharding.naming.metaDatabase,
          intervalMs: cdc.progress.intervalMs,
          heartbeatMs: cdc.progress.heartbeatMs,
          refreshMs: cdc.progress.refreshMs,
          logger,
        });
        await this.progress.start();
      }
    }
    if (roles.has('reader')) {
      this.signals = log.consumer({
        groupId: `${cdc.groupPrefix}-signals-${randomUUID()}`,
        topics: [cdc.signalTopic],
        fromBeginning: true,
        ephemeral: true,
      });
      await this.signals.run(async (batch) => {
        for (const m of batch.messages) {
          const request = parseSnapshotRequest(m.key, m.value);
          if (!request) continue;
          if (this.snapshotRequests.has(request.id)) continue;
          this.snapshotRequests.set(request.id, request);
          logger.info(
            { request: request.id, table: request.table, shards: request.shards, instance: request.instance },
            'snapshot requested',
          );
          for (const p of this.pipelines.values()) p.pipeline.requestSnapshot(request);
        }
      });
      this.assignment = log.consumer({
        groupId: `${cdc.groupPrefix}-workers`,
        topics: [cdc.assignmentTopic],
        sessionTimeoutMs: 6_000,
        onAssignment: (a) => this.assign(a[cdc.assignmentTopic] ?? []),
      });
      await this.assignment.run(async () => {});
    }
    if (cdc.archival.schedule !== null) {
      this.archival = new ArchivalSchedule({ config, everyMs: parseDuration(cdc.archival.schedule)!, logger });
      this.archival.start();
    }
    logger.info({ roles: [...roles], http: `${cdc.http.host}:${this.http.port}`, tables, host: os.hostname() }, 'cdc worker started');
  }

  private assign(partitions: number[]): void {
    if (this.stopping) return;
    const wanted = new Set(partitions.map((p) => this.config.instances[p]?.name).filter((n): n is string => n !== undefined));
    this.o.logger.info({ instances: [...wanted] }, 'instances assigned to this worker');
    for (const [name, p] of this.pipelines) if (!wanted.has(name)) p.pipeline.stop();
    for (const name of wanted) if (!this.pipelines.has(name)) this.startPipeline(name);
  }

  private startPipeline(name: string): void {
    const index = this.config.instances.findIndex((i) => i.name === name);
    const instance = requireSections(this.config, ['replication'], READER).instances[index]!;
    const cdc = this.config.cdc;
    let pipeline: InstancePipeline | null = null;
    pipeline = new InstancePipeline({
      instance,
      replicaServerId: replicaServerId(cdc.groupPrefix, index),
      log: this.o.log,
      checkpoints: new CheckpointStore(this.o.log, cdc.checkpointTopic, (i) => this.config.instances.findIndex((x) => x.name === i)),
      rules: () => this.rules,
      topicPrefix: cdc.topicPrefix,
      batch: cdc.batch,
      transactionalId: `${cdc.groupPrefix}-cdc-${name}`,
      logger: this.o.logger,
      metrics: this.metrics,
      snapshot: {
        ...cdc.snapshot,
        store: new SnapshotStore(this.o.log, cdc.checkpointTopic, (i) => this.config.instances.findIndex((x) => x.name === i)),
        tables: () => snapshotTables(this.rules, name, pipeline?.shardMap ?? this.topology.map),
        openSession: () => snapshotSession(instance),
        observer: {
          rows: (i, table, n) => this.metrics.snapshotRows(i, table, n),
          remaining: (i, n) => this.metrics.snapshotRemaining(i, n),
          running: (i, running) => this.metrics.snapshotRunning(i, running),
        },
      },
      shardMaps: instanceShardMaps(instance, this.config.sharding.naming.metaDatabase, this.topology.map),
      metaDatabase: this.config.sharding.naming.metaDatabase,
      peers: this.config.instances.map((i) => i.name),
    });
    for (const r of this.snapshotRequests.values()) pipeline.requestSnapshot(r);
    this.failures.delete(name);
    const done = pipeline
      .run()
      .catch((err: unknown) => {
        const message = isShardlineError(err) ? `${err.code}: ${err.message}` : String(err);
        this.failures.set(name, message);
        this.o.logger.error({ instance: name, err: message }, 'instance reader stopped on an error it cannot retry');
      })
      .finally(() => {
        if (this.pipelines.get(name)?.pipeline === pipeline) this.pipelines.delete(name);
      });
    this.pipelines.set(name, { pipeline, done });
  }

  /** SIGHUP: new table filters and shard map, applied at the next rows event; connections stay. */
  reload(config: ClusterConfig): void {
    if (config.instances.map((i) => i.name).join() !== this.config.instances.map((i) => i.name).join()) {
      throw new ConfigError(
        'CDC_CONFIG',
        'the instance list changed: restart the worker to apply it (reload applies table filters and the shard map)',
      );
    }
    this.topology = new Topology(
      config.sharding,
      config.instances.map((i) => i.name),
    );
    const before = new Set(capturedTables(this.config));
    this.rules = captureRules(config, this.topology);
    this.config = config;
    const tables = capturedTables(config);
    this.o.logger.info({ tables, mapVersion: config.sharding.map?.version }, 'configuration reloaded');
    if (config.cdc.snapshot.mode !== 'when_needed' || !this.o.roles.has('reader')) return;
    const added = tables.filter((t) => !before.has(t));
    if (added.length === 0) return;
    // Each reader snapshots the new tables of the instances it reads (no other worker reads them);
    // the plan goes to the instance's checkpoint partition, so a worker taking the instance over
    // resumes it.
    this.o.logger.info({ tables: added }, 'tables entered the capture filter: snapshotting them (cdc.snapshot.mode when_needed)');
    for (const t of added) {
      const request = newSnapshotRequest(t, null, null);
      for (const p of this.pipelines.values()) p.pipeline.requestSnapshot(request);
    }
  }

  /** Health for /healthz. */
  health(): { ok: boolean } & Record<string, unknown> {
    const failed = Object.fromEntries(this.failures);
    const unhealthyAfterMs = this.config.cdc.sinkUnhealthyAfterS * 1000;
    const sinkStates = this.runners.map((r) => r.status());
    const sinksDown = sinkStates.filter((s) => s.failingForMs >= unhealthyAfterMs);
    return {
      ok: !this.stopping && this.failures.size === 0 && sinksDown.length === 0,
      reading: this.reading,
      assigned: this.assigned,
      failed,
      sinks: this.runners.length,
      sink_status: sinkStates.map((s) => ({
        sink: s.sink,
        ok: s.failingForMs < unhealthyAfterMs,
        failing: s.failing,
        failing_s: Math.round(s.failingForMs / 100) / 10,
        error: s.error,
      })),
    };
  }

  /**
   * Stops: readers finish the source transaction they are in, commit and close; sinks stop after
   * their batch. Resolves false when `timeoutMs` passed first (nothing is lost then either: the
   * open Kafka transaction is never committed and is read again).
   */
  async stop(timeoutMs = this.config.cdc.shutdownTimeoutS * 1000): Promise<boolean> {
    this.stopping = true;
    for (const p of this.pipelines.values()) p.pipeline.stop();
    const all = Promise.all([...this.pipelines.values()].map((p) => p.done));
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([all.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)))]);
    clearTimeout(timer);
    // In parallel: each consumer's stop waits for its fetch in flight (up to the idle fetch wait).
    await Promise.all(
      [this.assignment, this.signals, this.archival, this.progress, ...this.runners].map((c) => c?.stop().catch(() => undefined)),
    );
    await this.http?.close();
    return inTime;
  }
}
