import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { bundledClusterConfig, packageRoot } from '../../src/config/index.js';
import { KafkajsEventLog } from '../../src/cdc/kafka/kafkajs-event-log.js';
import { testConfig } from '../support/cluster.js';

const brokers = testConfig().kafka.brokers;
const dir = mkdtempSync(path.join(os.tmpdir(), 'shardline-missing-topic-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a topic nobody created yet', () => {
  it('holds no messages: readToEnd answers at once (kafkajs retried its metadata for ~16 s, then failed)', async () => {
    const log = new KafkajsEventLog({ brokers, clientId: 'shardline-test-missing-topic' });
    try {
      const t0 = Date.now();
      expect(await log.readToEnd(`shardline_missing_${randomUUID()}`)).toEqual([]);
      expect(await log.readToEnd(`shardline_missing_${randomUUID()}`, [0, 3])).toEqual([]);
      expect(Date.now() - t0).toBeLessThan(5_000);
    } finally {
      await log.close();
    }
  });

  it('`cdc status` before any worker ran: every instance "not started", exit 0 (it was a KAFKA error after 16 s of warnings)', () => {
    const doc = parse(readFileSync(bundledClusterConfig, 'utf8').replaceAll('../.shardline', path.join(packageRoot, '.shardline'))) as {
      cdc?: Record<string, unknown>;
      instances: { name: string }[];
    };
    doc.cdc = { ...doc.cdc, checkpointTopic: `shardline_missing_${randomUUID()}` };
    const config = path.join(dir, 'cluster.yaml');
    writeFileSync(config, stringify(doc));
    const env: NodeJS.ProcessEnv = { ...process.env, SHARDLINE_LOG_LEVEL: 'warn' };
    delete env['SHARDLINE_CONFIG'];
    const run = spawnSync(
      process.execPath,
      [path.join(packageRoot, 'dist', 'cli', 'main.js'), 'cdc', 'status', '--json', '--config', config],
      {
        env,
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(run.status).toBe(0);
    expect(run.stderr).not.toMatch(/does not host this topic-partition/);
    const status = JSON.parse(run.stdout) as { instances: { instance: string; position: unknown }[] };
    expect(status.instances.map((i) => [i.instance, i.position])).toEqual(doc.instances.map((i) => [i.name, null]));
  });
});
