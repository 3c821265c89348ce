import path from 'node:path';
import { packageRoot, type ClusterConfig } from '../config/index.js';
import type { ServiceSpec } from './service-spec.js';

/** The optional services `dev up --with` can add to the cluster. */
export const OPTIONAL_SERVICES = ['prometheus'] as const;
/** One of {@link OPTIONAL_SERVICES}. */
export type OptionalService = (typeof OPTIONAL_SERVICES)[number];

/** Loopback port of the dev cluster's Prometheus. */
export const DEV_PROMETHEUS_PORT = 9090;

/** The alerting rules shipped with the package (`dashboards/alerts.yaml`). */
export const bundledAlertRules = path.join(packageRoot, 'dashboards', 'alerts.yaml');

/**
 * A Prometheus service: loopback only, the bundled alert rules, and the given scrape jobs.
 * `plannedVersion` is Debian's package (2.42 on Debian 12).
 */
export function prometheusSpec(options: {
  name?: string;
  port: number;
  jobs: { name: string; targets: string[] }[];
  ruleFiles?: string[];
  scrapeIntervalSeconds?: number;
}): ServiceSpec {
  return {
    name: options.name ?? 'prometheus',
    kind: 'prometheus',
    role: 'monitoring',
    plannedVersion: '2.42',
    host: '127.0.0.1',
    port: options.port,
    extraPorts: [],
    url: `http://127.0.0.1:${options.port}`,
    prometheus: {
      scrapeIntervalSeconds: options.scrapeIntervalSeconds ?? 5,
      jobs: options.jobs,
      ruleFiles: options.ruleFiles ?? [bundledAlertRules],
    },
  };
}

/** The dev cluster's Prometheus: scrapes the CDC worker at the config's `cdc.http` address. */
export function describePrometheus(config: ClusterConfig): ServiceSpec {
  const http = config.cdc.http;
  const host = http.host === '0.0.0.0' || http.host === '::' ? '127.0.0.1' : http.host;
  const target = host.includes(':') ? `[${host}]:${http.port}` : `${host}:${http.port}`;
  return prometheusSpec({ port: DEV_PROMETHEUS_PORT, jobs: [{ name: 'shardline-cdc', targets: [target] }] });
}
