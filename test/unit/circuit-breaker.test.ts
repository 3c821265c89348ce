import { bundledClusterConfig, loadClusterConfig, parseClusterConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors/index.js';
import { CircuitBreaker } from '../../src/pool/index.js';
import { checkFdBudget } from '../../src/router/index.js';

function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}
const settings = { consecutiveFailures: 3, failureRate: 0.5, minCalls: 10, windowMs: 10_000, openMs: 1_000 };

describe('CircuitBreaker', () => {
  it('opens after consecutive failures and fails fast while open', () => {
    const c = clock();
    const b = new CircuitBreaker(settings, c.now);
    const changes: string[] = [];
    b.onChange((s, p) => changes.push(`${p}->${s}`));
    b.failure();
    b.failure();
    expect(b.state).toBe('closed');
    b.failure();
    expect(b.state).toBe('open');
    expect(b.allow()).toBe(false);
    expect(changes).toEqual(['closed->open']);
    expect(b.openedSince).toBe(c.now());
  });

  it('lets one trial through when half-open; success closes, failure reopens', () => {
    const c = clock();
    const b = new CircuitBreaker(settings, c.now);
    for (let i = 0; i < 3; i++) b.failure();
    c.advance(999);
    expect(b.allow()).toBe(false);
    c.advance(1);
    expect(b.state).toBe('half-open');
    expect(b.allow()).toBe(true);
    expect(b.allow()).toBe(false);
    b.failure();
    expect(b.state).toBe('open');
    c.advance(1000);
    expect(b.allow()).toBe(true);
    b.success();
    expect(b.state).toBe('closed');
    expect(b.allow()).toBe(true);
  });

  it('opens on a failure rate even without consecutive failures', () => {
    const c = clock();
    const b = new CircuitBreaker(settings, c.now);
    for (let i = 0; i < 10; i++) {
      if (i % 2) b.failure();
      else b.success();
      c.advance(10);
    }
    expect(b.state).toBe('open');
  });

  it('forgets failures older than the window', () => {
    const c = clock();
    const b = new CircuitBreaker({ ...settings, consecutiveFailures: 100 }, c.now);
    for (let i = 0; i < 9; i++) b.failure();
    c.advance(20_000);
    for (let i = 0; i < 9; i++) b.success();
    b.failure();
    expect(b.state).toBe('closed');
  });
});

describe('file-descriptor budget', () => {
  const config = loadClusterConfig(bundledClusterConfig, {});

  it('passes when the limit covers the pools plus the margin', () => {
    // 5 instances (shard-4 too) × (pool + multi-shard write pool) + 4 replicas × (pool + lag monitor to it and its primary) + margin
    expect(checkFdBudget(config, { soft: 4096, hard: 4096, before: 1024, raised: true }).need).toBe(5 * (16 + 4) + 4 * (16 + 2) + 64);
    const noReplicas = parseClusterConfig({ ...structuredClone(config), instances: config.instances.map((i) => ({ ...i, replicas: [] })) });
    expect(checkFdBudget(noReplicas, { soft: 4096, hard: 4096, before: 1024, raised: true }).need).toBe(5 * (16 + 4) + 64);
  });

  it('fails naming the limit, the need and the fix', () => {
    const big = parseClusterConfig({ ...structuredClone(config), pool: { max: 500 } });
    let error: unknown;
    try {
      checkFdBudget(big, { soft: 1024, hard: 1024, before: 1024, raised: false });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('FD_BUDGET');
    expect((error as Error).message).toBe(
      'the pools may open 5 × (500 + 4 for multi-shard writes) + 4 replicas × (500 + 2 for the lag monitor) = 4528 connections and the process needs 64 more file descriptors (4592 in all), but RLIMIT_NOFILE is 1024 (hard limit 1024). Raise it: `ulimit -n 8192` before starting, or LimitNOFILE=8192 in the systemd unit; or lower pool.max',
    );
  });
});
