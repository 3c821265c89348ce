import { PartitionLab } from '../support/partition-harness.js';

const lab = new PartitionLab();

beforeAll(() => lab.up(), 60_000);
afterAll(() => lab.down(), 60_000);

describe('silent partition (server in its own network namespace, link taken down)', () => {
  let native = 0;

  it('with the native layer an in-flight query fails within 15 s (TCP_USER_TIMEOUT + tuned keepalive)', async () => {
    const r = await lab.measure('native', 'inflight');
    native = r.seconds;
    process.stderr.write(
      `[chaos] in-flight query on a partitioned server, native layer: failed after ${r.seconds.toFixed(1)} s (${r.detail})\n`,
    );
    expect(r.event).toBe('failed');
    expect(r.seconds).toBeLessThanOrEqual(15);
  }, 120_000);

  it('the idle watch reports an idle connection to the partitioned server dead', async () => {
    const r = await lab.measure('native', 'idle');
    process.stderr.write(`[chaos] idle connection on a partitioned server, native idle watch: reaped after ${r.seconds.toFixed(1)} s\n`);
    expect(r.event).toBe('reaped');
    expect(r.seconds).toBeLessThanOrEqual(20);
  }, 120_000);

  it('the JS fallback takes longer (reported beside the native figure)', async () => {
    const r = await lab.measure('js', 'inflight', 120);
    process.stderr.write(
      `[chaos] in-flight query on a partitioned server, JS fallback: failed after ${r.seconds.toFixed(1)} s (native ${native.toFixed(1)} s)\n`,
    );
    expect(r.event).toBe('failed');
    expect(r.seconds).toBeGreaterThan(native);
  }, 180_000);
});
