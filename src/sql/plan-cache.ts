import { LRUCache } from 'lru-cache';
import type { Topology } from '../shard/index.js';
import type { Analysis } from './analysis.js';
import { analyze } from './analyze.js';

/** Hit/miss counters of a {@link PlanCache}. */
export interface PlanCacheStats {
  hits: number;
  misses: number;
  size: number;
}

/**
 * A bounded LRU of analyses keyed by SQL text: parsing costs hundreds of microseconds, a hit
 * costs a hash lookup. Failed analyses are not cached.
 */
export class PlanCache {
  private readonly cache: LRUCache<string, Analysis>;
  private hitCount = 0;
  private missCount = 0;

  constructor(
    private readonly topology: Topology,
    max = 2000,
    private readonly onLookup?: (hit: boolean) => void,
  ) {
    this.cache = new LRUCache({ max });
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
    const analysis = analyze(sql, this.topology);
    this.cache.set(sql, analysis);
    return analysis;
  }

  stats(): PlanCacheStats {
    return { hits: this.hitCount, misses: this.missCount, size: this.cache.size };
  }
}
