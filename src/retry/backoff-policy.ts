import { ConfigError } from '../errors/index.js';

/**
 * How the delay grows and spreads: `full` draws the delay uniformly in [0, step] (spreads many
 * clients best), `equal` keeps half the step and draws the other half (never retries at 0 ms),
 * `none` waits exactly the step.
 */
export type Jitter = 'full' | 'equal' | 'none';

/**
 * An exponential back-off: the step before retry `attempt` (1-based) is
 * `min(maxMs, initialMs × factor^(attempt − 1))`, then jittered.
 */
export interface BackoffPolicy {
  /** The step before the first retry, in ms. */
  readonly initialMs: number;
  /** The largest step, in ms. */
  readonly maxMs: number;
  readonly jitter: Jitter;
  /** Growth per attempt (default 2). */
  readonly factor?: number;
}

/** Source of randomness in [0, 1), injectable for tests. */
export type RandomSource = () => number;

/**
 * Checks a policy once, where it is built; `field` names the option in the error (default `backoff`).
 * @throws {ConfigError} CONFIG_INVALID when a bound is negative or not finite, `maxMs < initialMs`,
 *   `factor < 1` or the jitter is unknown.
 */
export function checkBackoffPolicy(policy: BackoffPolicy, field = 'backoff'): BackoffPolicy {
  const { initialMs, maxMs, jitter, factor = 2 } = policy;
  const problem =
    !Number.isFinite(initialMs) || initialMs < 0
      ? `initialMs must be a finite number ≥ 0, found ${initialMs}`
      : !Number.isFinite(maxMs) || maxMs < initialMs
        ? `maxMs must be a finite number ≥ initialMs (${initialMs}), found ${maxMs}`
        : !Number.isFinite(factor) || factor < 1
          ? `factor must be a finite number ≥ 1, found ${factor}`
          : jitter !== 'full' && jitter !== 'equal' && jitter !== 'none'
            ? `jitter must be 'full', 'equal' or 'none', found ${String(jitter)}`
            : null;
  if (problem) throw new ConfigError('CONFIG_INVALID', `${field}: ${problem}`, { details: { field } });
  return policy;
}

/**
 * The delay in whole ms before retry `attempt` (1-based; values below 1 count as 1). Pure: the
 * same policy, attempt and random number give the same delay.
 *
 * @example
 * backoffDelayMs({ initialMs: 100, maxMs: 2000, jitter: 'none' }, 3, Math.random); // 400
 */
export function backoffDelayMs(policy: BackoffPolicy, attempt: number, random: RandomSource = Math.random): number {
  const factor = policy.factor ?? 2;
  const exponent = Math.max(0, Math.floor(attempt) - 1);
  const growth = factor ** exponent;
  const step = policy.initialMs === 0 ? 0 : Math.min(policy.maxMs, policy.initialMs * growth);
  const r = Math.min(Math.max(random(), 0), 1);
  switch (policy.jitter) {
    case 'none':
      return Math.round(step);
    case 'equal':
      return Math.round(step / 2 + r * (step / 2));
    case 'full':
      return Math.round(r * step);
  }
}
