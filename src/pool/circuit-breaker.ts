/** Breaker states; the metric encodes them as 0, 1, 2. */
export type BreakerState = 'closed' | 'half-open' | 'open';

/** When a breaker opens and how it recovers. */
export interface BreakerSettings {
  /** Consecutive failures (connect or connection-level) that open it. */
  consecutiveFailures: number;
  /** Failure rate over the window that opens it, once `minCalls` calls were seen. */
  failureRate: number;
  minCalls: number;
  windowMs: number;
  /** How long it stays open before a half-open trial. */
  openMs: number;
}

/** Time slices the failure-rate window is counted in. */
const BUCKETS = 10;

export const DEFAULT_BREAKER: BreakerSettings = { consecutiveFailures: 3, failureRate: 0.5, minCalls: 20, windowMs: 10_000, openMs: 1_000 };

/**
 * A circuit breaker for one instance. Pure: time comes from `now()`, nothing is scheduled.
 * Closed → open on consecutive failures or a failure rate; open → half-open after `openMs`,
 * where one trial call is let through; its success closes, its failure reopens.
 */
export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private consecutive = 0;
  private openedAt = 0;
  private trialInFlight = false;
  /** The window as BUCKETS time slices of ok/failed counts: O(1) per call, no allocation. */
  private readonly slice: number[] = new Array<number>(BUCKETS).fill(-1);
  private readonly ok = new Array<number>(BUCKETS).fill(0);
  private readonly failed = new Array<number>(BUCKETS).fill(0);
  private readonly listeners: ((state: BreakerState, previous: BreakerState) => void)[] = [];

  constructor(
    private readonly settings: BreakerSettings = DEFAULT_BREAKER,
    private readonly now: () => number = Date.now,
  ) {}

  /** The state, moving open → half-open when its time has come. */
  get state(): BreakerState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.settings.openMs) this.transition('half-open');
    return this.current;
  }

  /** When it opened last (ms since epoch), 0 if never. */
  get openedSince(): number {
    return this.openedAt;
  }

  /** Whether a call may go ahead now; in half-open only one trial at a time. */
  allow(): boolean {
    const s = this.state;
    if (s === 'closed') return true;
    if (s === 'open' || this.trialInFlight) return false;
    this.trialInFlight = true;
    return true;
  }

  success(): void {
    this.consecutive = 0;
    this.record(true);
    if (this.current !== 'closed') {
      this.trialInFlight = false;
      this.transition('closed');
    }
  }

  failure(): void {
    this.consecutive++;
    this.record(false);
    if (this.current === 'half-open') {
      this.trialInFlight = false;
      this.open();
      return;
    }
    if (this.current === 'closed' && (this.consecutive >= this.settings.consecutiveFailures || this.rateExceeded())) this.open();
  }

  /** Called on every state change. */
  onChange(listener: (state: BreakerState, previous: BreakerState) => void): void {
    this.listeners.push(listener);
  }

  private open(): void {
    this.openedAt = this.now();
    this.transition('open');
  }

  private transition(next: BreakerState): void {
    if (next === this.current) return;
    const previous = this.current;
    this.current = next;
    if (next === 'closed') this.slice.fill(-1);
    for (const l of this.listeners) l(next, previous);
  }

  private record(ok: boolean): void {
    const n = Math.floor(this.now() / Math.max(1, this.settings.windowMs / BUCKETS));
    const i = n % BUCKETS;
    if (this.slice[i] !== n) {
      this.slice[i] = n;
      this.ok[i] = 0;
      this.failed[i] = 0;
    }
    if (ok) this.ok[i]!++;
    else this.failed[i]!++;
  }

  private rateExceeded(): boolean {
    const n = Math.floor(this.now() / Math.max(1, this.settings.windowMs / BUCKETS));
    let calls = 0;
    let failed = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (this.slice[i]! <= n - BUCKETS) continue;
      calls += this.ok[i]! + this.failed[i]!;
      failed += this.failed[i]!;
    }
    if (calls < this.settings.minCalls) return false;
    return failed / calls >= this.settings.failureRate;
  }
}
