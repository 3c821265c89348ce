// bench:replica's CDC side: a `shardline cdc` worker of its own (its own topics, groups, index
// prefix and archive database) running through the planned failovers, then the count of source
// transactions it published more than once for the failovers' rows.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KafkajsEventLog, type ChangeEvent } from 'shardline/cdc';
import { loadClusterConfig } from 'shardline';
import { ALL_SECTIONS, requireSections, type CdcClusterConfig } from 'shardline/config';
import { dropArchiveDatabase, dropEsState, dropKafkaState, e2eNames, writeE2eConfig, type E2eNames } from './e2e-config.js';

const HTTP_PORT = 19481;

/** The bench's CDC worker. */
export class FailoverCdc {
  private constructor(
    private readonly child: ChildProcess,
    readonly config: CdcClusterConfig,
    readonly names: E2eNames,
    private readonly log: (m: string) => void,
  ) {}

  /** Starts the worker and waits until it reads every instance. */
  static async start(log: (m: string) => void): Promise<FailoverCdc> {
    const names = e2eNames(`bench_replica_${process.pid}`);
    const configPath = writeE2eConfig(names, { partitions: 4, batchMaxMs: 50, batchMaxEvents: 5000, bulkMaxDocs: 1000 });
    const config = requireSections(loadClusterConfig(configPath), ALL_SECTIONS, 'bench:replica');
    const root = path.resolve(import.meta.dirname, '..', '..');
    const fd = openSync(path.join(path.dirname(configPath), 'worker.log'), 'a');
    const child = spawn(
      process.execPath,
      [path.join(root, 'dist/cli/main.js'), 'cdc', '--config', configPath, '--http-port', String(HTTP_PORT)],
      {
        cwd: root,
        stdio: ['ignore', fd, fd],
        env: { ...process.env, SHARDLINE_LOG_LEVEL: 'info' },
      },
    );
    const cdc = new FailoverCdc(child, config, names, log);
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`the CDC worker exited with ${child.exitCode} (log ${path.dirname(configPath)}/worker.log)`);
      try {
        const body = (await (await fetch(`http://127.0.0.1:${HTTP_PORT}/healthz`)).json()) as { reading: string[] };
        if (config.instances.every((i) => body.reading.includes(i.name))) break;
      } catch {
        /* not up yet */
      }
      if (Date.now() > deadline) throw new Error('the CDC worker is not reading every instance after 90 s');
      await sleep(200);
    }
    log(`cdc worker reading every instance (topics ${names.topicPrefix}*)`);
    return cdc;
  }

  /**
   * Source transactions published more than once among the change events of `uids` (an insert
   * and a delete each: waits up to 120 s for all of them). Keyed by GTID, table, row key and operation: a
   * transaction read again from the new primary after a failover keeps its GTID.
   */
  async duplicates(uids: readonly bigint[]): Promise<{ duplicates: number; events: number; expected: number }> {
    const wanted = new Set(uids.map(String));
    const expected = 2 * wanted.size;
    const kafka = new KafkajsEventLog({ brokers: this.config.kafka.brokers, clientId: `${this.names.name}-count` });
    try {
      const deadline = Date.now() + 120_000;
      for (;;) {
        const seen = new Map<string, number>();
        let events = 0;
        for (const m of await kafka.readToEnd(`${this.names.topicPrefix}users`)) {
          if (!m.key || !wanted.has(m.key.toString('utf8')) || !m.value) continue;
          const e = JSON.parse(m.value.toString('utf8')) as ChangeEvent;
          const at = `${e.source.instance}/${e.source.gtid ?? `${e.source.file}:${e.source.pos}`}/${e.source.table}/${m.key.toString('utf8')}/${e.op}`;
          seen.set(at, (seen.get(at) ?? 0) + 1);
          events++;
        }
        if (seen.size >= expected || Date.now() > deadline) return { duplicates: events - seen.size, events, expected };
        await sleep(1000);
      }
    } finally {
      await kafka.close();
    }
  }

  /** Stops the worker and deletes its topics, groups, indices and archive database. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      await Promise.race([exited, sleep(40_000)]);
      if (this.child.exitCode === null) this.child.kill('SIGKILL');
    }
    await dropKafkaState(this.config, this.names, this.log).catch((e: Error) => this.log(`kafka clean-up: ${e.message}`));
    await dropEsState(this.config.elasticsearch.node, this.names, this.log).catch((e: Error) => this.log(`es clean-up: ${e.message}`));
    await dropArchiveDatabase(this.config, this.names, this.log).catch((e: Error) => this.log(`archive clean-up: ${e.message}`));
  }
}
