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
  private readonly calls: { at: number; ok: boolean }[] = [];
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
    if (next === 'closed') this.calls.length = 0;
    for (const l of this.listeners) l(next, previous);
  }

  private record(ok: boolean): void {
    const t = this.now();
    this.calls.push({ at: t, ok });
    while (this.calls.length > 0 && t - this.calls[0]!.at > this.settings.windowMs) this.calls.shift();
    if (this.calls.length > 1000) this.calls.splice(0, this.calls.length - 1000);
  }

  private rateExceeded(): boolean {
    if (this.calls.length < this.settings.minCalls) return false;
    const failed = this.calls.reduce((n, c) => n + (c.ok ? 0 : 1), 0);
    return failed / this.calls.length >= this.settings.failureRate;
  }
}
