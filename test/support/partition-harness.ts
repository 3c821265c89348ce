import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { packageRoot } from '../../src/config/index.js';
import { NetnsPair } from './netns.js';
import { PrivateMariaDb } from './private-mariadb.js';

/** A MariaDB server in a namespace of its own, reached from a client namespace over veth. */
export class PartitionLab {
  readonly ns: NetnsPair;
  readonly server: PrivateMariaDb;

  constructor(tag?: string) {
    this.ns = new NetnsPair(tag);
    this.server = new PrivateMariaDb({ port: 3306, bindAddress: this.ns.serverAddress, netns: this.ns.server, serverId: 77 });
  }

  async up(): Promise<void> {
    this.ns.up();
    await this.server.start();
  }

  async down(): Promise<void> {
    await this.server.destroy();
    this.ns.down();
  }

  /**
   * Seconds from a silent partition until the client notices: `inflight` = a running query
   * fails; `idle` = the idle watch reports the connection dead.
   */
  async measure(
    layer: 'native' | 'js',
    mode: 'inflight' | 'idle',
    timeoutS = 90,
  ): Promise<{ seconds: number; event: string; detail: string }> {
    this.ns.heal();
    const script = path.join(packageRoot, 'test', 'support', 'partition-client.mjs');
    const child = spawn('ip', ['netns', 'exec', this.ns.client, process.execPath, script, this.ns.serverAddress, '3306', layer, mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines = createInterface({ input: child.stdout });
    const events: { event: string; message?: string; code?: string }[] = [];
    const waiters: (() => void)[] = [];
    lines.on('line', (l) => {
      try {
        events.push(JSON.parse(l));
      } catch {
        return;
      }
      for (const w of waiters.splice(0)) w();
    });
    const next = (deadlineMs: number) =>
      new Promise<{ event: string; message?: string; code?: string }>((resolve, reject) => {
        const check = () => {
          const e = events.shift();
          if (e) resolve(e);
          else waiters.push(check);
        };
        setTimeout(() => reject(new Error(`partition client: no event within ${deadlineMs} ms (${stderr.trim()})`)), deadlineMs).unref();
        check();
      });
    try {
      const ready = await next(20_000);
      if (ready.event !== 'ready') throw new Error(`partition client: ${JSON.stringify(ready)}`);
      await new Promise((r) => setTimeout(r, 500));
      const t0 = performance.now();
      this.ns.partition();
      const outcome = await next(timeoutS * 1000);
      return { seconds: (performance.now() - t0) / 1000, event: outcome.event, detail: outcome.code ?? outcome.message ?? '' };
    } finally {
      child.kill('SIGKILL');
    }
  }
}
