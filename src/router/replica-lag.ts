import { applied, type AppliedState } from '../gtid/index.js';

/**
 * How far behind its primary a replica is, from GTIDs alone (pure). The primary's executed GTIDs
 * are sampled every tick; a replica whose executed GTIDs contain the sample taken at `t` had
 * everything the primary had at `t`, so it is at most `now − t` behind. Nothing is written to
 * either server (a heartbeat table would need writes, which a fenced or read-only primary
 * refuses), the resolution is one tick, and the figure errs on the stale side: a replica is
 * never reported fresher than it is.
 */
export class LagHistory {
  private samples: { at: number; state: AppliedState }[] = [];

  /** @param keepMs how long samples are kept: lag beyond it reads as Infinity. */
  constructor(readonly keepMs: number) {}

  /** The primary had executed `state` at `at` (ms). */
  record(at: number, state: AppliedState): void {
    this.samples.push({ at, state });
    let drop = 0;
    while (drop < this.samples.length - 1 && this.samples[drop]!.at < at - this.keepMs) drop++;
    if (drop) this.samples = this.samples.slice(drop);
  }

  /** When the newest sample was taken (ms), or null before the first. */
  get newestAt(): number | null {
    return this.samples.length ? this.samples[this.samples.length - 1]!.at : null;
  }

  /**
   * Upper bound (ms) of the lag of a replica that has executed `have`, read at `now` after the
   * newest sample: 0 when it has the newest sample, Infinity when it lacks even the oldest kept
   * one (or no sample was taken yet).
   */
  lagOf(have: AppliedState, now: number): number {
    for (let i = this.samples.length - 1; i >= 0; i--) {
      if (applied(have, this.samples[i]!.state)) return i === this.samples.length - 1 ? 0 : Math.max(0, now - this.samples[i]!.at);
    }
    return Infinity;
  }
}

/** What the router knows of one replica when it picks where a read goes. */
export interface ReplicaView {
  name: string;
  weight: number;
  /** Its last probe answered (and no read failed on it since). */
  healthy: boolean;
  /** Upper bound of its lag at its last probe (ms; Infinity when unknown). */
  lagMs: number;
  /** What it had executed at its last probe. */
  executed: AppliedState | null;
  /** Its pool's breaker is open (failing fast). */
  breakerOpen: boolean;
}

/**
 * Picks the replica a read goes to (pure; `random` in [0, 1)): among the healthy replicas within
 * `maxLagMs` with a closed breaker and a weight, by weight — preferring, when the read must see
 * `need`, those already known to have applied it (no wait on the server). `covered` tells whether
 * the pick has applied `need` (or there is none). Null: the primary serves the read.
 */
export function pickReplica(
  replicas: readonly ReplicaView[],
  maxLagMs: number,
  need: AppliedState | undefined,
  random: number,
): { replica: ReplicaView; covered: boolean } | null {
  const eligible = replicas.filter((r) => r.healthy && !r.breakerOpen && r.weight > 0 && r.lagMs <= maxLagMs);
  if (eligible.length === 0) return null;
  if (need === undefined) return { replica: byWeight(eligible, random), covered: true };
  const ready = eligible.filter((r) => r.executed !== null && applied(r.executed, need));
  if (ready.length) return { replica: byWeight(ready, random), covered: true };
  return { replica: byWeight(eligible, random), covered: false };
}

function byWeight(list: readonly ReplicaView[], random: number): ReplicaView {
  if (list.length === 1) return list[0]!;
  const total = list.reduce((n, r) => n + r.weight, 0);
  let x = random * total;
  for (const r of list) {
    x -= r.weight;
    if (x < 0) return r;
  }
  return list[list.length - 1]!;
}
