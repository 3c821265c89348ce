import type { Command } from 'commander';
import { requireSections } from '../config/index.js';
import { capturedTables } from '../cdc/worker.js';
import { KafkajsEventLog } from '../cdc/kafka/kafkajs-event-log.js';
import { newSnapshotRequest, requestMessage } from '../cdc/snapshot/snapshot-request.js';
import { SnapshotStore } from '../cdc/snapshot/snapshot-store.js';
import { UsageError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { Topology } from '../shard/index.js';
import { intFlag } from './cli-flags.js';
import { loadCommandConfig } from './config-choice.js';
import { createProgress } from './progress-bar.js';
import { runCommand } from './run-command.js';

interface SnapshotFlags {
  config?: string;
  table?: string;
  shards?: string;
  instance?: string;
  wait?: boolean;
  json?: boolean;
}

/** Parses `--shards A-B` (or a single shard) within the configured shard count. */
export function parseShardRange(value: string, shardCount: number): [number, number] {
  const m = /^\s*(\d{1,6})\s*(?:-\s*(\d{1,6}))?\s*$/.exec(value);
  if (!m) throw new UsageError(`--shards expects A-B or N (0 … ${shardCount - 1}), got "${value.slice(0, 40)}"`);
  const from = intFlag('--shards', m[1]!, 0, shardCount - 1);
  const to = m[2] === undefined ? from : intFlag('--shards', m[2], 0, shardCount - 1);
  if (to < from) throw new UsageError(`--shards ${value}: the range ends before it starts`);
  return [from, to];
}

/** `shardline cdc snapshot`: asks the running workers to re-read a table's physical tables. */
export function registerCdcSnapshotCommand(cdc: Command, log: Logger): void {
  cdc
    .command('snapshot')
    .description('ask the running CDC workers to re-read a logical table (all its shards, a range, or one instance) as r events')
    .option('--config <file>', 'cluster config')
    .option('--table <name>', 'the logical table to re-read')
    .option('--shards <A-B>', 'only these shards (inclusive)')
    .option('--instance <name>', 'only the tables on this instance')
    .option('--wait', 'wait until every instance concerned has finished (progress on a terminal)')
    .option('--json', 'print one JSON object { table, shards, rows, chunks, seconds } (errors as JSON too)')
    // The parent `cdc` command has --config and --json too: commander gives them to it, so read both levels.
    .action((_opts: SnapshotFlags, command: Command) => {
      const flags = command.optsWithGlobals<SnapshotFlags>();
      return runCommand(
        log,
        async () => {
          if (!flags.table) throw new UsageError('--table is required');
          const { config: loaded } = loadCommandConfig(flags.config);
          const config = requireSections(loaded, ['kafka'], 'shardline cdc snapshot');
          const tables = capturedTables(config);
          if (!tables.includes(flags.table))
            throw new UsageError(`--table ${flags.table}: not a captured table (captured: ${tables.join(', ') || 'none'})`);
          const topology = new Topology(
            config.sharding,
            config.instances.map((i) => i.name),
          );
          const sharded = topology.table(flags.table)?.kind === 'sharded';
          const range = flags.shards === undefined ? null : parseShardRange(flags.shards, topology.shardCount);
          if (range && !sharded) throw new UsageError(`--shards: ${flags.table} is not a sharded table`);
          const names = config.instances.map((i) => i.name);
          if (flags.instance !== undefined && !names.includes(flags.instance))
            throw new UsageError(`--instance ${flags.instance}: not an instance of the config (${names.join(', ')})`);
          const [from, to] = range ?? [0, topology.shardCount - 1];
          let targets: string[];
          if (sharded) {
            const owners = new Set<string>();
            for (let s = from; s <= to; s++) owners.add(topology.map.instanceOf(s));
            targets = names.filter((n) => owners.has(n));
          } else if (topology.table(flags.table)?.kind === 'broadcast') targets = [names[0]!];
          else targets = names;
          if (flags.instance !== undefined) targets = targets.filter((n) => n === flags.instance);
          if (targets.length === 0) throw new UsageError(`--instance ${flags.instance}: it owns none of shards ${from}-${to}`);

          const eventLog = new KafkajsEventLog({
            brokers: config.kafka.brokers,
            clientId: `${config.kafka.clientId}-snapshot`,
            logger: log,
            security: config.kafka,
          });
          try {
            const cdc = config.cdc;
            await eventLog.ensureTopics([
              { topic: cdc.signalTopic, partitions: 1, replicationFactor: cdc.replicationFactor, compacted: true },
            ]);
            const request = newSnapshotRequest(flags.table, range, flags.instance ?? null);
            await eventLog.send([requestMessage(cdc.signalTopic, request)]);
            const shards = sharded ? `${from}-${to}` : null;
            if (!flags.wait) {
              const out = { request: request.id, table: flags.table, shards, instances: targets };
              process.stdout.write(
                flags.json ? `${JSON.stringify(out)}\n` : `snapshot of ${flags.table} requested (${request.id}) on ${targets.join(', ')}\n`,
              );
              return 0;
            }
            const store = new SnapshotStore(eventLog, cdc.checkpointTopic, (i) => names.indexOf(i));
            const progress = createProgress(`snapshot ${flags.table}`, log);
            const t0 = Date.now();
            for (;;) {
              const done = (await store.done(request.id)).filter((d) => targets.includes(d.instance));
              const rows = done.reduce((n, d) => n + d.rows, 0);
              progress.update(done.length, targets.length, `instances, ${rows} rows`);
              if (done.length === targets.length) {
                const seconds = Math.round((Date.now() - t0) / 100) / 10;
                const chunks = done.reduce((n, d) => n + d.chunks, 0);
                progress.finish(`snapshot ${flags.table} done`);
                const out = { table: flags.table, shards, rows, chunks, seconds };
                process.stdout.write(
                  flags.json
                    ? `${JSON.stringify(out)}\n`
                    : `snapshot of ${flags.table}${shards ? ` (shards ${shards})` : ''}: ${rows} rows in ${chunks} chunks, ${seconds} s\n`,
                );
                return 0;
              }
              await new Promise((r) => setTimeout(r, 1000));
            }
          } finally {
            await eventLog.close();
          }
        },
        { json: flags.json },
      );
    });
}
