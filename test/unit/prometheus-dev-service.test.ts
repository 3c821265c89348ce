import { parse } from 'yaml';
import { bundledClusterConfig, loadClusterConfig, packageRoot } from '../../src/config/index.js';
import { bindHostProblems } from '../../src/devcluster/bind-policy.js';
import { describePrometheus, OPTIONAL_SERVICES, prometheusSpec } from '../../src/devcluster/index.js';
import { prometheusConfigYaml } from '../../src/devcluster/local/prometheus-service.js';

const config = loadClusterConfig(bundledClusterConfig, {});

describe("the dev cluster's optional Prometheus", () => {
  it('is optional, on loopback 9090, scrapes the worker at cdc.http and loads the bundled alert rules', () => {
    expect(OPTIONAL_SERVICES).toEqual(['prometheus']);
    const spec = describePrometheus(config);
    expect(spec).toMatchObject({ name: 'prometheus', kind: 'prometheus', role: 'monitoring', host: '127.0.0.1', port: 9090 });
    expect(spec.prometheus).toEqual({
      scrapeIntervalSeconds: 5,
      jobs: [{ name: 'shardline-cdc', targets: [`${config.cdc.http.host}:${config.cdc.http.port}`] }],
      ruleFiles: [`${packageRoot}/dashboards/alerts.yaml`],
    });
  });

  it('scrapes a worker bound to a wildcard address on loopback, and brackets IPv6', () => {
    const wild = describePrometheus({ ...config, cdc: { ...config.cdc, http: { host: '0.0.0.0', port: 9500 } } });
    expect(wild.prometheus!.jobs[0]!.targets).toEqual(['127.0.0.1:9500']);
    const v6 = describePrometheus({ ...config, cdc: { ...config.cdc, http: { host: '::1', port: 9500 } } });
    expect(v6.prometheus!.jobs[0]!.targets).toEqual(['[::1]:9500']);
  });

  it('writes a config with exactly its jobs, rule files and interval', () => {
    const spec = prometheusSpec({
      port: 19090,
      scrapeIntervalSeconds: 1,
      jobs: [{ name: 'a', targets: ['127.0.0.1:1'] }],
      ruleFiles: ['/r.yaml'],
    });
    expect(parse(prometheusConfigYaml(spec.prometheus!))).toEqual({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: ['/r.yaml'],
      scrape_configs: [{ job_name: 'a', static_configs: [{ targets: ['127.0.0.1:1'] }] }],
    });
  });

  it('never listens beyond loopback, even with --allow-remote (its API has no authentication)', () => {
    const spec = { ...describePrometheus(config), host: '0.0.0.0' };
    expect(bindHostProblems([spec], true)).toEqual([
      expect.stringMatching(/prometheus would listen on 0\.0\.0\.0.*without authentication/),
    ]);
  });
});
