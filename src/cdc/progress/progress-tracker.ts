import type { Checkpoint } from '../checkpoint/checkpoint.js';

/** What a sink's progress row says of one instance. */
export interface InstanceProgress {
  instance: string;
  flavour: 'mysql' | 'mariadb';
  /** The GTID set (MariaDB: position) of the last checkpoint the sink has applied; null when unknown. */
  gtidSet: string | null;
  /** Commit time of that checkpoint's last source transaction (µs), 0 when unknown. */
  sourceTsUs: number;
  /** True when the sink has applied every checkpoint known for the instance. */
  caughtUp: boolean;
}

/** Checkpoints kept per instance while not yet applied; past it the oldest are dropped (progress then moves in larger steps). */
const MAX_PENDING = 10_000;

/**
 * How far one consumer group (a sink) has applied each instance's change stream, in source
 * terms (pure). It is fed the instance checkpoints in commit order — each carries `written`,
 * where the instance's messages up to it landed — and the group's committed offsets; a
 * checkpoint is applied once every partition it lists has a committed offset above its offset.
 * `written` only grows, so the applied checkpoints are a prefix of those fed.
 */
export class ProgressTracker {
  private readonly pending = new Map<string, Checkpoint[]>();
  private readonly applied = new Map<string, Checkpoint>();

  /** A checkpoint committed after those fed before (for its instance). */
  add(checkpoint: Checkpoint): void {
    let list = this.pending.get(checkpoint.instance);
    if (!list) this.pending.set(checkpoint.instance, (list = []));
    list.push(checkpoint);
    if (list.length > MAX_PENDING) list.splice(0, list.length - MAX_PENDING);
  }

  /** Moves every instance past the checkpoints the group has applied; the instances whose applied checkpoint changed. */
  advance(committed: ReadonlyMap<string, bigint>): string[] {
    const changed: string[] = [];
    for (const [instance, list] of this.pending) {
      let n = 0;
      while (n < list.length && appliedBy(list[n]!, committed)) n++;
      if (n === 0) continue;
      this.applied.set(instance, list[n - 1]!);
      list.splice(0, n);
      changed.push(instance);
    }
    return changed;
  }

  /** Whether a checkpoint fed is not applied yet: until one is (or a new one comes), the group's offsets cannot change what this tracker reports. */
  hasPending(): boolean {
    for (const list of this.pending.values()) if (list.length > 0) return true;
    return false;
  }

  /** The progress of every instance seen, applied or not. */
  progress(): InstanceProgress[] {
    const instances = new Set([...this.pending.keys(), ...this.applied.keys()]);
    return [...instances].sort().map((instance) => {
      const done = this.applied.get(instance);
      const waiting = this.pending.get(instance) ?? [];
      const flavour = (done ?? waiting[0])!.flavour;
      return {
        instance,
        flavour,
        gtidSet: done?.gtidSet ?? null,
        sourceTsUs: done?.sourceTsUs ?? 0,
        caughtUp: waiting.length === 0,
      };
    });
  }
}

/** Has the group (its committed offsets: next offset to read per `topic:partition`) applied everything up to `checkpoint`? */
export function appliedBy(checkpoint: Pick<Checkpoint, 'written'>, committed: ReadonlyMap<string, bigint>): boolean {
  for (const [at, offset] of Object.entries(checkpoint.written ?? {})) {
    const next = committed.get(at);
    if (next === undefined || next <= BigInt(offset)) return false;
  }
  return true;
}
