import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import { createRouter, loadClusterConfig, type Router } from '../../src/index.js';
import { ALL_SECTIONS, packageRoot, requireSections } from '../../src/config/index.js';
import { prometheusSpec } from '../../src/devcluster/index.js';
import { installComponent } from '../../src/devcluster/local/install.js';
import { nativeDown, nativeUp } from '../../src/devcluster/local/native-cluster.js';
import { run } from '../../src/devcluster/local/spawn.js';
import type { Reporter } from '../../src/devcluster/reporter.js';
import { stateDir } from '../../src/devcluster/state-dir.js';
import { WorkerProcess, writeCdcTestConfig } from '../support/cdc.js';
import { shardline } from '../support/cluster.js';

// The dashboard and the alert rules, checked against a real Prometheus (Debian's package, started
// by the dev cluster's own PrometheusService in a private state folder) that scrapes a running
// `shardline cdc` worker and a router's registry. The expressions are read from the files.

const dashboardFile = path.join(packageRoot, 'dashboards', 'shardline.json');
const alertsFile = path.join(packageRoot, 'dashboards', 'alerts.yaml');

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string | { query: string } }[] };
}
interface RulesFile {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[];
}

/** Every PromQL expression of the dashboard: panel targets (rows included) and query variables. */
function dashboardExpressions(d: Dashboard): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  const walk = (panels: readonly Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}"`, expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  for (const v of d.templating.list.filter((x) => x.type === 'query')) {
    const q = typeof v.query === 'string' ? v.query : v.query.query;
    out.push({ where: `variable $${v.name}`, expr: q });
  }
  return out;
}

/** Grafana's variables as "everything"; `label_values(q, l)` as the query Grafana's list comes from. */
function toPromQL(expr: string): string {
  const lv = /^label_values\((.*),\s*(\w+)\)$/s.exec(expr.trim());
  const q = lv ? `count by (${lv[2]}) (${lv[1]})` : expr;
  return q.replaceAll('$__rate_interval', '1m').replaceAll('$shard', '.*').replaceAll('$sink', '.*');
}

const COMPARISON = /\s(==|!=|>=|<=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$/;

/** An alert's expression with its final threshold turned into `bool`: every series, firing or not. */
function alertAsBool(expr: string): string | null {
  return COMPARISON.test(expr) ? expr.replace(COMPARISON, ' $1 bool $2') : null;
}

const NAME = `it_dash_${process.pid}`;
const configPath = writeCdcTestConfig(NAME);
const config = requireSections(loadClusterConfig(configPath), ALL_SECTIONS, 'the dashboards test');
const worker = new WorkerProcess(configPath, 19476);
const promRoot = mkdtempSync(path.join(os.tmpdir(), 'shardline-prom-'));
const promDir = stateDir(promRoot);
const BASE = 8_900_000_000n + BigInt(process.pid % 1000) * 1_000_000n;
const registry = new Registry();
let router: Router;
let routerServer: http.Server;
let spec: ReturnType<typeof prometheusSpec>;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function promQuery(
  expr: string,
): Promise<{ status: string; error?: string; data?: { result: { metric: object; value: [number, string] }[] } }> {
  const res = await fetch(`${spec.url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
  return (await res.json()) as { status: string; error?: string; data?: { result: { metric: object; value: [number, string] }[] } };
}

/** Expressions (by where they are used) that fail or return no series. */
async function withoutData(exprs: readonly { where: string; expr: string }[]): Promise<string[]> {
  const empty: string[] = [];
  for (const e of exprs) {
    const r = await promQuery(e.expr);
    if (r.status !== 'success') empty.push(`${e.where}: ${r.error ?? r.status} in ${e.expr}`);
    else if (r.data!.result.length === 0) empty.push(`${e.where}: no data for ${e.expr}`);
  }
  return empty;
}

async function until(what: string, check: () => Promise<string[]>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let missing = await check();
  while (missing.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    missing = await check();
  }
  if (missing.length > 0) throw new Error(`${what} after ${timeoutMs} ms:\n${missing.join('\n')}`);
}

const quietReporter: Reporter = { update() {}, warn() {}, close() {} };

beforeAll(async () => {
  shardline('migrate');
  router = await createRouter({ config, registry });
  routerServer = http.createServer((req, res) => {
    void registry.metrics().then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text));
  });
  await new Promise<void>((r) => routerServer.listen(0, '127.0.0.1', () => r()));
  const routerPort = (routerServer.address() as net.AddressInfo).port;
  spec = prometheusSpec({
    port: await freePort(),
    scrapeIntervalSeconds: 1,
    jobs: [
      { name: 'shardline-cdc', targets: [`127.0.0.1:${worker.httpPort}`] },
      { name: 'shardline-router', targets: [`127.0.0.1:${routerPort}`] },
    ],
  });
  worker.start();
  await worker.waitReading(config.instances.map((i) => i.name));
  await nativeUp([spec], { dir: promDir, reporter: quietReporter, timeoutMs: 120_000 });
}, 240_000);

afterAll(async () => {
  await worker.stop();
  await router?.close();
  routerServer?.close();
  if (spec) await nativeDown([spec], promDir);
  rmSync(promRoot, { recursive: true, force: true });
});

it('promtool (from the same install) accepts the alerting rules file', async () => {
  const bin = await installComponent('prometheus');
  const checked = await run(path.join(bin, 'promtool'), ['check', 'rules', alertsFile]);
  const rules = (parse(readFileSync(alertsFile, 'utf8')) as RulesFile).groups.flatMap((g) => g.rules);
  expect({ code: checked.code, out: checked.stdout.trim() }).toEqual({
    code: 0,
    out: expect.stringContaining(`SUCCESS: ${rules.length} rules found`),
  });
});

it('every dashboard expression and every alert rule returns data from a real Prometheus scraping a worker and a router', async () => {
  const uids = Array.from({ length: 64 }, (_, i) => BASE + BigInt(i));
  await router.query(`INSERT INTO users (uid, name, balance) VALUES ${uids.map(() => "(?, 'dash', '1.00')").join(', ')}`, uids);
  await router.query('UPDATE users SET balance = balance + 1 WHERE uid = ?', [uids[0]!]);
  for (const uid of uids.slice(0, 8)) await router.select('SELECT name FROM users WHERE uid = ?', [uid]);
  await router.select('SELECT COUNT(*) AS n FROM users', [], { scatter: true });
  await expect(router.query('SELECT no_such_column FROM users WHERE uid = ?', [uids[1]!])).rejects.toMatchObject({ code: 'QUERY_FAILED' });

  const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as Dashboard;
  const panelExprs = dashboardExpressions(dashboard).map((e) => ({ where: e.where, expr: toPromQL(e.expr) }));
  expect(panelExprs.length).toBeGreaterThan(20);
  expect(panelExprs.filter((e) => e.expr.includes('$'))).toEqual([]);

  const rules = (parse(readFileSync(alertsFile, 'utf8')) as RulesFile).groups.flatMap((g) => g.rules);
  const alertExprs = rules.map((r) => ({ where: `alert ${r.alert ?? r.record}`, expr: alertAsBool(r.expr) ?? `unparsed: ${r.expr}` }));
  expect(alertExprs.filter((a) => a.expr.startsWith('unparsed'))).toEqual([]);

  await until('expressions without data', () => withoutData([...panelExprs, ...alertExprs]), 90_000);

  const targets = (await (await fetch(`${spec.url}/api/v1/targets`)).json()) as {
    data: { activeTargets: { labels: { job: string }; health: string }[] };
  };
  expect(targets.data.activeTargets.map((t) => [t.labels.job, t.health]).sort()).toEqual([
    ['shardline-cdc', 'up'],
    ['shardline-router', 'up'],
  ]);

  // Prometheus loaded the file as rules and evaluates each without error; none fires on a healthy cluster.
  await until(
    'alert rules not evaluated cleanly',
    async () => {
      const body = (await (await fetch(`${spec.url}/api/v1/rules`)).json()) as {
        data: { groups: { rules: { name: string; health: string; state: string; lastError?: string }[] }[] };
      };
      const loaded = body.data.groups.flatMap((g) => g.rules);
      const names = loaded.map((r) => r.name).sort();
      const problems = loaded
        .filter((r) => r.health !== 'ok' || r.state !== 'inactive')
        .map((r) => `${r.name}: ${r.health} ${r.state} ${r.lastError ?? ''}`);
      return names.join() ===
        rules
          .map((r) => r.alert!)
          .sort()
          .join()
        ? problems
        : [`loaded ${names.join(', ')}`];
    },
    30_000,
  );

  // The alerts see real values: the readers are up and no breaker is open.
  const reading = await promQuery('max by (exported_instance) (shardline_cdc_instance_reading)');
  expect(
    Object.fromEntries(reading.data!.result.map((r) => [(r.metric as { exported_instance: string }).exported_instance, r.value[1]])),
  ).toEqual(Object.fromEntries(config.instances.map((i) => [i.name, '1'])));
  const breakers = await promQuery('max by (exported_instance) (shardline_breaker_state)');
  expect(breakers.data!.result.map((r) => r.value[1])).toEqual(config.instances.map(() => '0'));
}, 240_000);
