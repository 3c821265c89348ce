import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { bundledClusterConfig, packageRoot } from '../../src/config/index.js';

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(process.execPath, [path.join(packageRoot, 'dist/cli/main.js'), ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { code: e.status, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A copy of the local cluster config with shifted ports and its own state folder. */
function isolatedCluster(mutate: (doc: Record<string, any>) => void): { config: string; state: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shardline-cli-'));
  const doc = parse(readFileSync(bundledClusterConfig, 'utf8')) as Record<string, any>;
  mutate(doc);
  const config = path.join(dir, 'cluster.yaml');
  writeFileSync(config, stringify(doc));
  return { config, state: path.join(dir, 'state') };
}

describe('shardline dev: bad input', () => {
  it('refuses to start when a port is taken, naming the port and the process holding it, and starts nothing', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    const { config, state } = isolatedCluster((doc) => {
      doc.instances.forEach((inst: Record<string, number>, i: number) => (inst.port = 24311 + i));
      doc.instances[0].port = port;
      doc.archive.port = 24320;
      doc.kafka.brokers = ['127.0.0.1:24392'];
      doc.kafka.dev.controllerPort = 24393;
      doc.elasticsearch.node = 'http://127.0.0.1:24200';
      doc.elasticsearch.dev.transportPort = 24300;
    });
    try {
      const result = runCli(['dev', 'up', '--native', '--config', config], { SHARDLINE_STATE_DIR: state });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`error DEV_PORT_IN_USE: port ${port} needed by shard-0 is in use by pid ${process.pid} (`);
      const after = runCli(['dev', 'status', '--json', '--config', config], { SHARDLINE_STATE_DIR: state });
      expect(after.code).toBe(3);
      expect((JSON.parse(after.stdout) as { pid: number | null }[]).every((s) => s.pid === null)).toBe(true);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('prints the zod message naming the field for an invalid config', () => {
    const { config } = isolatedCluster((doc) => {
      doc.instances[2].flavour = 'postgres';
    });
    const result = runCli(['dev', 'status', '--config', config]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error CONFIG_INVALID: invalid cluster config .*instances\.2\.flavour/);
  });

  it('rejects --docker together with --native as a usage error', () => {
    const result = runCli(['dev', 'up', '--docker', '--native']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error USAGE: --docker and --native exclude each other');
  });
});

describe('shardline doctor', () => {
  it('reports the native socket layer with the contract fields', () => {
    const result = runCli(['doctor', '--json']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({ socketLayer: 'native', nofile: { soft: expect.any(Number), hard: expect.any(Number) } });
    expect(report['reason']).toMatch(/shardline_socket\.node/);
    expect(report['capabilities']).toMatchObject({ idleWatch: true, userTimeout: true, tcpInfo: true });
  });

  it('says why when the JS fallback is active', () => {
    const report = JSON.parse(runCli(['doctor', '--json'], { SHARDLINE_SOCKET_LAYER: 'js' }).stdout) as Record<string, unknown>;
    expect(report).toMatchObject({ socketLayer: 'js', reason: 'SHARDLINE_SOCKET_LAYER=js forces the JS layer' });
  });
});
