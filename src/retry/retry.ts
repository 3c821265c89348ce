import { backoffDelayMs, checkBackoffPolicy, type BackoffPolicy, type RandomSource } from './backoff-policy.js';
import { systemClock, type Clock } from './clock.js';
import { sleep } from './sleep.js';

/** What {@link retry} tells `onRetry` before it sleeps. */
export interface RetryAttempt {
  /** The attempt that failed (1-based). */
  attempt: number;
  /** How long it now waits before the next attempt. */
  delayMs: number;
  error: unknown;
}

/** How {@link retry} retries. */
export interface RetryOptions {
  policy: BackoffPolicy;
  /** Aborting stops the retrying: during a sleep at once, else before the next attempt. */
  signal?: AbortSignal;
  /** Whether a failure may be tried again (default {@link isRetriableError}). */
  isRetriable?: (error: unknown, attempt: number) => boolean;
  /** Called before each sleep; an error it throws ends the retrying with that error. */
  onRetry?: (info: RetryAttempt) => void | Promise<void>;
  /** Attempts in all, the first included (default: no limit). */
  maxAttempts?: number;
  clock?: Clock;
  random?: RandomSource;
}

/**
 * True when an error says trying again can help: it carries `retriable: true` (every
 * `ShardlineError` and every `DriverError` does, decided once where the error entered).
 * Anything else — plain errors, strings — is not retriable.
 */
export function isRetriableError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { retriable?: unknown }).retriable === true;
}

/**
 * Runs `fn` until it resolves, a failure is not retriable, `maxAttempts` is reached or the
 * signal aborts; sleeps `backoffDelayMs(policy, attempt)` between attempts.
 *
 * @returns what `fn` resolved with.
 * @throws the last error of `fn` when it is not retriable or attempts are used up; the signal's
 *   reason when it aborts.
 *
 * @example
 * const rows = await retry(() => conn.query(sql), {
 *   policy: { initialMs: 100, maxMs: 5000, jitter: 'full' },
 *   maxAttempts: 5,
 *   signal: shutdown.signal,
 * });
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const policy = checkBackoffPolicy(options.policy);
  const { signal, maxAttempts = Infinity, clock = systemClock, random = Math.random } = options;
  const isRetriable = options.isRetriable ?? isRetriableError;
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw signal.reason;
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= maxAttempts || !isRetriable(error, attempt)) throw error;
      const delayMs = backoffDelayMs(policy, attempt, random);
      await options.onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs, signal, clock);
    }
  }
}
