import type { Command } from 'commander';
import { TransactionStream, type StartPoint } from '../cdc/binlog/index.js';
import { changeEvents } from '../cdc/events/change-event.js';
import { UsageError, isShardlineError } from '../errors/index.js';
import { MariadbGtidState, MysqlGtidSet } from '../cdc/index.js';
import type { Logger } from '../log/logger.js';
import { redactSqlSecrets } from '../log/redact-sql-secrets.js';
import { Topology } from '../shard/index.js';
import { intFlag } from './cli-flags.js';
import { requireSections } from '../config/index.js';
import { loadCommandConfig } from './config-choice.js';
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

function startPoint(flags: DumpFlags, flavour: 'mysql' | 'mariadb'): StartPoint {
  const given = [flags.from, flags.fromGtid, flags.fromStart].filter((v) => v !== undefined && v !== false);
  if (given.length > 1) throw new UsageError('--from, --from-gtid and --from-start exclude each other');
  if (flags.fromStart) return 'start';
  if (flags.fromGtid !== undefined) {
    try {
      if (flavour === 'mysql') MysqlGtidSet.parse(flags.fromGtid);
      else MariadbGtidState.parse(flags.fromGtid);
    } catch (err) {
      if (!isShardlineError(err)) throw err;
      throw new UsageError(
        `--from-gtid expects a ${flavour === 'mysql' ? 'MySQL GTID set (uuid:1-5,…)' : 'MariaDB GTID position (domain-server-seq,…)'}: ${err.message}`,
        { cause: err },
      );
    }
    return { gtid: flags.fromGtid };
  }
  if (flags.from) {
    const m = /^(.+):(\d+)$/.exec(flags.from);
    if (!m) throw new UsageError(`--from expects FILE:POS, got "${flags.from}"`);
    if (m[1]!.length > 255 || /[/\\\0]/.test(m[1]!))
      throw new UsageError('--from expects a binlog file name as SHOW BINARY LOGS lists it (no path)');
    return { file: m[1]!, pos: intFlag('--from (position)', m[2]!, 4, 4294967295) };
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
    .option(
      '--server-id <id>',
      "this reader's replica server_id (unique on the source)",
      String(4_000_000_000 + (process.pid % 100_000_000)),
    )
    .action((flags: DumpFlags) =>
      runCommand(
        log,
        async () => {
          const serverId = intFlag('--server-id', flags.serverId, 1, 4294967295);
          const config = requireSections(loadCommandConfig(flags.config).config, ['replication'], 'shardline binlog');
          const inst = config.instances.find((i) => i.name === flags.instance);
          if (!inst)
            throw new UsageError(`no instance "${flags.instance}" in the config (have: ${config.instances.map((i) => i.name).join(', ')})`);
          const topology = new Topology(
            config.sharding,
            config.instances.map((i) => i.name),
          );
          const stream = new TransactionStream({
            instance: inst.name,
            endpoint: {
              name: inst.name,
              host: inst.host,
              port: inst.port,
              ...inst.replication,
              tls: inst.tls,
              serverPublicKey: inst.serverPublicKey,
            },
            replicaServerId: serverId,
            from: startPoint(flags, inst.flavour),
            untilNow: flags.untilNow ?? false,
            retry: { maxAttempts: 5 },
            onReconnect: ({ attempt, delayMs, error, resumeFrom }) =>
              log.warn({ attempt, delayMs, resumeFrom, err: error.message }, 'replication connection lost; reconnecting'),
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
                const changes = changeEvents(
                  item.event,
                  { instance: inst.name, flavour: inst.flavour, serverUuid: stream.facts?.serverUuid ?? null, gtid, commitUs, topology },
                  Date.now(),
                  rowBase,
                );
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
                await write(
                  `${item.event.file}:${item.event.pos} query ${item.event.database ? `${item.event.database}: ` : ''}${redactSecrets(item.event.sql)}`,
                );
              }
            }
          } finally {
            stream.close();
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
          }
        },
        { json: flags.json },
      ),
    );
}
