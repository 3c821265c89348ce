import { createHash } from 'node:crypto';
import {
  chownSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { DevClusterError } from '../../errors/index.js';
import { probeElasticsearch, type Health } from '../health.js';
import type { ServiceSpec } from '../service-spec.js';
import type { StateDir } from '../state-dir.js';
import { installComponent } from './install.js';
import type { NativeService } from './native-service.js';
import { run } from './spawn.js';

/** The unprivileged account Elasticsearch runs as when we are root (it refuses root). */
export const ES_USER = 'shardline';

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Elasticsearch single node (integ-test distribution from Maven Central), security off unless `spec.tls.elasticsearch`. */
export class ElasticsearchService implements NativeService {
  private readonly launcherLog: string;
  private home = '';
  private base = '';
  private uid = -1;
  private gid = -1;

  constructor(
    readonly spec: ServiceSpec,
    private readonly dir: StateDir,
  ) {
    this.launcherLog = path.join(dir.logs, `${spec.name}.log`);
  }

  async install(): Promise<string[]> {
    this.home = await installComponent('elasticsearch', { ...process.env, ES_VERSION: this.spec.plannedVersion });
    if (asRoot) await this.ensureUser();
    return [];
  }

  private async ensureUser(): Promise<void> {
    let ids = await run('id', ['-u', ES_USER]);
    if (ids.code !== 0) {
      const add = await run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', ES_USER]);
      if (add.code !== 0)
        throw new DevClusterError('DEV_INSTALL_FAILED', `elasticsearch: cannot create system user ${ES_USER}: ${add.stderr.trim()}`);
      ids = await run('id', ['-u', ES_USER]);
    }
    this.uid = Number(ids.stdout.trim());
    this.gid = Number((await run('id', ['-g', ES_USER])).stdout.trim());
  }

  version(): Promise<string> {
    return Promise.resolve(this.spec.plannedVersion);
  }

  private get paths() {
    return {
      config: path.join(this.base, 'config'),
      data: path.join(this.base, 'data'),
      logs: path.join(this.base, 'logs'),
      tmp: path.join(this.base, 'tmp'),
      pid: path.join(this.base, 'es.pid'),
    };
  }

  /** Elasticsearch's files must be reachable by its user; a checkout under /root is not. */
  private async chooseBase(): Promise<string> {
    const preferred = this.dir.data(this.spec.name);
    if (existsSync(preferred) && lstatSync(preferred).isSymbolicLink()) return realpathSync(preferred);
    mkdirSync(preferred, { recursive: true });
    if (!asRoot) return preferred;
    chownSync(preferred, this.uid, this.gid);
    const probe = await run('setpriv', [`--reuid=${this.uid}`, `--regid=${this.gid}`, '--clear-groups', 'test', '-w', preferred]);
    if (probe.code === 0) return preferred;
    const outside = path.join('/var/lib/shardline', createHash('sha1').update(this.dir.root).digest('hex').slice(0, 12), this.spec.name);
    // No link to it in the state dir: the state dir is new (its MySQL data too), so whatever an
    // earlier state dir at this path left here is stale — documents whose external versions come
    // from the old binlogs would make Elasticsearch refuse every change of the new ones as older.
    rmSync(outside, { recursive: true, force: true });
    mkdirSync(outside, { recursive: true });
    for (let p = outside; p !== '/'; p = path.dirname(p)) if (p.startsWith('/var/lib/shardline')) chownSync(p, 0, 0);
    chownSync(outside, this.uid, this.gid);
    rmSync(preferred, { recursive: true, force: true });
    symlinkSync(outside, preferred);
    return outside;
  }

  async prepare(): Promise<void> {
    this.base = await this.chooseBase();
    const p = this.paths;
    for (const d of [p.config, p.data, p.logs, p.tmp]) mkdirSync(d, { recursive: true });
    if (!existsSync(path.join(p.config, 'jvm.options'))) cpSync(path.join(this.home, 'config'), p.config, { recursive: true });
    writeFileSync(
      path.join(p.config, 'elasticsearch.yml'),
      [
        'cluster.name: shardline-dev',
        'node.name: shardline-es',
        'discovery.type: single-node',
        `network.host: ${this.spec.host}`,
        `http.port: ${this.spec.port}`,
        `transport.port: ${this.spec.extraPorts[0] ?? 9300}`,
        `path.data: ${p.data}`,
        `path.logs: ${p.logs}`,
        ...this.securitySettings(p.config),
        'xpack.ml.enabled: false',
        'cluster.routing.allocation.disk.threshold_enabled: false',
        'action.destructive_requires_name: false',
        '',
      ].join('\n'),
    );
    const login = this.spec.tls?.elasticsearch;
    if (login) {
      const users = path.join(this.home, 'bin', 'elasticsearch-users');
      const env = { ...process.env, ES_PATH_CONF: p.config, ES_JAVA_HOME: await javaHome() };
      await run(users, ['userdel', login.username], { env });
      const added = await run(users, ['useradd', login.username, '-p', login.password, '-r', 'superuser'], { env });
      if (added.code !== 0)
        throw new DevClusterError(
          'DEV_START_FAILED',
          `elasticsearch: adding the file-realm user ${login.username} failed: ${added.stderr.trim().split('\n').slice(-3).join(' | ')}`,
        );
    }
    if (asRoot) chownTree(this.base, this.uid, this.gid);
  }

  /** Security off; or, with `spec.tls.elasticsearch`, HTTPS with the dev CA's certificate and the file realm. */
  private securitySettings(configDir: string): string[] {
    const tls = this.spec.tls;
    if (!tls?.elasticsearch) return ['xpack.security.enabled: false'];
    const own = path.join(configDir, 'tls');
    mkdirSync(own, { recursive: true });
    // The whole chain, so that clients pinning the CA's fingerprint find the CA in what ES sends.
    writeFileSync(path.join(own, 'server-cert.pem'), readFileSync(tls.cert, 'utf8') + readFileSync(tls.ca, 'utf8'));
    cpSync(tls.key, path.join(own, 'server-key.pem'));
    cpSync(tls.ca, path.join(own, 'ca.pem'));
    return [
      'xpack.security.enabled: true',
      'xpack.security.enrollment.enabled: false',
      'xpack.security.http.ssl.enabled: true',
      'xpack.security.http.ssl.key: tls/server-key.pem',
      'xpack.security.http.ssl.certificate: tls/server-cert.pem',
      'xpack.security.http.ssl.certificate_authorities: tls/ca.pem',
      'xpack.security.transport.ssl.enabled: false',
      'xpack.security.authc.api_key.enabled: true',
    ];
  }

  async start(): Promise<number> {
    const p = this.paths;
    rmSync(p.pid, { force: true });
    const env = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      ES_JAVA_HOME: await javaHome(),
      ES_PATH_CONF: p.config,
      ES_TMPDIR: p.tmp,
      ES_JAVA_OPTS: '-Xms512m -Xmx512m',
    };
    const es = path.join(this.home, 'bin', 'elasticsearch');
    const [cmd, args] = asRoot
      ? ['setpriv', [`--reuid=${this.uid}`, `--regid=${this.gid}`, '--clear-groups', es, '-d', '-p', p.pid]]
      : [es, ['-d', '-p', p.pid]];
    const started = await run(cmd as string, args as string[], { env, cwd: this.base });
    writeFileSync(this.launcherLog, `${started.stdout}${started.stderr}`, { flag: 'a' });
    if (started.code !== 0 || !existsSync(p.pid)) {
      throw new DevClusterError('DEV_START_FAILED', `elasticsearch: the launcher exited with ${started.code}`);
    }
    return Number(readFileSync(p.pid, 'utf8').trim());
  }

  /** ES's own server log once it exists, else the launcher's output. */
  get logFile(): string {
    const log = this.base ? path.join(this.paths.logs, 'shardline-dev.log') : '';
    return log && existsSync(log) ? log : this.launcherLog;
  }

  ready(): Promise<Health> {
    return probeElasticsearch(this.spec);
  }

  bootstrap(): Promise<void> {
    return Promise.resolve();
  }
}

async function javaHome(): Promise<string> {
  return path.dirname(path.dirname(realpathSync((await run('sh', ['-c', 'command -v java'])).stdout.trim())));
}

function chownTree(root: string, uid: number, gid: number): void {
  chownSync(root, uid, gid);
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const full = path.join(root, entry.name);
    if (entry.isDirectory()) chownTree(full, uid, gid);
    else chownSync(full, uid, gid);
  }
}
