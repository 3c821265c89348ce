import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { DevClusterError } from '../../errors/index.js';
import { openMysqlSession, type MysqlSession } from '../../net/index.js';
import { bootstrapAccounts } from '../bootstrap-accounts.js';
import { probeService, probeSql, type Health } from '../health.js';
import { caughtUp, ensureReplication, readReplicationState, replicationHealth } from '../replica-setup.js';
import { rejoinAsReplica } from '../rejoin.js';
import type { RejoinStep } from '../rejoin-plan.js';
import type { ServiceSpec } from '../service-spec.js';
import type { StateDir } from '../state-dir.js';
import { installComponent } from './install.js';
import type { NativeService } from './native-service.js';
import { run, spawnDetached } from './spawn.js';

interface Launcher {
  /** The executable to run and the arguments that precede mysqld's own. */
  command: string;
  prefix: string[];
  /** Server options that locate its files (basedir, messages, plugins). */
  locate: string[];
}

/**
 * A sharded instance holds hundreds of physical tables per logical table and a scatter query
 * opens hundreds at once: size the table caches for that, or every query thrashes them
 * (measured: 100 ms per 256-table UNION with the defaults' 250-slot partitions, and it grows
 * with concurrency).
 */
export const SHARD_FLEET_TUNING = [
  '--table-open-cache=16384',
  '--table-open-cache-instances=4',
  '--table-definition-cache=8192',
  '--open-files-limit=65535',
];

/**
 * MySQL 8's parallel clustered-index read makes every COUNT(*) start reader threads: about
 * 1.4 ms on a table of ten rows, 104 ms for a 256-table scatter (6 ms with one thread).
 */
export const MYSQL_SHARD_TUNING = ['--innodb-parallel-read-threads=1'];

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** The binlog and GTID settings every shard runs with (the CDC worker's preconditions). */
export function replicationFlags(spec: ServiceSpec, dataDir: string): string[] {
  const common = [
    `--server-id=${spec.sql!.serverId}`,
    `--log-bin=${path.join(dataDir, 'binlog')}`,
    '--binlog-format=ROW',
    '--binlog-row-image=FULL',
    '--binlog-row-metadata=FULL',
  ];
  const primary =
    spec.kind === 'mariadb'
      ? [...common, '--gtid-strict-mode=ON', '--log-slave-updates=ON']
      : [...common, '--gtid-mode=ON', '--enforce-gtid-consistency=ON'];
  return spec.role === 'replica' ? [...primary, ...readReplicaFlags(spec, dataDir)] : primary;
}

/**
 * What a read replica adds: the transactions it applies go to its own binlog (it can become the
 * primary, or a CDC source), nobody writes locally (MySQL's `super_read_only` holds even for
 * accounts with SUPER; MariaDB's `read_only` binds all but READ_ONLY ADMIN, which the app
 * account does not hold), relay logs named after the datadir rather than the host. Replication
 * starts by itself when the server restarts (`dev up` configures it once; see replica-setup.ts).
 */
export function readReplicaFlags(spec: ServiceSpec, dataDir: string): string[] {
  const relay = [`--relay-log=${path.join(dataDir, 'relay')}`, '--read-only=ON'];
  return spec.kind === 'mariadb' ? relay : [...relay, '--log-replica-updates=ON', '--super-read-only=ON'];
}

/** MySQL (8.0 tarball or 9.7 from Debian sid) and MariaDB (the system's package) servers. */
export class MysqlFamilyService implements NativeService {
  readonly logFile: string;
  private launcher: Launcher | undefined;
  private readonly dataDir: string;
  private readonly socket: string;

  constructor(
    readonly spec: ServiceSpec,
    private readonly dir: StateDir,
  ) {
    this.logFile = path.join(dir.logs, `${spec.name}.log`);
    this.dataDir = dir.data(spec.name);
    this.socket = dir.socket(spec.name);
  }

  async install(): Promise<string[]> {
    if (this.spec.kind === 'mariadb') {
      const mariadbd = ['/usr/sbin/mariadbd', '/usr/bin/mariadbd'].find((p) => existsSync(p));
      if (!mariadbd) {
        throw new DevClusterError(
          'DEV_INSTALL_FAILED',
          `${this.spec.name}: MariaDB server binaries not found (Debian: apt-get install mariadb-server)`,
        );
      }
      this.launcher = { command: mariadbd, prefix: [], locate: [] };
      return [];
    }
    if (this.spec.plannedVersion.startsWith('9.')) {
      try {
        const root = await installComponent('mysql97');
        const lib = path.join(root, 'usr/lib/x86_64-linux-gnu');
        this.launcher = {
          command: path.join(lib, 'ld-linux-x86-64.so.2'),
          prefix: ['--library-path', lib, path.join(root, 'usr/sbin/mysqld')],
          locate: [
            `--basedir=${path.join(root, 'usr')}`,
            `--lc-messages-dir=${path.join(root, 'usr/share/mysql')}`,
            `--character-sets-dir=${path.join(root, 'usr/share/mysql/charsets')}`,
            `--plugin-dir=${path.join(root, 'usr/lib/mysql/plugin')}`,
          ],
        };
        return [];
      } catch (err) {
        await this.useMysql80();
        return [
          `${this.spec.name}: MySQL ${this.spec.plannedVersion} is not available here, running MySQL 8.0 instead (${(err as Error).message.split('\n').pop()})`,
        ];
      }
    }
    await this.useMysql80();
    return [];
  }

  private async useMysql80(): Promise<void> {
    const base = await installComponent('mysql80');
    this.launcher = {
      command: path.join(base, 'bin/mysqld'),
      prefix: [],
      locate: [`--basedir=${base}`, `--lc-messages-dir=${path.join(base, 'share')}`],
    };
  }

  private get l(): Launcher {
    if (!this.launcher) throw new Error(`${this.spec.name}: install() must run first`);
    return this.launcher;
  }

  async version(): Promise<string> {
    const out = await run(this.l.command, [...this.l.prefix, '--version']);
    const m = /Ver\s+(\S+)/.exec(out.stdout);
    return (m?.[1] ?? 'unknown').replace(/-(log|debug)$/, '');
  }

  /** A temporary directory of this server's own (instances initialised in parallel never share temp files). */
  private get tmpDir(): string {
    const dir = path.join(this.dir.root, 'tmp', this.spec.name);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  async prepare(): Promise<void> {
    mkdirSync(path.dirname(this.dataDir), { recursive: true });
    if (existsSync(path.join(this.dataDir, 'mysql'))) return;
    const user = asRoot ? ['--user=root'] : [];
    const result =
      this.spec.kind === 'mariadb'
        ? await run('mariadb-install-db', [
            '--no-defaults',
            `--datadir=${this.dataDir}`,
            ...user,
            '--auth-root-authentication-method=normal',
            '--skip-test-db',
            `--tmpdir=${this.tmpDir}`,
          ])
        : await run(this.l.command, [
            ...this.l.prefix,
            '--no-defaults',
            '--initialize-insecure',
            ...user,
            ...this.l.locate,
            `--datadir=${this.dataDir}`,
            '--innodb-redo-log-capacity=8M',
            `--tmpdir=${this.tmpDir}`,
            `--log-error=${this.logFile}`,
          ]);
    if (result.code !== 0) {
      throw new DevClusterError(
        'DEV_START_FAILED',
        `${this.spec.name}: initialising ${this.dataDir} failed (exit ${result.code}): ${result.stderr.trim().split('\n').slice(-5).join(' | ')}`,
      );
    }
  }

  async start(): Promise<number> {
    const files = path.join(this.dir.root, 'files', this.spec.name);
    mkdirSync(files, { recursive: true });
    const args = [
      ...this.l.prefix,
      '--no-defaults',
      ...(asRoot ? ['--user=root'] : []),
      ...this.l.locate,
      `--datadir=${this.dataDir}`,
      `--port=${this.spec.port}`,
      `--bind-address=${this.spec.host}`,
      `--socket=${this.socket}`,
      `--pid-file=${path.join(this.dir.run, `${this.spec.name}.mysqld.pid`)}`,
      `--log-error=${this.logFile}`,
      `--secure-file-priv=${files}`,
      `--tmpdir=${this.tmpDir}`,
      '--performance-schema=OFF',
      '--innodb-buffer-pool-size=64M',
      '--max-connections=500',
      ...SHARD_FLEET_TUNING,
      ...(this.spec.kind === 'mysql' ? ['--mysqlx=OFF', '--innodb-redo-log-capacity=8M', ...MYSQL_SHARD_TUNING] : []),
      ...replicationFlags(this.spec, this.dataDir),
      ...(this.spec.tls ? [`--ssl-ca=${this.spec.tls.ca}`, `--ssl-cert=${this.spec.tls.cert}`, `--ssl-key=${this.spec.tls.key}`] : []),
    ];
    return spawnDetached(this.l.command, args, { logFile: this.logFile });
  }

  ready(): Promise<Health> {
    return probeSql({ socketPath: this.socket, user: 'root', password: '' });
  }

  private rootSession(): Promise<MysqlSession> {
    return openMysqlSession({ socketPath: this.socket, user: 'root', password: '' });
  }

  /** Shards: the accounts. Replicas: replication from the primary (the accounts come by replication). */
  async bootstrap(): Promise<void> {
    const session = await this.rootSession();
    try {
      const primary = this.spec.replicaOf?.name;
      if (primary) {
        await ensureReplication(
          this.spec,
          { replica: session, primary: () => openMysqlSession({ socketPath: this.dir.socket(primary), user: 'root', password: '' }) },
          {
            primaryPublicKeyPath: path.join(this.dir.data(primary), 'public_key.pem'),
            primaryDataDir: this.dir.data(primary),
            replicaDataDir: this.dataDir,
          },
        );
      } else {
        await bootstrapAccounts(session, this.spec);
      }
    } finally {
      await session.close();
    }
  }

  /** A configured primary another node replaced: fenced, then a replica of that node by GTID, unless it holds errant transactions (see rejoin.ts). */
  async rejoin(): Promise<RejoinStep> {
    const writer = this.spec.replicaOf!.name;
    const session = await this.rootSession();
    try {
      return await rejoinAsReplica(
        this.spec,
        { node: session, writer: () => openMysqlSession({ socketPath: this.dir.socket(writer), user: 'root', password: '' }) },
        { writerPublicKeyPath: path.join(this.dir.data(writer), 'public_key.pem') },
      );
    } finally {
      await session.close();
    }
  }

  discardData(): void {
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /**
   * Replicas: both replication threads run (checked as root: the errors show before the
   * accounts arrive), it caught up with its primary (so a fresh replica is not used while it
   * still replays the primary's history, when older grants may still be in force), then the app
   * account logs in.
   */
  async settled(): Promise<Health> {
    const primaryName = this.spec.replicaOf?.name;
    if (!primaryName) return probeService(this.spec);
    try {
      const session = await this.rootSession();
      try {
        const replication = replicationHealth(await readReplicationState(session));
        if (!replication.healthy) return replication;
        const primary = await openMysqlSession({ socketPath: this.dir.socket(primaryName), user: 'root', password: '' });
        try {
          const behind = await caughtUp(this.spec.kind, primary, session);
          if (behind) return { healthy: false, reason: `catching up with ${primaryName}: ${behind}` };
        } finally {
          await primary.close();
        }
      } finally {
        await session.close();
      }
    } catch (err) {
      return { healthy: false, reason: (err as Error).message };
    }
    return probeService(this.spec);
  }
}
