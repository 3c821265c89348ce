import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from '@jest/globals';
import mysql from 'mysql2/promise';
import type { Router } from '../../src/index.js';
import { packageRoot } from '../../src/config/index.js';

/** What test/support/failover-workload-child.mjs reports when stopped. */
export interface Workload {
  acked: string[];
  errors: Record<string, number>;
  lastError: string | null;
  fatal: string[];
  maxGapMs: number;
  reads: number;
  readFailures: number;
}

/** The workload child (a router in another process writing and reading through a failover), with `mark()`: how many writes it had acknowledged when asked. */
export function startWorkload(instance: string, firstUid: bigint) {
  const child = spawn(
    process.execPath,
    [path.join(packageRoot, 'test/support/failover-workload-child.mjs'), path.join(packageRoot, 'dist'), instance, String(firstUid)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const ready = (async () => {
    while (!out.includes('ready\n')) await sleep(20);
  })();
  let marks = 0;
  const mark = async (): Promise<number> => {
    const n = ++marks;
    child.stdin!.write('mark\n');
    const deadline = performance.now() + 10_000;
    for (;;) {
      const seen = [...out.matchAll(/^mark (\d+)$/gm)];
      if (seen.length >= n) return Number(seen[n - 1]![1]);
      if (performance.now() > deadline) throw new Error('the workload did not answer mark');
      await sleep(10);
    }
  };
  let stopped: Promise<Workload> | null = null;
  const stop = (): Promise<Workload> =>
    (stopped ??= (async () => {
      const exited = new Promise((r) => child.once('exit', r));
      if (child.exitCode === null) child.stdin!.write('stop\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
      return JSON.parse(out.trim().split('\n').pop()!) as Workload;
    })());
  return { ready, mark, stop };
}

/** Root on one node of the dev cluster. */
export async function onNode<T>(port: number, fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', password: '', connectTimeout: 3000 });
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** How many of `uids` the node at `port` holds (each in its physical table). */
export async function countOn(router: Router, port: number, instance: string, uids: string[]): Promise<{ rows: number }> {
  const byTable = new Map<string, string[]>();
  for (const u of uids) {
    const loc = router.topology.locate(BigInt(u));
    expect(loc.instance).toBe(instance);
    const t = `\`${loc.database}\`.\`${router.topology.names.table('users', loc.shard)}\``;
    byTable.set(t, [...(byTable.get(t) ?? []), u]);
  }
  return onNode(port, async (c) => {
    let rows = 0;
    for (const [table, list] of byTable) {
      for (let i = 0; i < list.length; i += 1000) {
        const part = list.slice(i, i + 1000);
        const [r] = await c.query(`SELECT COUNT(*) AS n FROM ${table} WHERE uid IN (${part.map(() => '?').join(',')})`, part);
        rows += Number((r as { n: number }[])[0]!.n);
      }
    }
    return { rows };
  });
}
