/**
 * The sink side of `bench:stream`: a real worker with one sink role (`--role elasticsearch` or
 * `--role archive`) drains a change topic the reader run has just filled, from its first offset,
 * with nothing else of shardline running — the sink's own CPU per row, without the source's load
 * that `bench:e2e` puts next to it. The span: from the worker's metrics endpoint first answering
 * (started: topics checked, before the sink's group has joined) to the last record applied
 * (`shardline_sink_records_total`), so the group join, the index or table set-up and every batch
 * are in it and the process start-up is not; the worker's CPU and the target service's
 * (Elasticsearch's JVM, the archive's mysqld) from /proc over that span.
 */
import { spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { metric, parseMetrics, procCpuSeconds, procMemory } from './e2e-probe.js';
import { hostSpan, round, type SideRun } from './stats.js';

/** Which sink a run drains into. */
export type SinkRole = 'elasticsearch' | 'archive';

/** What one sink run measured. */
export interface SinkRun extends SideRun {
  sink: SinkRole;
  /** CPU of the service the sink writes to (Elasticsearch's JVM, the archive's mysqld) per row, µs. */
  service_cpu_us_per_row: number | null;
  worker_rss_mb: number;
}

/** How to start and watch one sink worker. */
export interface SinkRunOptions {
  sink: SinkRole;
  root: string;
  configPath: string;
  table: string;
  expected: number;
  httpPort: number;
  /** PID of the service the sink writes to, when known (native cluster). */
  servicePid: number | undefined;
  nodeArgs: readonly string[];
  timeoutS: number;
}

/** Drains the topic into one sink with a worker of that role only; throws unless exactly `expected` records are applied. */
export async function sinkRun(o: SinkRunOptions): Promise<SinkRun> {
  const logFile = path.join(path.dirname(o.configPath), `${o.sink}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(
    process.execPath,
    [
      ...o.nodeArgs,
      path.join(o.root, 'dist/cli/main.js'),
      'cdc',
      '--config',
      o.configPath,
      '--role',
      o.sink,
      '--http-port',
      String(o.httpPort),
    ],
    { cwd: o.root, stdio: ['ignore', fd, fd], env: { ...process.env, SHARDLINE_LOG_LEVEL: 'warn' } },
  );
  const pid = child.pid!;
  const servicePid = o.servicePid;
  try {
    let t0 = 0;
    let t1 = 0;
    let n0 = 0;
    let applied = 0;
    let [cpu0, cpu1, svc0, svc1] = [0, 0, 0, 0];
    let peakRss = 0;
    let host: ReturnType<typeof hostSpan> | undefined;
    let last = '';
    const deadline = performance.now() + o.timeoutS * 1000;
    while (performance.now() < deadline) {
      if (child.exitCode !== null)
        throw new Error(
          `the ${o.sink} worker exited with ${child.exitCode}; log ${logFile}:\n${readFileSync(logFile, 'utf8').slice(-3000)}`,
        );
      let m: Map<string, number>;
      try {
        m = parseMetrics(await (await fetch(`http://127.0.0.1:${o.httpPort}/metrics`)).text());
      } catch {
        await sleep(100);
        continue;
      }
      const now = performance.now();
      applied = metric(m, 'shardline_sink_records_total', { sink: o.sink, table: o.table });
      last = [...m]
        .filter(([k]) => k.includes('sink'))
        .map(([k, v]) => `${k} ${v}`)
        .join('\n');
      const dead = metric(m, 'shardline_sink_dead_letters_total', { sink: o.sink });
      if (dead > 0) throw new Error(`the ${o.sink} sink sent ${dead} records to the dead-letter topic; log ${logFile}`);
      if (!t0) {
        [t0, n0, cpu0] = [now, applied, procCpuSeconds(pid)];
        svc0 = servicePid ? procCpuSeconds(servicePid) : 0;
        host = hostSpan();
      }
      if (applied >= o.expected) {
        [t1, cpu1] = [now, procCpuSeconds(pid)];
        svc1 = servicePid ? procCpuSeconds(servicePid) : 0;
        break;
      }
      const mem = procMemory(pid);
      if (mem) peakRss = Math.max(peakRss, mem.rssMb, mem.hwmMb);
      await sleep(100);
    }
    if (!t1)
      throw new Error(
        `the ${o.sink} sink applied ${applied} of ${o.expected} records in ${o.timeoutS} s; its sink metrics:\n${last}\nlog ${logFile}:\n${readFileSync(logFile, 'utf8').slice(-3000)}`,
      );
    if (applied !== o.expected) throw new Error(`the ${o.sink} sink applied ${applied} records, expected ${o.expected}`);
    const rows = applied - n0;
    if (n0 > 0) throw new Error(`the ${o.sink} sink applied ${n0} records before its metrics answered: cannot time it`);
    const seconds = (t1 - t0) / 1000;
    return {
      sink: o.sink,
      rows,
      seconds: round(seconds, 2),
      rows_per_s: Math.round(rows / seconds),
      cpu_us_per_row: round(((cpu1 - cpu0) * 1e6) / rows, 1),
      service_cpu_us_per_row: servicePid ? round(((svc1 - svc0) * 1e6) / rows, 1) : null,
      ...host!(),
      worker_rss_mb: round(peakRss, 1),
    };
  } finally {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(30_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }
}
