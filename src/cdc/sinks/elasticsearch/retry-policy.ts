/** Back-off between retries. */
export interface RetryOptions {
  /** First delay in ms (default 100). */
  initialMs?: number;
  /** Longest delay in ms (default 30 000). */
  maxMs?: number;
  /** Source of jitter in [0, 1) (default Math.random). */
  random?: () => number;
}

/**
 * Delay before retry `attempt` (1-based): exponential up to `maxMs`, with "equal jitter" — half
 * of the step fixed, half random — so retries of many sinks spread out but never hammer at 0 ms.
 */
export function backoffMs(attempt: number, options: RetryOptions = {}): number {
  const initial = options.initialMs ?? 100;
  const max = options.maxMs ?? 30_000;
  const step = Math.min(max, initial * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return step / 2 + (options.random ?? Math.random)() * (step / 2);
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
