import { ConfigError, ShardlineError } from '../../src/errors/index.js';
import {
  backoffDelayMs,
  checkBackoffPolicy,
  isRetriableError,
  retry,
  sleep,
  systemClock,
  type BackoffPolicy,
} from '../../src/retry/index.js';
import { ManualClock, flush } from '../support/manual-clock.js';

const fixed = (r: number) => () => r;

describe('backoffDelayMs', () => {
  const none: BackoffPolicy = { initialMs: 100, maxMs: 2000, jitter: 'none' };

  it('doubles from initialMs and stops at maxMs without jitter', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 50, 10_000].map((a) => backoffDelayMs(none, a, fixed(0.3)));
    expect(delays).toEqual([100, 200, 400, 800, 1600, 2000, 2000, 2000, 2000]);
  });

  it('treats attempts below 1 as the first', () => {
    expect(backoffDelayMs(none, 0)).toBe(100);
    expect(backoffDelayMs(none, -3)).toBe(100);
  });

  it('uses the factor', () => {
    expect([1, 2, 3].map((a) => backoffDelayMs({ initialMs: 10, maxMs: 1e6, jitter: 'none', factor: 3 }, a))).toEqual([10, 30, 90]);
  });

  it('full jitter spans [0, step]', () => {
    const p: BackoffPolicy = { initialMs: 100, maxMs: 30_000, jitter: 'full' };
    expect(backoffDelayMs(p, 4, fixed(0))).toBe(0);
    expect(backoffDelayMs(p, 4, fixed(0.5))).toBe(400);
    expect(backoffDelayMs(p, 4, fixed(0.999999))).toBe(800);
    expect(backoffDelayMs(p, 40, fixed(0.999999))).toBe(30_000);
  });

  it('equal jitter spans [step/2, step]', () => {
    const p: BackoffPolicy = { initialMs: 500, maxMs: 30_000, jitter: 'equal' };
    expect(backoffDelayMs(p, 3, fixed(0))).toBe(1000);
    expect(backoffDelayMs(p, 3, fixed(0.999999))).toBe(2000);
    expect(backoffDelayMs(p, 100, fixed(0))).toBe(15_000);
  });

  it('stays within its bounds for any random draw and attempt', () => {
    for (const jitter of ['full', 'equal', 'none'] as const) {
      const p: BackoffPolicy = { initialMs: 250, maxMs: 30_000, jitter };
      for (let attempt = 1; attempt < 80; attempt++) {
        const step = Math.min(30_000, 250 * 2 ** (attempt - 1));
        for (const r of [0, 0.1, 0.5, 0.77, 0.999]) {
          const d = backoffDelayMs(p, attempt, fixed(r));
          const lo = jitter === 'full' ? 0 : jitter === 'equal' ? step / 2 : step;
          expect(Number.isInteger(d)).toBe(true);
          expect(d).toBeGreaterThanOrEqual(Math.floor(lo));
          expect(d).toBeLessThanOrEqual(step);
        }
      }
    }
  });

  it('clamps a random source outside [0, 1)', () => {
    const p: BackoffPolicy = { initialMs: 100, maxMs: 1000, jitter: 'full' };
    expect(backoffDelayMs(p, 1, fixed(7))).toBe(100);
    expect(backoffDelayMs(p, 1, fixed(-1))).toBe(0);
  });

  it('a zero initial step never waits', () => {
    expect(backoffDelayMs({ initialMs: 0, maxMs: 0, jitter: 'none' }, 1e9)).toBe(0);
  });

  it('refuses a policy that cannot work with a typed config error', () => {
    for (const bad of [
      { initialMs: -1, maxMs: 10, jitter: 'none' },
      { initialMs: 100, maxMs: 10, jitter: 'none' },
      { initialMs: 1, maxMs: Infinity, jitter: 'none' },
      { initialMs: 1, maxMs: 10, jitter: 'none', factor: 0.5 },
      { initialMs: 1, maxMs: 10, jitter: 'sometimes' },
    ]) {
      expect(() => checkBackoffPolicy(bad as BackoffPolicy)).toThrow(ConfigError);
    }
  });
});

describe('sleep', () => {
  it('resolves after the clock advanced by ms, not before', async () => {
    const clock = new ManualClock();
    let done = false;
    void sleep(500, undefined, clock).then(() => (done = true));
    await clock.advance(499);
    expect(done).toBe(false);
    await clock.advance(1);
    expect(done).toBe(true);
  });

  it('rejects with the reason when aborted mid-sleep and leaves no timer', async () => {
    const clock = new ManualClock();
    const ac = new AbortController();
    const p = sleep(10_000, ac.signal, clock);
    await clock.advance(100);
    expect(clock.pending).toBe(1);
    const reason = new Error('stop');
    ac.abort(reason);
    await expect(p).rejects.toBe(reason);
    expect(clock.pending).toBe(0);
  });

  it('rejects at once on an aborted signal', async () => {
    const clock = new ManualClock();
    await expect(sleep(10, AbortSignal.abort('gone'), clock)).rejects.toBe('gone');
    expect(clock.pending).toBe(0);
  });

  it('the system clock reads the wall clock', () => {
    expect(Math.abs(systemClock.now() - Date.now())).toBeLessThan(50);
  });
});

describe('retry', () => {
  const transient = () => new ShardlineError('SHARD_UNAVAILABLE', 'down', { retriable: true });
  const policy: BackoffPolicy = { initialMs: 100, maxMs: 1000, jitter: 'none' };

  it('retries retriable errors with the policy delays and returns the value', async () => {
    const clock = new ManualClock();
    const seen: { attempt: number; delayMs: number }[] = [];
    let calls = 0;
    const p = retry(
      async () => {
        calls++;
        if (calls < 4) throw transient();
        return 'ok';
      },
      { policy, clock, onRetry: ({ attempt, delayMs }) => void seen.push({ attempt, delayMs }) },
    );
    await flush();
    expect(clock.pendingDelays()).toEqual([100]);
    await clock.advance(100);
    expect(clock.pendingDelays()).toEqual([200]);
    await clock.advance(200);
    expect(clock.pendingDelays()).toEqual([400]);
    await clock.advance(399);
    expect(calls).toBe(3);
    await clock.advance(1);
    await expect(p).resolves.toBe('ok');
    expect(calls).toBe(4);
    expect(seen).toEqual([
      { attempt: 1, delayMs: 100 },
      { attempt: 2, delayMs: 200 },
      { attempt: 3, delayMs: 400 },
    ]);
  });

  it('stops at once on an error without retriable: true', async () => {
    const clock = new ManualClock();
    for (const err of [new ShardlineError('AUTH_FAILED', 'denied', { retriable: false }), new Error('plain'), 'string']) {
      let calls = 0;
      await expect(
        retry(
          async () => {
            calls++;
            throw err;
          },
          { policy, clock },
        ),
      ).rejects.toBe(err);
      expect(calls).toBe(1);
      expect(clock.pending).toBe(0);
    }
  });

  it('asks isRetriable when given, with the attempt number', async () => {
    const clock = new ManualClock();
    const asked: number[] = [];
    const err = new Error('flaky');
    const p = retry(
      async () => {
        throw err;
      },
      { policy, clock, isRetriable: (_e, attempt) => (asked.push(attempt), attempt < 2) },
    );
    const settled = expect(p).rejects.toBe(err);
    await clock.advance(100);
    await settled;
    expect(asked).toEqual([1, 2]);
  });

  it('gives up after maxAttempts with the last error', async () => {
    const clock = new ManualClock();
    const errors: Error[] = [];
    const p = retry(
      async () => {
        const e = transient();
        errors.push(e);
        throw e;
      },
      { policy, clock, maxAttempts: 3 },
    );
    const settled = p.catch((e: unknown) => e);
    await clock.advance(10_000);
    expect(await settled).toBe(errors[2]);
    expect(errors).toHaveLength(3);
  });

  it('an abort mid-sleep ends retrying with the signal reason and no further attempt', async () => {
    const clock = new ManualClock();
    const ac = new AbortController();
    let calls = 0;
    const p = retry(
      async () => {
        calls++;
        throw transient();
      },
      { policy, clock, signal: ac.signal },
    );
    const settled = p.catch((e: unknown) => e);
    await clock.advance(100);
    expect(calls).toBe(2);
    ac.abort(new Error('shutdown'));
    expect(((await settled) as Error).message).toBe('shutdown');
    await clock.advance(10_000);
    expect(calls).toBe(2);
    expect(clock.pending).toBe(0);
  });

  it('does not call fn when the signal has already aborted', async () => {
    let calls = 0;
    await expect(retry(async () => ++calls, { policy, signal: AbortSignal.abort('no') })).rejects.toBe('no');
    expect(calls).toBe(0);
  });

  it('draws jitter from the injected random source', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const p = retry(
      async () => {
        if (++calls === 1) throw transient();
        return calls;
      },
      { policy: { initialMs: 1000, maxMs: 1000, jitter: 'full' }, clock, random: fixed(0.25) },
    );
    await flush();
    expect(clock.pendingDelays()).toEqual([250]);
    await clock.advance(250);
    await expect(p).resolves.toBe(2);
  });

  it('isRetriableError reads the retriable flag only', () => {
    expect(isRetriableError(transient())).toBe(true);
    expect(isRetriableError(Object.assign(new Error('x'), { retriable: true }))).toBe(true);
    expect(isRetriableError(Object.assign(new Error('x'), { retriable: 'yes' }))).toBe(false);
    expect(isRetriableError(new Error('x'))).toBe(false);
    expect(isRetriableError(null)).toBe(false);
  });
});
