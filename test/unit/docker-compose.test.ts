import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { bundledClusterConfig, loadClusterConfig, packageRoot } from '../../src/config/index.js';
import { describeServices } from '../../src/devcluster/index.js';

interface ComposeService {
  image: string;
  profiles?: string[];
  network_mode?: string;
  command?: string[];
  ports: string[];
  volumes: string[];
  healthcheck?: { test: string[] };
}

const compose = parse(readFileSync(path.join(packageRoot, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
};
const config = loadClusterConfig(bundledClusterConfig, {});
const specs = describeServices(config);

describe('docker-compose.yml matches the native cluster', () => {
  it('has exactly the services of the cluster config, and only optional ones behind a profile', () => {
    const always = Object.entries(compose.services).filter(([, s]) => !s.profiles);
    expect(always.map(([name]) => name).sort()).toEqual(specs.map((s) => s.name).sort());
  });

  it('the optional Prometheus listens on loopback, loads the bundled alert rules and scrapes the worker of the config', () => {
    const prom = compose.services['prometheus']!;
    expect(prom.profiles).toEqual(['prometheus']);
    expect(prom.command).toContain('--web.listen-address=127.0.0.1:9090');
    expect(prom.volumes).toEqual(
      expect.arrayContaining([
        './dashboards/alerts.yaml:/etc/prometheus/alerts.yaml:ro',
        './dashboards/prometheus.yml:/etc/prometheus/prometheus.yml:ro',
      ]),
    );
    expect(prom.healthcheck?.test.length).toBeGreaterThan(0);
    const scrape = parse(readFileSync(path.join(packageRoot, 'dashboards', 'prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    expect(scrape.rule_files).toEqual(['/etc/prometheus/alerts.yaml']);
    expect(scrape.scrape_configs[0]!.static_configs[0]!.targets).toEqual([`${config.cdc.http.host}:${config.cdc.http.port}`]);
  });

  it.each(specs.map((s) => [s.name, s] as const))('%s: same ports on 127.0.0.1, a healthcheck and a named volume', (name, spec) => {
    const svc = compose.services[name]!;
    for (const port of [spec.port, ...spec.extraPorts]) {
      expect(svc.ports.some((p) => p.startsWith(`127.0.0.1:${port}:`))).toBe(true);
    }
    expect(svc.healthcheck?.test.length).toBeGreaterThan(0);
    const volume = svc.volumes[0]!.split(':')[0]!;
    expect(Object.keys(compose.volumes)).toContain(volume);
  });

  it('uses the official images the design names', () => {
    const images = Object.fromEntries(Object.entries(compose.services).map(([k, v]) => [k, v.image]));
    expect(images).toMatchObject({
      'shard-0': 'mysql:8.4',
      'shard-1': 'mysql:9.7',
      'shard-2': 'mariadb:10.11',
      'shard-3': 'mariadb:10.11',
      archive: 'mysql:8.0',
    });
    expect(images['kafka']).toMatch(/^apache\/kafka:4\.1\./);
    expect(images['elasticsearch']).toMatch(/elasticsearch:8\.19\./);
  });

  it.each(config.instances.map((i) => [i.name, i] as const))(
    '%s runs with the binlog settings and server id of the config',
    (name, inst) => {
      const cmd = compose.services[name]!.command!;
      expect(cmd).toEqual(
        expect.arrayContaining([
          `--server-id=${inst.serverId}`,
          '--binlog-format=ROW',
          '--binlog-row-image=FULL',
          '--binlog-row-metadata=FULL',
        ]),
      );
      expect(cmd).toEqual(
        expect.arrayContaining(inst.flavour === 'mysql' ? ['--gtid-mode=ON', '--enforce-gtid-consistency=ON'] : ['--gtid-strict-mode=ON']),
      );
    },
  );
});
