import type { EventLog, OutboundMessage } from '../kafka/event-log.js';
import type { StoredKeyValue } from './chunk-reader.js';

/** Why a snapshot runs: `source.snapshot` of its events. */
export type SnapshotKind = 'initial' | 'incremental';

/** What an instance's snapshot is to read (written once when it starts). */
export interface SnapshotPlan {
  instance: string;
  kind: SnapshotKind;
  /** Physical tables, `db.table`. */
  tables: string[];
  startedAtMs: number;
  /** The `cdc snapshot` request it carries out (incremental snapshots). */
  requestId?: string;
}

/** What one instance did for a finished request (`snapshot-done:<request>:<instance>`). */
export interface SnapshotDone {
  requestId: string;
  instance: string;
  tables: number;
  rows: number;
  chunks: number;
  seconds: number;
}

/** How far one physical table has been read; committed with the chunk's events. */
export interface TableProgress {
  instance: string;
  /** `db.table` */
  table: string;
  /** Resume after this primary key (null: from the start). */
  after: StoredKeyValue[] | null;
  done: boolean;
  rows: number;
  chunks: number;
}

/** An instance's snapshot state as committed: the plan and each table's progress. */
export interface SnapshotState {
  plan: SnapshotPlan;
  progress: Map<string, TableProgress>;
}

/** An instance's committed snapshot state and the requests it has finished. */
export interface InstanceSnapshots {
  state: SnapshotState | null;
  handled: Set<string>;
}

const planKey = (instance: string) => `snapshot:${instance}`;
const tableKey = (instance: string, table: string) => `snapshot:${instance}:${table}`;
const DONE = 'snapshot-done:';
const doneKey = (requestId: string, instance: string) => `${DONE}${requestId}:${instance}`;

/**
 * Snapshot plans and progress in the checkpoint topic (compacted, the instance's own partition),
 * written inside the same Kafka transaction as the events they account for — a chunk's rows and
 * its progress become visible together, or neither.
 */
export class SnapshotStore {
  constructor(
    private readonly log: EventLog,
    readonly topic: string,
    private readonly partitionOf: (instance: string) => number,
  ) {}

  /** The committed plan and progress of an instance; null when it has no snapshot or it finished. */
  async load(instance: string): Promise<SnapshotState | null> {
    return (await this.loadInstance(instance)).state;
  }

  /** The committed snapshot state of an instance and the requests it finished. */
  async loadInstance(instance: string): Promise<InstanceSnapshots> {
    let plan: SnapshotPlan | null = null;
    const progress = new Map<string, TableProgress>();
    const handled = new Set<string>();
    const prefix = `${planKey(instance)}:`;
    const doneSuffix = `:${instance}`;
    for (const m of await this.log.readToEnd(this.topic, [this.partitionOf(instance)])) {
      const key = m.key?.toString('utf8');
      if (!key) continue;
      if (key.startsWith(DONE) && key.endsWith(doneSuffix)) {
        handled.add(key.slice(DONE.length, key.length - doneSuffix.length));
      } else if (key === planKey(instance)) {
        plan = m.value === null ? null : (JSON.parse(m.value.toString('utf8')) as SnapshotPlan);
        if (plan === null) progress.clear();
      } else if (key.startsWith(prefix)) {
        const table = key.slice(prefix.length);
        if (m.value === null) progress.delete(table);
        else progress.set(table, JSON.parse(m.value.toString('utf8')) as TableProgress);
      }
    }
    if (plan === null) return { state: null, handled };
    const started = plan.startedAtMs;
    for (const [table, p] of progress)
      if (!plan.tables.includes(table) || (p as { startedAtMs?: number }).startedAtMs !== started) progress.delete(table);
    return { state: { plan, progress }, handled };
  }

  /** What each instance reported for a finished request (read from every partition). */
  async done(requestId: string): Promise<SnapshotDone[]> {
    const out = new Map<string, SnapshotDone>();
    const prefix = `${DONE}${requestId}:`;
    for (const m of await this.log.readToEnd(this.topic)) {
      const key = m.key?.toString('utf8');
      if (!key?.startsWith(prefix) || m.value === null) continue;
      const d = JSON.parse(m.value.toString('utf8')) as SnapshotDone;
      out.set(d.instance, d);
    }
    return [...out.values()];
  }

  /** Records that an instance finished a request. */
  doneMessage(d: SnapshotDone): OutboundMessage {
    return { topic: this.topic, partition: this.partitionOf(d.instance), key: doneKey(d.requestId, d.instance), value: JSON.stringify(d) };
  }

  /** Starts a snapshot (replaces any earlier plan of the instance). */
  planMessage(plan: SnapshotPlan): OutboundMessage {
    return this.message(planKey(plan.instance), plan);
  }

  /** Records one table's progress, tagged with the plan it belongs to. */
  progressMessage(plan: SnapshotPlan, p: TableProgress): OutboundMessage {
    return this.message(tableKey(p.instance, p.table), { ...p, startedAtMs: plan.startedAtMs });
  }

  /** Ends an instance's snapshot: its plan and progress are deleted (tombstones). */
  finishedMessages(plan: SnapshotPlan): OutboundMessage[] {
    const partition = this.partitionOf(plan.instance);
    return [
      ...plan.tables.map((t) => ({ topic: this.topic, partition, key: tableKey(plan.instance, t), value: null })),
      { topic: this.topic, partition, key: planKey(plan.instance), value: null },
    ];
  }

  private message(key: string, value: unknown): OutboundMessage {
    return {
      topic: this.topic,
      partition: this.partitionOf(String((value as { instance: string }).instance)),
      key,
      value: JSON.stringify(value),
    };
  }
}
