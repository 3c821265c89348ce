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

const planKey = (instance: string) => `snapshot:${instance}`;
const tableKey = (instance: string, table: string) => `snapshot:${instance}:${table}`;

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
    let plan: SnapshotPlan | null = null;
    const progress = new Map<string, TableProgress>();
    const prefix = `${planKey(instance)}:`;
    for (const m of await this.log.readToEnd(this.topic, [this.partitionOf(instance)])) {
      const key = m.key?.toString('utf8');
      if (!key) continue;
      if (key === planKey(instance)) {
        plan = m.value === null ? null : (JSON.parse(m.value.toString('utf8')) as SnapshotPlan);
        if (plan === null) progress.clear();
      } else if (key.startsWith(prefix)) {
        const table = key.slice(prefix.length);
        if (m.value === null) progress.delete(table);
        else progress.set(table, JSON.parse(m.value.toString('utf8')) as TableProgress);
      }
    }
    if (plan === null) return null;
    const started = plan.startedAtMs;
    for (const [table, p] of progress)
      if (!plan.tables.includes(table) || (p as { startedAtMs?: number }).startedAtMs !== started) progress.delete(table);
    return { plan, progress };
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
