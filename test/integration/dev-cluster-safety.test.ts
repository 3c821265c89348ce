import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'shardline-safety-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The bundled config (same ports as the running cluster, so an old `dev up` stops at its port check and starts nothing). */
function configWith(mutate: (doc: Record<string, any>) => void): string {
  const doc = parse(readFileSync(bundledClusterConfig, 'utf8')) as Record<string, any>;
  mutate(doc);
  const file = path.join(dir, `cluster-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify(doc));
  return file;
}

describe('shardline dev up refuses unsafe set-ups before starting anything', () => {
  it('a non-loopback host (with and without --allow-remote for a service without authentication)', () => {
    const state = path.join(dir, 'state-bind');
    const config = configWith((doc) => {
      doc.instances[0].host = '0.0.0.0';
      doc.kafka.brokers = ['0.0.0.0:9092'];
    });
    const refused = runCli(['dev', 'up', '--native', '--config', config], { SHARDLINE_STATE_DIR: state });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^error DEV_INSECURE_BIND: the dev cluster binds only to loopback: shard-0 would listen on 0\.0\.0\.0, which is not loopback \(pass --allow-remote/m,
    );
    expect(existsSync(state)).toBe(false);
    const stillRefused = runCli(['dev', 'up', '--native', '--allow-remote', '--config', config], { SHARDLINE_STATE_DIR: state });
    expect(stillRefused.code).toBe(1);
    expect(stillRefused.stderr).toContain('error DEV_INSECURE_BIND');
    expect(stillRefused.stderr).toContain(
      'kafka would listen on 0.0.0.0, which is not loopback, and the dev broker always serves a PLAINTEXT listener',
    );
    expect(stillRefused.stderr).not.toContain('shard-0 would listen');
  });

  it('a state folder other users can write', () => {
    const state = path.join(dir, 'state-open');
    mkdirSync(state);
    chmodSync(state, 0o777);
    const result = runCli(['dev', 'up', '--native', '--config', configWith(() => undefined)], { SHARDLINE_STATE_DIR: state });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`error DEV_STATE_DIR_UNSAFE: the dev cluster's state folder ${state} is world-writable (mode 0777)`);
    expect(existsSync(path.join(state, 'run'))).toBe(false);
  });
});

it('a YAML syntax error in the config is reported without the offending line', () => {
  const secret = 'Hunter2-Cli-Secret';
  const file = path.join(dir, 'broken.yaml');
  writeFileSync(
    file,
    readFileSync(bundledClusterConfig, 'utf8').replace('password: ${SHARDLINE_APP_PASSWORD:-shardline}', `password: "${secret}\\q"`),
  );
  const result = runCli(['dev', 'status', '--config', file]);
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(
    /^error CONFIG_INVALID: cluster config .* is not valid YAML at line \d+, column \d+ \(under instances\.0\.password\): an invalid escape sequence/,
  );
  expect(result.stdout + result.stderr).not.toContain(secret);
});
