import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, openSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundledClusterConfig, packageRoot } from '../../src/config/index.js';

/** A cluster config of the test's own: the shared cluster, its own topics, groups, index prefix and archive database. */
export function writeCdcTestConfig(name: string, extra: { archiveDatabase?: string; batchMaxMs?: number; snapshot?: string } = {}): string {
  const base = readFileSync(bundledClusterConfig, 'utf8')
    .replaceAll('../.shardline', path.join(packageRoot, '.shardline'))
    .replace(/database: shardline_archive/, `database: ${extra.archiveDatabase ?? `${name}_archive`}`);
  const cdc = `
cdc:
  topicPrefix: "${name}."
  checkpointTopic: "${name}._checkpoints"
  deadLetterTopic: "${name}._dead_letters"
  signalTopic: "${name}._signals"
  assignmentTopic: "${name}._instances"
  groupPrefix: "${name}"
  partitions: 4
  batch: { maxEvents: 5000, maxMs: ${extra.batchMaxMs ?? 50} }
  shutdownTimeoutS: 20
  elasticsearch: { indexPrefix: "${name}-" }
${extra.snapshot ? `  snapshot: ${extra.snapshot}\n` : ''}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shardline-cdc-'));
  const file = path.join(dir, 'cluster.yaml');
  writeFileSync(file, `${base}\n${cdc}`);
  return file;
}

/** A `shardline cdc` process of the test. */
export class WorkerProcess {
  child: ChildProcess | null = null;
  readonly logFile: string;
  starts = 0;

  constructor(
    readonly configPath: string,
    readonly httpPort: number,
    readonly roles: string[] = [],
  ) {
    this.logFile = path.join(path.dirname(configPath), `worker-${httpPort}.log`);
  }

  start(): void {
    const fd = openSync(this.logFile, 'a');
    const args = [
      path.join(packageRoot, 'dist', 'cli', 'main.js'),
      'cdc',
      '--config',
      this.configPath,
      '--http-port',
      String(this.httpPort),
      ...(this.roles.length ? ['--role', ...this.roles] : []),
    ];
    this.child = spawn(process.execPath, args, {
      cwd: packageRoot,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, SHARDLINE_LOG_LEVEL: 'info' },
    });
    this.starts++;
  }

  /** Waits until /healthz answers with every listed instance being read. */
  async waitReading(instances: readonly string[], timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (this.child?.exitCode !== null && this.child?.exitCode !== undefined)
        throw new Error(`worker exited with ${this.child.exitCode}; log: ${this.log().slice(-3000)}`);
      try {
        const res = await fetch(`http://127.0.0.1:${this.httpPort}/healthz`);
        last = await res.text();
        const body = JSON.parse(last) as { reading: string[] };
        if (instances.every((i) => body.reading.includes(i))) return;
      } catch {
        /* not up yet */
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(
      `worker not reading ${instances.join(', ')} after ${timeoutMs} ms (last /healthz: ${last}); log: ${this.log().slice(-3000)}`,
    );
  }

  async metrics(): Promise<string> {
    return (await fetch(`http://127.0.0.1:${this.httpPort}/metrics`)).text();
  }

  signal(sig: NodeJS.Signals): void {
    this.child?.kill(sig);
  }

  kill9(): void {
    this.child?.kill('SIGKILL');
  }

  /** SIGTERM; resolves with the exit code and how long it took. */
  async stop(timeoutMs = 60_000): Promise<{ code: number | null; ms: number }> {
    const child = this.child;
    if (!child || child.exitCode !== null) return { code: child?.exitCode ?? null, ms: 0 };
    const started = Date.now();
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise<null>((r) => (timer = setTimeout(() => r(null), timeoutMs)))]);
    clearTimeout(timer);
    if (child.exitCode === null) child.kill('SIGKILL');
    return { code, ms: Date.now() - started };
  }

  async exited(): Promise<number | null> {
    const child = this.child;
    if (!child) return null;
    if (child.exitCode !== null) return child.exitCode;
    return new Promise((r) => child.once('exit', (code) => r(code)));
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }
}
