export { backoffDelayMs, checkBackoffPolicy } from './backoff-policy.js';
export type { BackoffPolicy, Jitter, RandomSource } from './backoff-policy.js';
export { systemClock } from './clock.js';
export type { Clock, TimerHandle } from './clock.js';
export { sleep } from './sleep.js';
export { retry, isRetriableError } from './retry.js';
export type { RetryAttempt, RetryOptions } from './retry.js';
