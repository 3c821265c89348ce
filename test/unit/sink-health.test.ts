import { Registry } from 'prom-client';
import type { ConsumerState } from '../../src/cdc/kafka/event-log.js';
import { InMemoryEventLog } from '../../src/cdc/kafka/in-memory-event-log.js';
import type { Sink, SinkRecord } from '../../src/cdc/sinks/sink-record.js';
import { CdcWorker } from '../../src/cdc/worker.js';
import { defineConfig, parseClusterConfig } from '../../src/config/index.js';
import { ShardlineError } from '../../src/errors/index.js';
import { createLogger } from '../../src/log/logger.js';
import { changeEvent } from '../support/change-events.js';
import { usersSinkRunner } from '../support/sink-runner.js';

const until = async (cond: () => Promise<boolean> | boolean, what: string, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** An archive sink that refuses writes (with a row value in its message) until `healthy` is set. */
function flakySink() {
  const state = { healthy: false, attempts: 0, written: [] as SinkRecord[] };
  const sink: Sink = {
    write: async (records) => {
      state.attempts++;
      if (!state.healthy)
        throw new ShardlineError('ARCHIVE_SCHEMA', `refused the row of secret-value-${records[0]!.id}`, { retriable: true });
      state.written.push(...records);
      return [];
    },
    close: async () => undefined,
  };
  return { state, sink };
}

describe('/healthz and shardline_sink_failing when a sink keeps failing', () => {
  it('turns 503 after cdc.sinkUnhealthyAfterS, names the sink and the error code (never its message), and recovers once the sink applies', async () => {
    const config = parseClusterConfig(
      defineConfig({
        instances: [{ name: 'shard-0', flavour: 'mysql', host: '127.0.0.1', port: 1, user: 'app', password: 'pw' }],
        sharding: { tables: { users: { shardKey: 'uid' } } },
        cdc: { sinkUnhealthyAfterS: 0.3, progress: { enabled: false }, http: { host: '127.0.0.1', port: 0 } },
      }),
      {},
    );
    const log = new InMemoryEventLog();
    const registry = new Registry();
    const { state, sink } = flakySink();
    const worker = new CdcWorker({
      config,
      log,
      logger: createLogger({ level: 'silent' }),
      registry,
      roles: new Set(['archive']),
      sinks: { archive: () => sink },
      httpPort: 0,
    });
    const healthz = async () => {
      const res = await fetch(`http://127.0.0.1:${worker.httpPort}/healthz`);
      return { status: res.status, body: (await res.json()) as { ok: boolean; sink_status: Record<string, unknown>[] } };
    };
    const failingGauge = async () =>
      (await registry.getSingleMetric('shardline_sink_failing')!.get()).values.find((v) => v.labels['sink'] === 'archive')?.value;
    await worker.start();
    try {
      expect((await healthz()).status).toBe(200);
      await log.send([{ topic: `${config.cdc.topicPrefix}users`, key: '7', value: JSON.stringify(changeEvent('7')) }]);
      await until(() => state.attempts >= 1, 'a write attempt');
      const early = await healthz();
      expect(early.status).toBe(200); // failing, but not for long yet
      expect(early.body.sink_status).toEqual([
        expect.objectContaining({ sink: 'archive', ok: true, failing: true, error: 'ARCHIVE_SCHEMA' }),
      ]);
      expect(await failingGauge()).toBe(1);
      await until(async () => (await healthz()).status === 503, '503 after the threshold');
      const down = await healthz();
      expect(down.body.ok).toBe(false);
      expect(down.body.sink_status[0]).toMatchObject({ sink: 'archive', ok: false, failing: true, error: 'ARCHIVE_SCHEMA' });
      expect(down.body.sink_status[0]!['failing_s']).toBeGreaterThanOrEqual(0.3);
      expect(JSON.stringify(down.body)).not.toContain('secret-value');
      state.healthy = true;
      await until(() => state.written.length === 1, 'the write retried and applied');
      await until(async () => (await healthz()).status === 200, 'healthy again');
      expect((await healthz()).body.sink_status[0]).toMatchObject({ ok: true, failing: false, failing_s: 0, error: null });
      expect(await failingGauge()).toBe(0);
    } finally {
      await worker.stop(5000);
    }
  }, 30_000);
});

describe('SinkRunner.status: where a failure came from decides what clears it', () => {
  it("a fetch does not clear a write's failure; an applied write does; a fetch clears the consumer's", async () => {
    const log = new InMemoryEventLog();
    const consumer = log.consumer.bind(log);
    let report: ((s: ConsumerState) => void) | undefined;
    log.consumer = (options) => {
      report = options.onState;
      return consumer(options);
    };
    const { state, sink } = flakySink();
    const runner = usersSinkRunner('archive', sink, log, 'health');
    await runner.start();
    try {
      expect(runner.status()).toMatchObject({ failing: false, error: null });
      await log.send([{ topic: 'cdc.users', key: '7', value: JSON.stringify(changeEvent('7')) }]);
      await until(() => state.attempts >= 1, 'a write attempt');
      expect(runner.status()).toMatchObject({ failing: true, error: 'ARCHIVE_SCHEMA' });
      report!({ ok: true });
      expect(runner.status()).toMatchObject({ failing: true, error: 'ARCHIVE_SCHEMA' });
      state.healthy = true;
      await until(() => state.written.length === 1, 'the write retried and applied');
      await until(() => !runner.status().failing, 'recovered');
      report!({ ok: false, error: new ShardlineError('KAFKA', 'bad batch'), restarting: true });
      expect(runner.status()).toMatchObject({ failing: true, error: 'KAFKA' });
      report!({ ok: true });
      expect(runner.status()).toMatchObject({ failing: false, error: null, failingForMs: 0 });
    } finally {
      await runner.stop();
    }
  });
});
