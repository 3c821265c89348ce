import net from 'node:net';
import { inspect } from 'node:util';
import { createRouter, ShardUnavailableError } from '../../src/index.js';
import { parseClusterConfig } from '../../src/config/index.js';
import { testConfig } from '../support/cluster.js';

const base = testConfig();
const WRONG_PASSWORD = 'not-the-password-7Hq2';

/** A port on 127.0.0.1 nobody listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The error a query on shard-0 gets when shard-0's endpoint is changed by `patch`. */
async function errorWith(patch: Record<string, unknown>): Promise<ShardUnavailableError> {
  const config = structuredClone(base) as unknown as { instances: Record<string, unknown>[]; pool?: Record<string, unknown> };
  config.instances[0] = { ...config.instances[0], ...patch };
  config.pool = { ...config.pool, acquireTimeoutMs: 4000 };
  const router = await createRouter(parseClusterConfig(config));
  try {
    const err = await router
      .forUid(42n)
      .query('SELECT 1 AS x FROM users LIMIT 1')
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(ShardUnavailableError);
    return err as ShardUnavailableError;
  } finally {
    await router.close();
  }
}

/** Every text a log or a caller could print of the error and its cause chain. */
function printed(err: Error): string {
  const texts: string[] = [];
  for (let c: unknown = err; c instanceof Error; c = c.cause)
    texts.push(c.message, c.stack ?? '', inspect(c, { depth: 10, showHidden: true }), JSON.stringify(c));
  return texts.join('\n');
}

describe('a pool that cannot connect says why', () => {
  it('wrong password: the cause is the access-denied error, not retriable, and the password is nowhere', async () => {
    expect(base.instances[0]!.name).toBe('shard-0');
    const err = await errorWith({ password: WRONG_PASSWORD });
    expect(err.code).toBe('SHARD_UNAVAILABLE');
    expect(err.retriable).toBe(false);
    expect(err.message).toMatch(
      /^instance shard-0 \(shards 0-255\) is unavailable: .*; last connection attempt failed: Access denied for user '.+'@'.+' \(using password: YES\) \(ER_ACCESS_DENIED_ERROR\)$/,
    );
    expect(err.cause).toMatchObject({ name: 'DriverError', errno: 1045, code: 'ER_ACCESS_DENIED_ERROR', kind: 'auth', retriable: false });
    expect(err.details).toMatchObject({
      instance: 'shard-0',
      lastError: { code: 'ER_ACCESS_DENIED_ERROR', errno: 1045, kind: 'auth', retriable: false },
    });
    expect(printed(err)).not.toContain(WRONG_PASSWORD);
  }, 20_000);

  it('unknown host: the cause is ENOTFOUND, not retriable', async () => {
    const err = await errorWith({ host: 'nonexistent.invalid' });
    expect(err.code).toBe('SHARD_UNAVAILABLE');
    expect(err.retriable).toBe(false);
    expect(err.message).toMatch(/last connection attempt failed: .*ENOTFOUND nonexistent\.invalid/);
    expect(err.cause).toMatchObject({ name: 'DriverError', code: 'ENOTFOUND', kind: 'unknown-host', retriable: false });
  }, 20_000);

  it('closed port: the cause is ECONNREFUSED, retriable', async () => {
    const port = await closedPort();
    const err = await errorWith({ port });
    expect(err.code).toBe('SHARD_UNAVAILABLE');
    expect(err.retriable).toBe(true);
    // the router's shard-map read at start may already have opened the circuit before the query
    expect(err.message).toMatch(
      new RegExp(
        `(circuit opened while waiting for a connection|circuit open since \\S+); last connection attempt failed: .*ECONNREFUSED 127\\.0\\.0\\.1:${port}`,
      ),
    );
    expect(err.cause).toMatchObject({ name: 'DriverError', code: 'ECONNREFUSED', kind: 'connection', retriable: true });
  }, 20_000);
});
