/**
 * Debezium embedded 3.6.1.Final (MySQL connector) into a no-op consumer: the anchor that
 * `bench:snapshot` (issue 15) and `bench:stream` (issue 14) measure shardline against. The Java
 * program lives in bench/debezium/ (Maven); this module builds it once (cached in
 * build-bench/debezium, rebuilt when its pom or sources change), runs it with -Xmx512m and parses
 * its last stdout line. See bench/README.md.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ShardlineError } from 'shardline';

/** Why a Debezium run could not happen or did not finish. */
export type DebeziumBenchFailure = 'java-missing' | 'maven-missing' | 'build-failed' | 'run-failed' | 'timeout' | 'bad-output';

/** A typed failure of the Debezium side of a benchmark (`reason` says which step failed). */
export class DebeziumBenchError extends ShardlineError {
  readonly reason: DebeziumBenchFailure;

  constructor(reason: DebeziumBenchFailure, message: string, details: Record<string, unknown> = {}) {
    super(reason === 'java-missing' || reason === 'maven-missing' ? 'DEV_JAVA_MISSING' : 'DEV_START_FAILED', message, {
      details: { reason, ...details },
    });
    this.reason = reason;
  }
}

/** Where Debezium connects: a MySQL instance with binlog_format=ROW, row image FULL. */
export interface DebeziumTarget {
  host: string;
  port: number;
  /** Needs SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT, LOCK TABLES ({@link ensureDebeziumUser}). */
  user: string;
  password: string;
  /** The server's RSA public key (caching_sha2_password over plain TCP); without it the key is retrieved from the server. */
  publicKeyFile?: string;
  /** Replica server id (default 4250000000 + pid % 1000 in the JVM); must differ between concurrent readers. */
  serverId?: number;
  /** `db.table` names (no patterns). */
  tables: readonly string[];
  /** JSON with the schema envelope (Debezium's default, true) or schemaless. */
  schemas?: boolean;
  /** Seconds before the run is abandoned (600). */
  timeoutS?: number;
}

/** One measured run (the Java program's JSON line, camel-cased, plus the JVM's peak RSS). */
export interface DebeziumRun {
  /** Rows the rate counts: snapshot — every snapshot row; stream — the events after the first delivered batch. */
  rows: number;
  /** Data change events received in total. */
  events: number;
  /** snapshot: engine start → last snapshot record (global lock and schema reading included); stream: first batch → last event. */
  seconds: number;
  rowsPerS: number;
  /** JVM process CPU (user + system, all threads) over the same span. */
  cpuSeconds: number;
  cpuUsPerRow: number;
  /** Engine start → last event. */
  wallSeconds: number;
  /** Engine start → first delivered batch. */
  startupSeconds: number;
  /** Events after the first batch ÷ time since it, in both modes. */
  steadyRowsPerS: number;
  /** Peak resident set of the JVM (VmHWM, sampled every 250 ms), MiB. */
  peakRssMb: number;
}

/**
 * The binlog position a stream baseline starts from (Debezium's committed offset). On a GTID
 * server `gtids` is the position Debezium resumes from; `file`/`pos` may then read `…:4` (the
 * binlog client asks for GTIDs, not a file position, and heartbeats carry what it last saw).
 */
export interface DebeziumBaseline {
  dir: string;
  offset: { file: string; pos: number; gtids?: string };
}

/** The compiled program: what `java -cp` needs. */
export interface DebeziumBuild {
  outDir: string;
  classpath: string;
  /** False when the cached build was current. */
  built: boolean;
}

const MAIN_CLASS = 'dev.shardline.bench.DebeziumBench';
const JVM_OPTS = [
  '-Xmx512m',
  '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
  // Under CPU pressure Debezium 3.6's lag statistics drop samples and log one WARN line per drop: log noise, not CDC work.
  '-Dorg.slf4j.simpleLogger.log.io.debezium.metrics.stats.MeasurementCollector=error',
];

const findRepoRoot = (): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'bench', 'debezium', 'pom.xml'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new DebeziumBenchError('build-failed', 'bench/debezium/pom.xml not found above this module');
    dir = up;
  }
};

const javaBin = (): string =>
  process.env['DEBEZIUM_JAVA'] ?? (process.env['JAVA_HOME'] ? path.join(process.env['JAVA_HOME'], 'bin', 'java') : 'java');

const checkTool = (bin: string, args: string[], reason: 'java-missing' | 'maven-missing', what: string): string => {
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new DebeziumBenchError(
      reason,
      `${what} is needed for the Debezium benchmark and \`${bin} ${args.join(' ')}\` failed: ${r.error?.message ?? r.stderr}`,
      {
        bin,
      },
    );
  }
  return `${r.stdout}${r.stderr}`;
};

const checkJava = (): void => {
  const out = checkTool(javaBin(), ['-version'], 'java-missing', 'Java 17 or newer');
  const major = Number(/version "(\d+)/.exec(out)?.[1] ?? 0);
  if (major < 17)
    throw new DebeziumBenchError('java-missing', `Debezium 3.6 needs Java 17 or newer; ${javaBin()} is ${major || 'unknown'}`);
};

const sourceStamp = (project: string): string => {
  const hash = createHash('sha256');
  const walk = (p: string): void => {
    if (statSync(p).isDirectory()) {
      for (const name of readdirSync(p).sort()) walk(path.join(p, name));
    } else {
      hash.update(path.relative(project, p)).update('\0').update(readFileSync(p)).update('\0');
    }
  };
  walk(path.join(project, 'pom.xml'));
  walk(path.join(project, 'src'));
  return hash.digest('hex');
};

/**
 * Compiles bench/debezium and copies its 74 runtime jars into `outDir` (default
 * build-bench/debezium), unless the cached build matches the pom and sources. Tries Maven
 * offline first (the local repository usually has everything), then online.
 */
export const buildDebezium = (options: { outDir?: string } = {}): DebeziumBuild => {
  checkJava();
  const root = findRepoRoot();
  const project = path.join(root, 'bench', 'debezium');
  const outDir = path.resolve(options.outDir ?? path.join(root, 'build-bench', 'debezium'));
  const classpath = `${path.join(outDir, 'target', 'classes')}${path.delimiter}${path.join(outDir, 'lib', '*')}`;
  const stampFile = path.join(outDir, 'stamp');
  const stamp = sourceStamp(project);
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return { outDir, classpath, built: false };
  checkTool('mvn', ['-v'], 'maven-missing', 'Maven (mvn)');
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const goals = ['-B', '-q', `-Dbench.out=${outDir}`, 'compile', 'dependency:copy-dependencies'];
  let r = spawnSync('mvn', ['-o', ...goals], { cwd: project, encoding: 'utf8' });
  if (r.status !== 0) r = spawnSync('mvn', goals, { cwd: project, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new DebeziumBenchError(
      'build-failed',
      `mvn failed to build bench/debezium (exit ${r.status}): ${`${r.stdout}${r.stderr}`.slice(-2000)}`,
    );
  }
  writeFileSync(stampFile, stamp);
  return { outDir, classpath, built: true };
};

const TABLE = /^[A-Za-z0-9_$]+\.[A-Za-z0-9_$]+$/;

const commonArgs = (t: DebeziumTarget): string[] => {
  if (t.tables.length === 0) throw new DebeziumBenchError('run-failed', 'no tables given');
  for (const table of t.tables) {
    if (!TABLE.test(table)) throw new DebeziumBenchError('run-failed', `a table must be written db.table: ${JSON.stringify(table)}`);
  }
  const args = ['--host', t.host, '--port', String(t.port), '--user', t.user, '--tables', t.tables.join(',')];
  args.push('--schemas', String(t.schemas ?? true), '--timeout-s', String(t.timeoutS ?? 600));
  if (t.publicKeyFile) {
    // A missing key file makes Debezium retry its login until the timeout instead of failing.
    if (!existsSync(t.publicKeyFile))
      throw new DebeziumBenchError('run-failed', `the server public key file ${t.publicKeyFile} does not exist`);
    args.push('--public-key', t.publicKeyFile);
  }
  if (t.serverId !== undefined) args.push('--server-id', String(t.serverId));
  return args;
};

const readHwmMb = (pid: number): number | undefined => {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
};

interface JvmResult {
  line: Record<string, unknown>;
  peakRssMb: number;
}

/** Runs the program in one mode; resolves with its last stdout line parsed. The password goes by environment only. */
const runJvm = (mode: string, args: string[], t: DebeziumTarget): Promise<JvmResult> => {
  const build = buildDebezium();
  return new Promise((resolve, reject) => {
    const child = spawn(javaBin(), [...JVM_OPTS, '-cp', build.classpath, MAIN_CLASS, mode, ...args], {
      env: { ...process.env, DEBEZIUM_BENCH_PASSWORD: t.password },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let peakRssMb = 0;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
    const sampler = setInterval(() => {
      const mb = child.pid === undefined ? undefined : readHwmMb(child.pid);
      if (mb !== undefined) peakRssMb = Math.max(peakRssMb, mb);
    }, 250);
    const killer = setTimeout(() => child.kill('SIGKILL'), ((t.timeoutS ?? 600) + 60) * 1000);
    const scrub = (s: string): string => {
      const lines = s.split('\n').filter((l) => !/^\s+(at |\.\.\. \d+ more)/.test(l));
      return (t.password ? lines.join('\n').split(t.password).join('***') : lines.join('\n')).slice(-1500);
    };
    child.on('error', (e) => {
      clearInterval(sampler);
      clearTimeout(killer);
      reject(new DebeziumBenchError('java-missing', `cannot start ${javaBin()}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearInterval(sampler);
      clearTimeout(killer);
      const details = { mode, exitCode: code, signal };
      if (code === 2 || signal === 'SIGKILL') {
        reject(new DebeziumBenchError('timeout', `Debezium ${mode} timed out: ${scrub(stderr)}`, details));
        return;
      }
      if (code !== 0) {
        reject(new DebeziumBenchError('run-failed', `Debezium ${mode} exited with ${code ?? signal}: ${scrub(stderr)}`, details));
        return;
      }
      const last = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve({ line: JSON.parse(last) as Record<string, unknown>, peakRssMb: Math.round(peakRssMb) });
      } catch {
        reject(new DebeziumBenchError('bad-output', `Debezium ${mode} printed no JSON line: ${scrub(last)}`, details));
      }
    });
  });
};

const num = (line: Record<string, unknown>, key: string): number => {
  const v = line[key];
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new DebeziumBenchError('bad-output', `field ${key} missing from Debezium's output`);
  return v;
};

const toRun = ({ line, peakRssMb }: JvmResult): DebeziumRun => ({
  rows: num(line, 'rows'),
  events: num(line, 'events'),
  seconds: num(line, 'seconds'),
  rowsPerS: num(line, 'rows_per_s'),
  cpuSeconds: num(line, 'cpu_seconds'),
  cpuUsPerRow: num(line, 'cpu_us_per_row'),
  wallSeconds: num(line, 'wall_seconds'),
  startupSeconds: num(line, 'startup_seconds'),
  steadyRowsPerS: num(line, 'steady_rows_per_s'),
  peakRssMb,
});

/**
 * Debezium's initial snapshot of `tables` (snapshot.mode=initial_only, empty schema history, one
 * snapshot thread unless `snapshotThreads`), stopped at its last snapshot record.
 */
export const runDebeziumSnapshot = async (options: DebeziumTarget & { snapshotThreads?: number }): Promise<DebeziumRun> => {
  const args = commonArgs(options);
  if (options.snapshotThreads !== undefined) args.push('--snapshot-threads', String(options.snapshotThreads));
  return toRun(await runJvm('snapshot', args, options));
};

/**
 * Records a stream baseline in `dir` (offsets.dat + history.dat): Debezium with
 * snapshot.mode=no_data streams until connected, commits its offset and stops. Write the
 * benchmark's rows after this resolves, then call {@link runDebeziumStream} as often as needed
 * with the same `tables`: each run replays the binlog from this offset.
 */
export const prepareDebeziumStreamBaseline = async (options: DebeziumTarget & { dir: string }): Promise<DebeziumBaseline> => {
  mkdirSync(options.dir, { recursive: true });
  const { line } = await runJvm('prepare', [...commonArgs(options), '--dir', options.dir], options);
  const offset = line['offset'] as { file?: unknown; pos?: unknown; gtids?: unknown } | undefined;
  if (typeof offset?.file !== 'string' || typeof offset.pos !== 'number') {
    throw new DebeziumBenchError('bad-output', 'the prepare run printed no binlog offset');
  }
  return {
    dir: options.dir,
    offset: { file: offset.file, pos: offset.pos, ...(typeof offset.gtids === 'string' ? { gtids: offset.gtids } : {}) },
  };
};

/** Replays the binlog from the baseline in `dir` (a fresh copy per run) until `events` data change events arrived. */
export const runDebeziumStream = async (options: DebeziumTarget & { dir: string; events: number }): Promise<DebeziumRun> => {
  if (!Number.isInteger(options.events) || options.events < 1)
    throw new DebeziumBenchError('run-failed', `events must be a positive integer`);
  return toRun(await runJvm('stream', [...commonArgs(options), '--dir', options.dir, '--events', String(options.events)], options));
};

/** Anything with mysql2's `query(sql, values)` (a Connection or Pool of mysql2/promise). */
export interface AdminQuery {
  query(sql: string, values?: unknown[]): Promise<unknown>;
}

/**
 * Creates (or re-keys) the MySQL user Debezium's documentation asks for — SELECT, RELOAD, SHOW
 * DATABASES, REPLICATION SLAVE, REPLICATION CLIENT, LOCK TABLES on *.* — with a fresh random
 * password, through an admin connection. Returns the credentials for {@link DebeziumTarget}.
 */
export const ensureDebeziumUser = async (admin: AdminQuery, user = 'shardline_debezium'): Promise<{ user: string; password: string }> => {
  if (!/^[A-Za-z0-9_]{1,32}$/.test(user)) throw new DebeziumBenchError('run-failed', `bad user name ${JSON.stringify(user)}`);
  const password = randomBytes(18).toString('base64url');
  await admin.query(`CREATE USER IF NOT EXISTS '${user}'@'%' IDENTIFIED BY ?`, [password]);
  await admin.query(`ALTER USER '${user}'@'%' IDENTIFIED BY ?`, [password]);
  await admin.query(`GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT, LOCK TABLES ON *.* TO '${user}'@'%'`);
  return { user, password };
};

/**
 * Writes the server's caching_sha2_password RSA public key, read over an authenticated admin
 * session (`Caching_sha2_password_rsa_public_key`), to `file` for {@link DebeziumTarget.publicKeyFile}:
 * the key on disk in a state folder may belong to an earlier run of the instance.
 */
export const writeServerPublicKey = async (admin: AdminQuery, file: string): Promise<string> => {
  const [rows] = (await admin.query(`SHOW STATUS LIKE 'Caching_sha2_password_rsa_public_key'`)) as [Array<{ Value?: unknown }>];
  const pem = rows[0]?.Value;
  if (typeof pem !== 'string' || !pem.includes('BEGIN PUBLIC KEY')) {
    throw new DebeziumBenchError('run-failed', 'the server reports no caching_sha2_password RSA public key');
  }
  writeFileSync(file, pem);
  return file;
};

/** A Debezium run as one side-by-side run of a bench (host busy-ness measured by the caller). */
export const debeziumSideRun = (r: DebeziumRun, host: { host_busy_pct: number; loadavg_1m: number }) => ({
  rows: r.rows,
  seconds: Number(r.seconds.toFixed(2)),
  rows_per_s: Math.round(r.rowsPerS),
  cpu_us_per_row: Number(r.cpuUsPerRow.toFixed(1)),
  ...host,
  startup_s: Number(r.startupSeconds.toFixed(2)),
  steady_rows_per_s: Math.round(r.steadyRowsPerS),
  peak_rss_mb: r.peakRssMb,
});
