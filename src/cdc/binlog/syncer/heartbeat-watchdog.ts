import { ShardlineError } from '../../../errors/index.js';
import { systemClock, type Clock, type TimerHandle } from '../../../retry/index.js';

/** No event or heartbeat arrived for longer than the watchdog allows: the connection is presumed dead. */
export class HeartbeatTimeoutError extends ShardlineError {
  /** How long the source had been silent when the watchdog fired. */
  readonly silentMs: number;

  constructor(silentMs: number, heartbeatMs: number) {
    super('BINLOG_CONNECTION', `no event or heartbeat for ${silentMs} ms (heartbeat period ${heartbeatMs} ms): connection presumed dead`, {
      retriable: true,
      details: { silentMs, heartbeatMs },
    });
    this.silentMs = silentMs;
  }
}

/** Options of a {@link HeartbeatWatchdog}. */
export interface HeartbeatWatchdogOptions {
  /** The period the source promised a heartbeat at. */
  heartbeatMs: number;
  /** Heartbeat periods of silence tolerated before firing (3). */
  missedHeartbeats?: number;
  /** Called once, when the silence has lasted longer than `heartbeatMs × missedHeartbeats`. */
  onTimeout(error: HeartbeatTimeoutError): void;
  clock?: Clock;
}

/**
 * Expects an event or heartbeat at least every `heartbeatMs × missedHeartbeats` ms once started:
 * `activity()` marks one; silence beyond that fires `onTimeout` once with a
 * {@link HeartbeatTimeoutError} and stops. While paused (the consumer holds the source back, so
 * silence is expected) it never fires; `resume()` starts the silence count afresh. One timer at a
 * time, armed for the moment the silence would exceed the limit.
 */
export class HeartbeatWatchdog {
  private readonly clock: Clock;
  private readonly limitMs: number;
  private lastActivity = 0;
  private timer: TimerHandle | undefined;
  private state: 'idle' | 'watching' | 'paused' | 'stopped' = 'idle';

  constructor(private readonly options: HeartbeatWatchdogOptions) {
    this.clock = options.clock ?? systemClock;
    this.limitMs = options.heartbeatMs * (options.missedHeartbeats ?? 3);
    if (!(this.limitMs > 0)) throw new RangeError(`heartbeat watchdog limit must be positive, got ${this.limitMs} ms`);
  }

  /** Whether the watchdog is counting silence now. */
  get watching(): boolean {
    return this.state === 'watching';
  }

  /** Starts counting silence from now. */
  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'watching';
    this.lastActivity = this.clock.now();
    this.arm(this.limitMs + 1);
  }

  /** The source showed it is alive. */
  activity(): void {
    this.lastActivity = this.clock.now();
  }

  /** Silence is expected from now on (the source is paused). */
  pause(): void {
    if (this.state !== 'watching') return;
    this.state = 'paused';
    this.disarm();
  }

  /** Silence counts again, from now. */
  resume(): void {
    if (this.state !== 'paused') return;
    this.state = 'watching';
    this.lastActivity = this.clock.now();
    this.arm(this.limitMs + 1);
  }

  /** Stops for good; it will not fire. */
  stop(): void {
    this.state = 'stopped';
    this.disarm();
  }

  private check(): void {
    this.timer = undefined;
    if (this.state !== 'watching') return;
    const silentMs = this.clock.now() - this.lastActivity;
    if (silentMs > this.limitMs) {
      this.stop();
      this.options.onTimeout(new HeartbeatTimeoutError(silentMs, this.options.heartbeatMs));
    } else {
      this.arm(this.limitMs - silentMs + 1);
    }
  }

  private arm(ms: number): void {
    this.timer = this.clock.setTimeout(() => this.check(), ms);
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
