import { execFileSync } from 'node:child_process';
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
  it('has exactly the services of the cluster config (read replicas included) and the one-shot replica-setup, and only optional ones behind a profile', () => {
    const always = Object.entries(compose.services).filter(([, s]) => !s.profiles);
    expect(always.map(([name]) => name).sort()).toEqual([...specs.map((s) => s.name), 'replica-setup'].sort());
  });

  it.each(config.instances.flatMap((inst) => (inst.replicas ?? []).map((r) => [r.name, inst, r] as const)))(
    '%s runs its primary image and settings, its own server id, read_only and relay logs',
    (name, inst, r) => {
      const primary = compose.services[inst.name]!;
      const replica = compose.services[name]!;
      expect(replica.image).toBe(primary.image);
      const own = (c: string[]) => c.filter((f) => !f.startsWith('--server-id='));
      expect(replica.command).toEqual(expect.arrayContaining(own(primary.command!)));
      expect(replica.command).toEqual(expect.arrayContaining([`--server-id=${r.serverId}`, '--read-only=ON', '--relay-log=relay']));
      if (inst.flavour === 'mysql') expect(replica.command).toContain('--log-replica-updates=ON');
      expect(replica.ports).toEqual([`127.0.0.1:${r.port}:3306`]);
    },
  );

  it('replica-setup waits for every primary and replica, then runs the setup script for each pair', () => {
    const setup = compose.services['replica-setup']! as ComposeService & {
      depends_on: Record<string, { condition: string }>;
      entrypoint: string[];
    };
    const pairs = config.instances.flatMap((inst) => (inst.replicas ?? []).map((r) => [inst.name, r.name]));
    expect(Object.keys(setup.depends_on).sort()).toEqual(pairs.flat().sort());
    expect(Object.values(setup.depends_on).every((d) => d.condition === 'service_healthy')).toBe(true);
    const [mount] = setup.volumes;
    expect(mount).toBe('./scripts/compose-replica-setup.sh:/replica-setup.sh:ro');
    expect(setup.entrypoint).toEqual(['sh', '/replica-setup.sh']);
    const script = readFileSync(path.join(packageRoot, 'scripts', 'compose-replica-setup.sh'), 'utf8');
    for (const [primary, replica] of pairs) {
      const flavour = config.instances.find((i) => i.name === primary)!.flavour;
      expect(script).toContain(`setup ${primary} ${replica} ${flavour}`);
    }
    expect(script).toContain('SOURCE_AUTO_POSITION=1');
    expect(script).toContain('MASTER_USE_GTID=slave_pos');
    expect(execFileSync('sh', ['-n', path.join(packageRoot, 'scripts', 'compose-replica-setup.sh')]).toString()).toBe('');
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
