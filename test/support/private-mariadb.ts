import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openMysqlSession } from '../../src/net/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Options of a throwaway MariaDB server for fault tests. */
export interface PrivateMariaDbOptions {
  port: number;
  bindAddress?: string;
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
  serverId?: number;
  /** More server options, e.g. `--log-bin`. */
  extraArgs?: string[];
}

/**
 * A MariaDB server of the test's own (its own datadir, port and socket), that a fault test may
 * kill -9, restart or cut off without touching the shared local cluster.
 */
export class PrivateMariaDb {
  readonly dir: string;
  pid = 0;

  constructor(readonly options: PrivateMariaDbOptions) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'shardline-chaos-'));
  }

  get socket(): string {
    return path.join(this.dir, 'sock');
  }

  async start(): Promise<void> {
    if (!existsSync(path.join(this.dir, 'data', 'mysql'))) {
      execFileSync(
        'mariadb-install-db',
        [
          '--no-defaults',
          `--datadir=${path.join(this.dir, 'data')}`,
          '--user=root',
          '--auth-root-authentication-method=normal',
          '--skip-test-db',
        ],
        { stdio: 'ignore' },
      );
    }
    const args = [
      '--no-defaults',
      `--datadir=${path.join(this.dir, 'data')}`,
      `--port=${this.options.port}`,
      `--bind-address=${this.options.bindAddress ?? '127.0.0.1'}`,
      `--socket=${this.socket}`,
      `--pid-file=${path.join(this.dir, 'pid')}`,
      '--user=root',
      `--server-id=${this.options.serverId ?? 99}`,
      `--log-error=${path.join(this.dir, 'err.log')}`,
      '--innodb-buffer-pool-size=32M',
      '--performance-schema=OFF',
      ...(this.options.extraArgs ?? []),
    ];
    const [cmd, argv] = this.options.netns
      ? ['ip', ['netns', 'exec', this.options.netns, '/usr/sbin/mariadbd', ...args]]
      : ['/usr/sbin/mariadbd', args];
    const child = spawn(cmd as string, argv as string[], { detached: true, stdio: 'ignore' });
    child.unref();
    this.pid = child.pid!;
    for (let i = 0; i < 200; i++) {
      try {
        const s = await openMysqlSession({ socketPath: this.socket, user: 'root', password: '', connectTimeoutMs: 500 });
        await s.query("CREATE USER IF NOT EXISTS 'shardline'@'%' IDENTIFIED BY 'shardline'");
        await s.query("GRANT ALL PRIVILEGES ON *.* TO 'shardline'@'%'");
        await s.close();
        return;
      } catch {
        await sleep(100);
      }
    }
    throw new Error(`private MariaDB on port ${this.options.port} did not start; see ${path.join(this.dir, 'err.log')}`);
  }

  /** kill -9: the kernel resets its connections. */
  kill9(): void {
    if (this.pid) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      waitGone(this.pid);
    }
    this.pid = 0;
  }

  async stop(): Promise<void> {
    if (this.pid) {
      try {
        process.kill(this.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      for (let i = 0; i < 300 && alive(this.pid); i++) await sleep(50);
      this.kill9();
    }
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return spawnSync('grep', ['-q', '^State:.*Z', `/proc/${pid}/status`]).status !== 0;
  } catch {
    return false;
  }
}

function waitGone(pid: number): void {
  for (let i = 0; i < 200 && alive(pid); i++) spawnSync('sleep', ['0.02']);
}
