import { existsSync, mkdtempSync, realpathSync, rmdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ElasticsearchService } from '../../src/devcluster/local/elasticsearch-service.js';
import { KafkaService } from '../../src/devcluster/local/kafka-service.js';
import { MysqlFamilyService } from '../../src/devcluster/local/mysql-family.js';
import type { NativeService } from '../../src/devcluster/local/native-service.js';
import { processStartTime } from '../../src/devcluster/process-table.js';
import type { DevServiceTls, ServiceKind, ServiceSpec } from '../../src/devcluster/service-spec.js';
import { ensureStateDir, stateDir, type StateDir } from '../../src/devcluster/state-dir.js';
import { stopProcess } from '../../src/devcluster/stop-process.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a private service is: kind, ports, version and (optionally) TLS. */
export interface PrivateServiceOptions {
  name: string;
  kind: Exclude<ServiceKind, 'prometheus'>;
  port: number;
  extraPorts?: number[];
  version?: string;
  serverId?: number;
  tls?: DevServiceTls;
}

/**
 * One service of the test's own, started with the dev cluster's code (src/devcluster/local)
 * on its own ports and in its own state folder, and stopped (folder removed) by `destroy()`.
 * The app account of SQL servers is `shardline`/`shardline`.
 */
export class PrivateService {
  readonly root: string;
  readonly dir: StateDir;
  readonly spec: ServiceSpec;
  readonly service: NativeService;
  private pid = 0;

  constructor(readonly options: PrivateServiceOptions) {
    this.root = mkdtempSync(path.join(os.tmpdir(), `shardline-${options.name}-`));
    this.dir = stateDir(this.root);
    const sql = options.kind === 'mysql' || options.kind === 'mariadb';
    this.spec = {
      name: options.name,
      kind: options.kind,
      role: sql ? 'shard' : options.kind === 'kafka' ? 'kafka' : 'search',
      plannedVersion: options.version ?? { mysql: '8.0', mariadb: '10.11', kafka: '4.1.2', elasticsearch: '8.19.21' }[options.kind],
      host: '127.0.0.1',
      port: options.port,
      extraPorts: options.extraPorts ?? [],
      ...(sql
        ? {
            sql: {
              user: 'shardline',
              password: 'shardline',
              serverId: options.serverId ?? 90,
              replication: { user: 'shardline_repl', password: 'shardline' },
            },
          }
        : {}),
      ...(options.kind === 'elasticsearch' ? { url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${options.port}` } : {}),
      ...(options.tls ? { tls: options.tls } : {}),
    };
    this.service =
      options.kind === 'kafka'
        ? new KafkaService(this.spec, this.dir)
        : options.kind === 'elasticsearch'
          ? new ElasticsearchService(this.spec, this.dir)
          : new MysqlFamilyService(this.spec, this.dir);
  }

  /** The server's data folder (MySQL keeps `public_key.pem` there). */
  get dataDir(): string {
    return this.dir.data(this.options.name);
  }

  async start(timeoutMs = 90_000): Promise<void> {
    ensureStateDir(this.dir);
    await this.service.install();
    await this.service.prepare();
    this.pid = await this.service.start();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const h = await this.service.ready();
      if (h.healthy) break;
      if (Date.now() > deadline)
        throw new Error(`${this.options.name} did not become ready in ${timeoutMs} ms (${h.reason ?? ''}); log: ${this.service.logFile}`);
      await sleep(200);
    }
    await this.service.bootstrap();
  }

  async destroy(): Promise<void> {
    if (this.pid) await stopProcess(this.pid, processStartTime(this.pid), 20_000);
    this.pid = 0;
    // Elasticsearch's data may live outside (its user cannot traverse a private /tmp folder).
    if (existsSync(this.dataDir) && realpathSync(this.dataDir) !== this.dataDir) {
      const outside = realpathSync(this.dataDir);
      rmSync(outside, { recursive: true, force: true });
      rmdirSync(path.dirname(outside)); // its own folder under /var/lib/shardline, empty now
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}
