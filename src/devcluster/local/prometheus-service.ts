import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DevClusterError } from '../../errors/index.js';
import { probePrometheus, type Health } from '../health.js';
import type { PrometheusSettings, ServiceSpec } from '../service-spec.js';
import type { StateDir } from '../state-dir.js';
import { installComponent } from './install.js';
import type { NativeService } from './native-service.js';
import { run, spawnDetached } from './spawn.js';

/** The `prometheus.yml` a dev Prometheus runs with (JSON, which is YAML): its scrape jobs and rule files, nothing else. */
export function prometheusConfigYaml(settings: PrometheusSettings): string {
  const interval = `${settings.scrapeIntervalSeconds}s`;
  return JSON.stringify(
    {
      global: { scrape_interval: interval, evaluation_interval: interval },
      rule_files: settings.ruleFiles,
      scrape_configs: settings.jobs.map((j) => ({ job_name: j.name, static_configs: [{ targets: j.targets }] })),
    },
    null,
    2,
  );
}

/**
 * Prometheus from Debian's `prometheus` package (`scripts/install-prometheus.sh` installs it when
 * missing), never the package's system service: its own config, data folder under the state
 * folder and a loopback listen address.
 */
export class PrometheusService implements NativeService {
  readonly logFile: string;
  private bin = '';

  constructor(
    readonly spec: ServiceSpec,
    private readonly dir: StateDir,
  ) {
    this.logFile = path.join(dir.logs, `${spec.name}.log`);
  }

  private get settings(): PrometheusSettings {
    if (!this.spec.prometheus) throw new DevClusterError('DEV_START_FAILED', `${this.spec.name}: no Prometheus settings in its spec`);
    return this.spec.prometheus;
  }

  private get paths() {
    const base = this.dir.data(this.spec.name);
    return { base, config: path.join(base, 'prometheus.yml'), tsdb: path.join(base, 'tsdb') };
  }

  async install(): Promise<string[]> {
    this.bin = await installComponent('prometheus');
    return [];
  }

  async version(): Promise<string> {
    const out = await run(path.join(this.bin, 'prometheus'), ['--version']);
    return /version (\S+)/.exec(`${out.stdout}${out.stderr}`)?.[1] ?? this.spec.plannedVersion;
  }

  /** Writes the config (every time: targets may change) and checks it with promtool. */
  async prepare(): Promise<void> {
    const p = this.paths;
    mkdirSync(p.tsdb, { recursive: true });
    writeFileSync(p.config, prometheusConfigYaml(this.settings));
    const check = await run(path.join(this.bin, 'promtool'), ['check', 'config', p.config]);
    if (check.code !== 0) {
      throw new DevClusterError(
        'DEV_START_FAILED',
        `${this.spec.name}: promtool check config refused ${p.config}:\n${check.stdout}${check.stderr}`,
      );
    }
  }

  start(): Promise<number> {
    const p = this.paths;
    return spawnDetached(
      path.join(this.bin, 'prometheus'),
      [
        `--config.file=${p.config}`,
        `--storage.tsdb.path=${p.tsdb}`,
        `--storage.tsdb.retention.time=2d`,
        `--web.listen-address=${this.spec.host}:${this.spec.port}`,
      ],
      { logFile: this.logFile, cwd: p.base },
    );
  }

  ready(): Promise<Health> {
    return probePrometheus(this.spec);
  }

  bootstrap(): Promise<void> {
    return Promise.resolve();
  }
}
