import { checkBackoffPolicy, type BackoffPolicy, type RandomSource } from '../../../retry/index.js';

/** Back-off between retries of the Elasticsearch sink. */
export interface RetryOptions {
  /** First delay in ms (default 100). */
  initialMs?: number;
  /** Longest delay in ms (default 30 000). */
  maxMs?: number;
  /** Source of jitter in [0, 1) (default Math.random). */
  random?: RandomSource;
}

/**
 * The sink's back-off: exponential up to `maxMs`, with "equal jitter" — half of the step fixed,
 * half random — so retries of many sinks spread out but never hammer at 0 ms.
 * @throws {ConfigError} CONFIG_INVALID when the bounds cannot work (see `checkBackoffPolicy`).
 */
export function esBackoffPolicy(options: RetryOptions = {}): BackoffPolicy {
  return checkBackoffPolicy(
    { initialMs: options.initialMs ?? 100, maxMs: options.maxMs ?? 30_000, jitter: 'equal' },
    'Elasticsearch sink retry',
  );
}
