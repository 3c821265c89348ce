import type { RouteTarget } from '../sql/index.js';

/** The round trips of a plan that go to one instance, in plan order. */
export interface InstanceBatch {
  instance: string;
  targets: RouteTarget[];
  /** The logical shards of those round trips, ascending and distinct. */
  shards: number[];
}

/** Groups a plan's targets by instance, instances in order of first appearance (pure). */
export function groupByInstance(targets: readonly RouteTarget[]): InstanceBatch[] {
  const byInstance = new Map<string, InstanceBatch>();
  for (const t of targets) {
    let b = byInstance.get(t.instance);
    if (!b) byInstance.set(t.instance, (b = { instance: t.instance, targets: [], shards: [] }));
    b.targets.push(t);
    for (const s of t.shards) b.shards.push(s);
  }
  for (const b of byInstance.values()) b.shards = [...new Set(b.shards)].sort((x, y) => x - y);
  return [...byInstance.values()];
}
