import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Each case runs the addon in a child process: a hang (an endless reap) or an abort (SIGABRT on a
// bad argument) must fail the test, not take jest down with it.
const addon = fileURLToPath(new URL('../../native/build/Release/shardline_socket.node', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/native/${name}`, import.meta.url));

function runChild(script: string, args: string[], timeoutMs: number) {
  const r = spawnSync(process.execPath, [fixture(script), addon, ...args], { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' });
  const lines = (r.stdout ?? '')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { status: r.status, signal: r.signal, stderr: r.stderr ?? '', lines };
}

describe('native idle watch with many dead sockets', () => {
  it('reaps 300 dead sockets at once, each exactly once, without hanging', () => {
    const r = runChild('reap-many-dead.mjs', ['300'], 20_000);
    expect({ status: r.status, signal: r.signal }).toEqual({ status: 0, signal: null });
    const out = r.lines[0] as {
      beforeKill: number[];
      openClientFds: number;
      first: number[];
      firstMs: number;
      second: number[];
      third: number[];
      expected: number[];
      extraAlive: number[];
      extraDead: number[];
      extraAgain: number[];
    };
    expect(out.beforeKill).toEqual([]);
    // Every client fd was still open (JavaScript never ran), so epoll saw 300 level-triggered conditions.
    expect(out.openClientFds).toBe(300);
    expect([...out.first].sort((a, b) => a - b)).toEqual(out.expected);
    expect(out.firstMs).toBeLessThan(1000);
    expect(out.second).toEqual([]);
    expect(out.third).toEqual([]);
    expect(out.extraAlive).toEqual([]);
    expect(out.extraDead).toEqual([99]);
    expect(out.extraAgain).toEqual([]);
  });
});

describe('native addon arguments', () => {
  it('throws a TypeError or RangeError for every bad call, never aborts, never truncates an fd', () => {
    const r = runChild('bad-arguments.mjs', [], 20_000);
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    const calls = r.lines.filter((l) => !l['summary']);
    expect(calls.length).toBe(50);
    for (const c of calls) {
      expect({ name: c['name'], threw: c['threw'], type: ['TypeError', 'RangeError'].includes(c['type'] as string) }).toEqual({
        name: c['name'],
        threw: true,
        type: true,
      });
    }
    const byName = new Map(calls.map((c) => [c['name'], c]));
    for (const name of [
      'probe(2**32+fd)',
      'alive(2**32+fd)',
      'tcpInfo(2**32+fd)',
      'setKeepAlive(2**32+fd, 8, 2, 3)',
      'add(2**32+fd, 1)',
      'checkout(2**32+fd)',
    ]) {
      expect(byName.get(name)).toMatchObject({ type: 'RangeError', message: expect.stringContaining('fd must be within 0..2147483647') });
    }
    const summary = r.lines.find((l) => l['summary']) as { good: Record<string, unknown> } | undefined;
    expect(summary?.good).toEqual({
      tcpState: 'established',
      probe: true,
      alive: true,
      watchSizeAfterRefusedAdds: 0,
      reap: [],
      watchSizeAfterAdd: 1,
      checkout: true,
      watchSizeAfterCheckout: 0,
    });
  });
});
