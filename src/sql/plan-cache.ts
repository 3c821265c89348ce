import { LRUCache } from 'lru-cache';
import type { Topology } from '../shard/index.js';
import type { Analysis } from './analysis.js';
import { analyze } from './analyze.js';
import { DEFAULT_SQL_LIMITS, type SqlLimits } from './statement-guard.js';

/** Hit/miss counters of a {@link PlanCache}. */
export interface PlanCacheStats {
  hits: number;
  misses: number;
  size: number;
}

/** Bounds of a {@link PlanCache} and the limits its analyses enforce. */
export interface PlanCacheOptions {
  /** Analyses kept (default 2000). */
  maxEntries?: number;
  /** Approximate bytes kept (default 64 MiB); an analysis larger than this is not cached. */
  maxBytes?: number;
  limits?: SqlLimits;
}

/** 64 MiB of cached analyses. */
export const DEFAULT_PLAN_CACHE_BYTES = 64 << 20;

/** Approximate heap bytes of an analysis: its text twice (SQL and pieces, UTF-16) plus its arrays, and its cross-shard partial statement's. */
function sizeOf(a: Analysis): number {
  const own =
    4 * a.sql.length +
    64 * (a.splices.length + (a.insert?.rows.length ?? 0) + (a.key?.values.length ?? 0)) +
    32 * (a.key?.list?.items.length ?? 0) +
    512;
  const partial = a.select?.rewrite;
  return partial ? own + sizeOf(partial.analysis) + 2 * partial.sql.length + 256 : own;
}

/**
 * A bounded LRU of analyses keyed by SQL text: parsing costs hundreds of microseconds, a hit
 * costs a hash lookup. Bounded by entries and by bytes. Failed analyses are not cached.
 */
export class PlanCache {
  private readonly cache: LRUCache<string, Analysis>;
  private readonly limits: SqlLimits;
  private hitCount = 0;
  private missCount = 0;

  constructor(
    private readonly topology: Topology,
    options: number | PlanCacheOptions = {},
    private readonly onLookup?: (hit: boolean) => void,
  ) {
    const o = typeof options === 'number' ? { maxEntries: options } : options;
    this.limits = o.limits ?? DEFAULT_SQL_LIMITS;
    this.cache = new LRUCache({ max: o.maxEntries ?? 2000, maxSize: o.maxBytes ?? DEFAULT_PLAN_CACHE_BYTES, sizeCalculation: sizeOf });
  }

  /** The analysis of `sql`, parsing it on a miss. */
  get(sql: string): Analysis {
    const cached = this.cache.get(sql);
    if (cached) {
      this.hitCount++;
      this.onLookup?.(true);
      return cached;
    }
    this.missCount++;
    this.onLookup?.(false);
    const analysis = analyze(sql, this.topology, this.limits);
    this.cache.set(sql, analysis);
    return analysis;
  }

  stats(): PlanCacheStats {
    return { hits: this.hitCount, misses: this.missCount, size: this.cache.size };
  }

  /** Approximate bytes held. */
  bytes(): number {
    return this.cache.calculatedSize;
  }
}
