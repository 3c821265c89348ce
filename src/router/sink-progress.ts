import { SinkBehindError } from '../errors/index.js';
import { applied, parseApplied, type AppliedState, type WriteTokens } from '../gtid/index.js';
import type { SinkName } from '../shard/index.js';

/**
 * What a sink's rows of `<metaDatabase>.sink_progress` say, and whether a wait is over: a token
 * applied, a lag within a bound. Pure: rows and the time in, decisions out.
 */

/** How far one sink has applied one instance, as last published. */
export interface SinkProgress {
  instance: string;
  /** What the sink has applied (a GTID set or MariaDB position); null when none is published or it does not parse. */
  applied: AppliedState | null;
  /** Commit time of the last transaction applied (µs since the epoch). */
  sourceTsUs: number;
  /** At `checkedAtUs` the sink had applied everything published for the instance. */
  caughtUp: boolean;
  /** When the publisher last checked (µs since the epoch). */
  checkedAtUs: number;
}

/** One sink's progress by instance. */
export type SinkSnapshot = ReadonlyMap<string, SinkProgress>;

/** What a wait needs of one sink. */
export interface SinkCondition {
  /** Every GTID of these tokens applied. */
  tokens?: WriteTokens | undefined;
  /** The lag of every instance of `instances` at most this (ms). */
  maxStalenessMs?: number | undefined;
  /** The instances `maxStalenessMs` applies to (the config's). */
  instances: readonly string[];
}

/** Why an instance holds a wait up. */
export type ShortfallReason = 'no-progress' | 'not-applied' | 'too-stale';

/** One instance a wait is still waiting for. */
export interface Shortfall {
  instance: string;
  why: ShortfallReason;
  /** The sink's lag behind the instance (ms); null when nothing is published. */
  lagMs: number | null;
}

function toNumber(value: unknown): number {
  const n = typeof value === 'bigint' ? Number(value) : typeof value === 'string' ? Number(value) : typeof value === 'number' ? value : NaN;
  return Number.isFinite(n) ? n : NaN;
}

function appliedOf(text: unknown): AppliedState | null {
  if (typeof text !== 'string' && !Buffer.isBuffer(text)) return null;
  try {
    return parseApplied(String(text));
  } catch {
    return null; // a malformed set applies nothing we could tell
  }
}

/** Reads one sink's rows (`instance`, `gtid_set`, `source_ts_us`, `caught_up`, `checked_at_us`) into a snapshot. */
export function sinkSnapshot(rows: readonly Record<string, unknown>[]): Map<string, SinkProgress> {
  const out = new Map<string, SinkProgress>();
  for (const row of rows) {
    const instance = row['instance'];
    if (typeof instance !== 'string') continue;
    out.set(instance, {
      instance,
      applied: appliedOf(row['gtid_set']),
      sourceTsUs: toNumber(row['source_ts_us']),
      caughtUp: toNumber(row['caught_up']) === 1 || row['caught_up'] === true,
      checkedAtUs: toNumber(row['checked_at_us']),
    });
  }
  return out;
}

/**
 * The sink's lag behind an instance at `nowUs` (ms, never negative): caught up at its last check —
 * the time since that check; else the time since the commit of the last transaction it applied.
 * Infinity when nothing is published (unknown: within no bound).
 */
export function sinkLagMs(progress: SinkProgress | undefined, nowUs: number): number {
  if (!progress) return Infinity;
  const since = progress.caughtUp ? progress.checkedAtUs : progress.sourceTsUs;
  if (!Number.isFinite(since)) return Infinity;
  return Math.max(0, (nowUs - since) / 1000);
}

/** Whether the sink has applied `need` of `instance`. */
export function tokenApplied(progress: SinkProgress | undefined, need: AppliedState): boolean {
  const have = progress?.applied;
  return have !== undefined && have !== null && applied(have, need);
}

/** The instances for which `snapshot` does not (yet) meet `condition` at `nowUs`; empty: the wait is over. */
export function shortfalls(condition: SinkCondition, snapshot: SinkSnapshot, nowUs: number): Shortfall[] {
  const out: Shortfall[] = [];
  const listed = new Set<string>();
  const lagOf = (p: SinkProgress | undefined) => {
    const lag = sinkLagMs(p, nowUs);
    return Number.isFinite(lag) ? Math.round(lag) : null;
  };
  const tokens = condition.tokens;
  if (tokens) {
    for (const instance of tokens.instances()) {
      const p = snapshot.get(instance);
      if (tokenApplied(p, tokens.get(instance)!)) continue;
      out.push({ instance, why: p ? 'not-applied' : 'no-progress', lagMs: lagOf(p) });
      listed.add(instance);
    }
  }
  const bound = condition.maxStalenessMs;
  if (bound !== undefined) {
    for (const instance of condition.instances) {
      if (listed.has(instance)) continue;
      const p = snapshot.get(instance);
      if (sinkLagMs(p, nowUs) <= bound) continue;
      out.push({ instance, why: p ? 'too-stale' : 'no-progress', lagMs: lagOf(p) });
      listed.add(instance);
    }
  }
  return out;
}

/** Instances named in an error message at most; `details.instances` has them all. */
const SHOWN = 5;

function describe(s: Shortfall, bound: number | undefined): string {
  const lag = s.lagMs === null ? '' : ` (lag ${s.lagMs} ms)`;
  switch (s.why) {
    case 'no-progress':
      return `${s.instance}: no progress published`;
    case 'not-applied':
      return `${s.instance}: the write token is not applied yet${lag}`;
    case 'too-stale':
      return `${s.instance}: lag ${s.lagMs ?? '?'} ms over the bound of ${bound} ms`;
  }
}

/** SINK_BEHIND (retriable) naming each instance behind and how far. */
export function sinkBehindError(sink: SinkName, behind: readonly Shortfall[], waitedMs: number, condition: SinkCondition): SinkBehindError {
  const shown = behind.slice(0, SHOWN).map((s) => describe(s, condition.maxStalenessMs));
  const more = behind.length > SHOWN ? `; and ${behind.length - SHOWN} more` : '';
  return new SinkBehindError(
    `the ${sink} sink is behind after waiting ${Math.round(waitedMs)} ms (by its sink_progress rows): ${shown.join('; ')}${more}`,
    {
      details: {
        sink,
        waitedMs: Math.round(waitedMs),
        ...(condition.maxStalenessMs === undefined ? {} : { maxStalenessMs: condition.maxStalenessMs }),
        instances: behind.map((s) => ({ ...s })),
      },
    },
  );
}
