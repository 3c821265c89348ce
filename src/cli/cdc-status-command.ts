import type { Command } from 'commander';
import { requireSections, type ClusterConfig } from '../config/index.js';
import { CheckpointStore } from '../cdc/index.js';
import { KafkajsEventLog } from '../cdc/kafka/kafkajs-event-log.js';
import { SnapshotStore, type InstanceSnapshots } from '../cdc/snapshot/snapshot-store.js';
import { openMysqlSession } from '../net/index.js';
import type { Logger } from '../log/logger.js';
import { loadCommandConfig } from './config-choice.js';
import { runCommand } from './run-command.js';

/** One instance's CDC state as `cdc status` reports it. */
export interface InstanceStatus {
  instance: string;
  /** Where its reader resumes (the last committed checkpoint); null before the first start. */
  position: { file: string; pos: number; gtidSet: string | null } | null;
  /** The server's binlog end now; null when the server cannot be asked. */
  binlogEnd: { file: string; pos: number } | null;
  /** Bytes of binlog behind the end when both are in one file; null otherwise. */
  behindBytes: number | null;
  snapshot: {
    kind: string;
    request: string | null;
    tablesDone: number;
    tables: number;
    rows: number;
    rowsPerSecond: number;
    etaSeconds: number | null;
  } | null;
}

/** The snapshot part of an instance's status from its committed state (pure). */
export function snapshotStatus(s: InstanceSnapshots, now: number): InstanceStatus['snapshot'] {
  if (!s.state) return null;
  const { plan, progress } = s.state;
  let done = 0;
  let rows = 0;
  for (const p of progress.values()) {
    if (p.done) done++;
    rows += p.rows;
  }
  const seconds = Math.max(0.001, (now - plan.startedAtMs) / 1000);
  const tables = plan.tables.length;
  return {
    kind: plan.kind,
    request: plan.requestId ?? null,
    tablesDone: done,
    tables,
    rows,
    rowsPerSecond: Math.round(rows / seconds),
    etaSeconds: done === 0 ? null : Math.round((seconds * (tables - done)) / done),
  };
}

async function binlogEnd(config: ClusterConfig, name: string): Promise<{ file: string; pos: number } | null> {
  const inst = config.instances.find((i) => i.name === name)!;
  const account = inst.replication ?? { user: inst.user, password: inst.password };
  try {
    const s = await openMysqlSession({
      host: inst.host,
      port: inst.port,
      ...account,
      tls: inst.tls,
      serverPublicKey: inst.serverPublicKey,
    });
    try {
      let rows: Record<string, unknown>[];
      try {
        rows = await s.query('SHOW BINARY LOG STATUS');
      } catch {
        rows = await s.query('SHOW MASTER STATUS');
      }
      return rows[0] ? { file: String(rows[0]['File']), pos: Number(rows[0]['Position']) } : null;
    } finally {
      await s.close();
    }
  } catch {
    return null;
  }
}

/** `shardline cdc status`: per instance, the reading position, how far behind, and snapshot progress. */
export function registerCdcStatusCommand(cdc: Command, log: Logger): void {
  cdc
    .command('status')
    .description('per instance: the committed reading position, how far behind the binlog end, and snapshot progress')
    .option('--config <file>', 'cluster config')
    .option('--json', 'print { instances: [...] } as JSON')
    // The parent `cdc` command has --config and --json too: commander gives them to it, so read both levels.
    .action((_opts: { config?: string; json?: boolean }, command: Command) => {
      const flags = command.optsWithGlobals<{ config?: string; json?: boolean }>();
      return runCommand(
        log,
        async () => {
          const { config: loaded } = loadCommandConfig(flags.config);
          const config = requireSections(loaded, ['kafka'], 'shardline cdc status');
          const names = config.instances.map((i) => i.name);
          const eventLog = new KafkajsEventLog({
            brokers: config.kafka.brokers,
            clientId: `${config.kafka.clientId}-status`,
            logger: log,
            security: config.kafka,
          });
          try {
            const partitionOf = (i: string) => names.indexOf(i);
            const checkpoints = await new CheckpointStore(eventLog, config.cdc.checkpointTopic, partitionOf).loadAll(names);
            const snapshots = new SnapshotStore(eventLog, config.cdc.checkpointTopic, partitionOf);
            const out: InstanceStatus[] = [];
            for (const name of names) {
              const cp = checkpoints.get(name) ?? null;
              const end = await binlogEnd(config, name);
              out.push({
                instance: name,
                position: cp ? { file: cp.file, pos: cp.pos, gtidSet: cp.gtidSet } : null,
                binlogEnd: end,
                behindBytes: cp && end && cp.file === end.file ? Math.max(0, end.pos - cp.pos) : null,
                snapshot: snapshotStatus(await snapshots.loadInstance(name), Date.now()),
              });
            }
            if (flags.json) process.stdout.write(`${JSON.stringify({ instances: out })}\n`);
            else
              for (const s of out) {
                const pos = s.position ? `${s.position.file}:${s.position.pos}` : 'not started';
                const behind = s.behindBytes === null ? '' : `, ${s.behindBytes} bytes behind`;
                const snap = s.snapshot
                  ? `; snapshot ${s.snapshot.kind} ${s.snapshot.tablesDone}/${s.snapshot.tables} tables, ${s.snapshot.rows} rows, ${s.snapshot.rowsPerSecond} rows/s${s.snapshot.etaSeconds === null ? '' : `, ETA ${s.snapshot.etaSeconds} s`}`
                  : '';
                process.stdout.write(`${s.instance}: ${pos}${behind}${snap}\n`);
              }
            return 0;
          } finally {
            await eventLog.close();
          }
        },
        { json: flags.json },
      );
    });
}
