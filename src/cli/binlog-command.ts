import type { Command } from 'commander';
import { loadClusterConfig, resolveConfigPath } from '../config/index.js';
import { TransactionStream, type StartPoint } from '../cdc/binlog/index.js';
import { changeEvents } from '../cdc/events/change-event.js';
import { UsageError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { redactSqlSecrets } from '../log/redact-sql-secrets.js';
import { Topology } from '../shard/index.js';
import { runCommand } from './run-command.js';

interface DumpFlags {
  config?: string;
  instance: string;
  from?: string;
  fromGtid?: string;
  fromStart?: boolean;
  untilNow?: boolean;
  json?: boolean;
  serverId: string;
}

function startPoint(flags: DumpFlags): StartPoint {
  const given = [flags.from, flags.fromGtid, flags.fromStart].filter((v) => v !== undefined && v !== false);
  if (given.length > 1) throw new UsageError('--from, --from-gtid and --from-start exclude each other');
  if (flags.fromStart) return 'start';
  if (flags.fromGtid) return { gtid: flags.fromGtid };
  if (flags.from) {
    const m = /^(.+):(\d+)$/.exec(flags.from);
    if (!m) throw new UsageError(`--from expects FILE:POS, got "${flags.from}"`);
    return { file: m[1]!, pos: Number(m[2]) };
  }
  return 'current';
}

/**
 * Account and replication statements in the binlog can carry passwords (MariaDB logs them as
 * written): see {@link redactSqlSecrets}.
 */
export const redactSecrets = redactSqlSecrets;

/** `shardline binlog dump`: the operator's decoded binlog. */
export function registerBinlogCommands(program: Command, log: Logger): void {
  const binlog = program.command('binlog').description('read the binary log of a shard instance');
  binlog
    .command('dump')
    .description('print decoded row changes (one JSON change event per line with --json)')
    .requiredOption('--instance <name>', 'instance name from the cluster config')
    .option('--config <file>', 'cluster config')
    .option('--from <file:pos>', 'start at a binlog file and position')
    .option('--from-gtid <set>', 'start after a GTID set (MySQL uuid:1-5, MariaDB domain-server-seq)')
    .option('--from-start', 'start at the oldest binlog the server has')
    .option('--until-now', 'stop at the end of the binlog as it stood when the command started')
    .option('--json', 'one change event per line')
    .option('--server-id <id>', 'this reader\'s replica server_id (unique on the source)', String(4_000_000_000 + (process.pid % 100_000_000)))
    .action((flags: DumpFlags) =>
      runCommand(log, async () => {
        const config = loadClusterConfig(resolveConfigPath(flags.config));
        const inst = config.instances.find((i) => i.name === flags.instance);
        if (!inst) throw new UsageError(`no instance "${flags.instance}" in the config (have: ${config.instances.map((i) => i.name).join(', ')})`);
        const serverId = Number(flags.serverId);
        if (!Number.isInteger(serverId) || serverId < 1 || serverId > 4294967295) throw new UsageError(`--server-id must be 1 … 4294967295, got ${flags.serverId}`);
        const topology = new Topology(config.sharding, config.instances.map((i) => i.name));
        const stream = new TransactionStream({
          instance: inst.name,
          endpoint: { name: inst.name, host: inst.host, port: inst.port, ...inst.replication, tls: inst.tls, serverPublicKey: inst.serverPublicKey },
          replicaServerId: serverId,
          from: startPoint(flags),
          untilNow: flags.untilNow ?? false,
          retry: { maxAttempts: 5 },
          onReconnect: ({ attempt, delayMs, error, resumeFrom }) => log.warn({ attempt, delayMs, resumeFrom, err: error.message }, 'replication connection lost; reconnecting'),
        });
        const stop = () => stream.close();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        let gtid: string | null = null;
        let commitUs: bigint | null = null;
        let lastPos = -1;
        let rowBase = 0;
        const out = process.stdout;
        const write = async (line: string) => {
          if (!out.write(`${line}\n`) && out.writableNeedDrain) await new Promise((r) => out.once('drain', r));
        };
        try {
          for await (const item of stream.items()) {
            if (item.type === 'begin') {
              gtid = item.gtid;
              commitUs = item.commitUs;
            } else if (item.type === 'rows') {
              rowBase = item.event.pos === lastPos ? rowBase : 0;
              lastPos = item.event.pos;
              const changes = changeEvents(item.event, { instance: inst.name, flavour: inst.flavour, serverUuid: stream.facts?.serverUuid ?? null, gtid, commitUs, topology }, Date.now(), rowBase);
              rowBase += changes.length;
              for (const change of changes) {
                await write(
                  flags.json
                    ? JSON.stringify(change)
                    : `${change.source.file}:${change.source.pos} ${change.op} ${change.source.db}.${change.source.table}${change.source.logical_table ? ` (${change.source.logical_table} #${change.source.shard})` : ''} gtid=${change.source.gtid} ${JSON.stringify(change.op === 'd' ? change.before : change.after)}`,
                );
              }
            } else if (item.type === 'abort') {
              process.stderr.write(`# ${item.reason}: the transaction is read again from its start\n`);
            } else if (!flags.json && item.type === 'query') {
              await write(`${item.event.file}:${item.event.pos} query ${item.event.database ? `${item.event.database}: ` : ''}${redactSecrets(item.event.sql)}`);
            }
          }
        } finally {
          stream.close();
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
      }),
    );
}
