import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { DevClusterError, isShardlineError } from '../../errors/index.js';
import { probeService } from '../health.js';
import { probeRoles } from '../live-probe.js';
import { sourcesFirst, withLiveRoles } from '../live-roles.js';
import { provisioningServerId } from '../rejoin-plan.js';
import { tailFile } from '../log-tail.js';
import { findPortHolder, isSameProcess, processStartTime } from '../process-table.js';
import type { Reporter } from '../reporter.js';
import { clearServiceState, liveServiceState, readServiceState, writeServiceState } from '../service-state.js';
import type { ServiceSpec } from '../service-spec.js';
import { ensureStateDir, type StateDir } from '../state-dir.js';
import { stopProcess } from '../stop-process.js';
import { ElasticsearchService } from './elasticsearch-service.js';
import { KafkaService } from './kafka-service.js';
import { MysqlFamilyService } from './mysql-family.js';
import type { NativeService } from './native-service.js';
import { PrometheusService } from './prometheus-service.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What `up` did for each service. */
export interface UpOutcome {
  name: string;
  action: 'started' | 'already-running';
  seconds: number;
}

function serviceFor(spec: ServiceSpec, dir: StateDir): NativeService {
  switch (spec.kind) {
    case 'mysql':
    case 'mariadb':
      return new MysqlFamilyService(spec, dir);
    case 'kafka':
      return new KafkaService(spec, dir);
    case 'elasticsearch':
      return new ElasticsearchService(spec, dir);
    case 'prometheus':
      return new PrometheusService(spec, dir);
  }
}

/** Fails unless every port a service needs is free or held by the process we started for it. */
function checkPorts(specs: readonly ServiceSpec[], dir: StateDir): void {
  const problems: string[] = [];
  for (const spec of specs) {
    const ours = liveServiceState(dir, spec.name)?.pid;
    for (const port of [spec.port, ...spec.extraPorts]) {
      const holder = findPortHolder(port);
      if (!holder || (ours !== undefined && holder.pid === ours)) continue;
      const who = holder.pid === null ? 'another process (not visible to us)' : `pid ${holder.pid} (${holder.command ?? 'unknown'})`;
      problems.push(`port ${port} needed by ${spec.name} is in use by ${who}`);
    }
  }
  if (problems.length > 0) {
    throw new DevClusterError('DEV_PORT_IN_USE', problems.join('; '), { details: { problems } });
  }
}

/** Serialises concurrent `dev up`/`dev down` on one state folder. */
async function withLock<T>(dir: StateDir, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const lock = path.join(dir.run, 'cluster.lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, `${process.pid} ${processStartTime(process.pid) ?? ''}`);
      closeSync(fd);
      break;
    } catch {
      const [pid, start] = readFileSync(lock, 'utf8').split(' ');
      if (!pid || !isSameProcess(Number(pid), start || null)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new DevClusterError('DEV_START_FAILED', `another shardline dev command (pid ${pid}) holds ${lock}`);
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

async function waitFor(
  check: () => Promise<{ healthy: boolean; reason?: string }>,
  timeoutMs: number,
  alive: () => boolean,
): Promise<string | null> {
  const deadline = Date.now() + timeoutMs;
  let reason = 'no answer';
  while (Date.now() < deadline) {
    const h = await check();
    if (h.healthy) return null;
    reason = h.reason ?? reason;
    if (!alive()) return `the process exited (${reason})`;
    await sleep(300);
  }
  return `not healthy after ${Math.round(timeoutMs / 1000)} s (${reason})`;
}

/** The process `dev up` started for a service. */
type Running = { pid: number; startTime: string | null };

/** Initialises its data (first use), starts the process, records it and waits until it accepts work. */
async function startFresh(service: NativeService, dir: StateDir, reporter: Reporter, version: string, timeoutMs: number): Promise<Running> {
  const { spec } = service;
  let pid: number;
  try {
    await service.prepare();
    reporter.update(spec.name, `starting ${spec.kind} ${version}`);
    pid = await service.start();
  } catch (err) {
    throw unhealthy(service, err instanceof Error ? err.message : String(err), 'DEV_START_FAILED');
  }
  const startTime = processStartTime(pid);
  writeServiceState(dir, { name: spec.name, pid, startTime, version, startedAt: new Date().toISOString() });
  const notReady = await waitFor(
    () => service.ready(),
    timeoutMs,
    () => isSameProcess(pid, startTime),
  );
  if (notReady) throw unhealthy(service, notReady);
  return { pid, startTime };
}

/**
 * Rejoins a configured primary that another node replaced as a replica of that node (see
 * rejoin.ts). One holding errant transactions is stopped, its data directory wiped, and it
 * starts over as a fresh replica (with a warning naming the transactions it loses): it replays
 * the new primary's history from the beginning by GTID under a provisioning `server_id` (else it
 * would skip the transactions it wrote itself), then restarts with its own; the caller's
 * `bootstrap` finds replication configured and running.
 */
async function rejoinOrReprovision(
  service: NativeService,
  dir: StateDir,
  reporter: Reporter,
  running: Running,
  version: string,
  timeoutMs: number,
): Promise<Running> {
  const { spec } = service;
  const writer = spec.replicaOf?.name ?? '?';
  if (!service.rejoin || !service.discardData || !spec.sql) return running;
  // a re-provisioning that did not finish: its replay under the provisioning server_id must start over
  const unfinished = path.join(dir.run, `${spec.name}.reprovisioning`);
  let errant = existsSync(unfinished) ? 'none (an earlier re-provisioning did not finish)' : null;
  if (errant !== null) reporter.warn(`${spec.name}: an earlier re-provisioning did not finish (${unfinished}); starting it over`);
  else {
    reporter.update(spec.name, `rejoining as a replica of ${writer}`);
    const step = await service.rejoin().catch((err: unknown) => {
      throw unhealthy(
        service,
        `rejoining as a replica of ${writer}: ${err instanceof Error ? err.message : String(err)}`,
        'DEV_START_FAILED',
      );
    });
    if (step.action !== 'reprovision') return running;
    errant = step.errant;
    reporter.warn(
      `${spec.name} holds transactions that never reached ${writer}, which took over its writes (errant GTIDs: ${errant}): ` +
        `re-provisioning ${spec.name} as a fresh replica of ${writer} — its data directory is wiped and those transactions are lost`,
    );
  }
  reporter.update(spec.name, `re-provisioning as a fresh replica of ${writer}`);
  writeFileSync(unfinished, `${new Date().toISOString()} errant: ${errant}\n`);
  await stopProcess(running.pid, running.startTime);
  clearServiceState(dir, spec.name);
  service.discardData();
  const replay = serviceFor({ ...spec, sql: { ...spec.sql, serverId: provisioningServerId(spec.sql.serverId) } }, dir);
  await replay.install();
  const temp = await startFresh(replay, dir, reporter, version, timeoutMs);
  reporter.update(spec.name, `re-provisioning: replaying ${writer}'s history`);
  await replay.bootstrap().catch((err: unknown) => {
    throw unhealthy(replay, err instanceof Error ? err.message : String(err), 'DEV_START_FAILED');
  });
  const behind = await waitFor(
    () => (replay.settled ? replay.settled() : probeService(replay.spec)),
    timeoutMs,
    () => isSameProcess(temp.pid, temp.startTime),
  );
  if (behind) throw unhealthy(replay, `re-provisioning from ${writer}: ${behind}`);
  await stopProcess(temp.pid, temp.startTime);
  clearServiceState(dir, spec.name);
  rmSync(unfinished, { force: true });
  return startFresh(service, dir, reporter, version, timeoutMs);
}

async function bringUp(service: NativeService, dir: StateDir, reporter: Reporter, timeoutMs: number): Promise<UpOutcome> {
  const { spec } = service;
  const t0 = Date.now();
  const secs = () => (Date.now() - t0) / 1000;
  const live = liveServiceState(dir, spec.name);
  const settled = () => (service.settled ? service.settled() : probeService(spec));
  if (live) {
    if ((await probeService(spec)).healthy) {
      reporter.update(spec.name, `already running (pid ${live.pid})`, 'ok');
      return { name: spec.name, action: 'already-running', seconds: secs() };
    }
    reporter.update(spec.name, `pid ${live.pid} is running, waiting for health`);
    let running: Running = live;
    if (spec.rejoin) running = await rejoinOrReprovision(service, dir, reporter, running, live.version, timeoutMs);
    if (spec.replicaOf) {
      // a running replica whose replication stopped: start it again (its last error shows if it stops again)
      await service.bootstrap().catch(() => undefined);
    }
    const failure = await waitFor(settled, timeoutMs, () => isSameProcess(running.pid, running.startTime));
    if (failure) throw unhealthy(service, failure);
    reporter.update(spec.name, `healthy (pid ${running.pid})`, 'ok');
    return { name: spec.name, action: 'already-running', seconds: secs() };
  }
  clearServiceState(dir, spec.name);
  reporter.update(spec.name, 'installing');
  for (const w of await service.install()) reporter.warn(w);
  const version = await service.version();
  reporter.update(spec.name, `preparing ${spec.kind} ${version}`);
  let running = await startFresh(service, dir, reporter, version, timeoutMs);
  // a configured primary another node replaced: started fenced (a replica's options), it rejoins as that node's replica
  if (spec.rejoin) running = await rejoinOrReprovision(service, dir, reporter, running, version, timeoutMs);
  const { pid } = running;
  const alive = () => isSameProcess(running.pid, running.startTime);
  try {
    await service.bootstrap();
  } catch (err) {
    throw unhealthy(service, err instanceof Error ? err.message : String(err), 'DEV_START_FAILED');
  }
  // a replica is healthy once replication runs and the accounts arrived by it: give it the whole timeout
  const failure = await waitFor(settled, spec.replicaOf ? timeoutMs : Math.min(timeoutMs, 30_000), alive);
  if (failure) throw unhealthy(service, failure);
  reporter.update(spec.name, `${spec.kind} ${version} healthy on ${spec.host}:${spec.port} in ${secs().toFixed(1)} s (pid ${pid})`, 'ok');
  return { name: spec.name, action: 'started', seconds: secs() };
}

function unhealthy(service: NativeService, why: string, code: 'DEV_UNHEALTHY' | 'DEV_START_FAILED' = 'DEV_UNHEALTHY'): DevClusterError {
  const tail = tailFile(service.logFile, 30);
  return new DevClusterError(code, `${service.spec.name}: ${why}\n--- last lines of ${service.logFile} ---\n${tail || '(empty)'}`, {
    details: { service: service.spec.name, log: service.logFile },
  });
}

/**
 * Starts every service that is not already running and healthy, in parallel, and waits for
 * health. On any failure the services this call started are stopped again, so nothing is left
 * half-started, and the error carries the failing service's log tail.
 */
export async function nativeUp(
  configured: readonly ServiceSpec[],
  options: { dir: StateDir; reporter: Reporter; timeoutMs: number },
): Promise<UpOutcome[]> {
  const { dir, reporter, timeoutMs } = options;
  ensureStateDir(dir);
  return withLock(dir, timeoutMs, async () => {
    // the roles the running servers have (a failover may have moved an instance's writes to a replica)
    const live = withLiveRoles(configured, await probeRoles(configured, { running: (name) => liveServiceState(dir, name) !== null }));
    if (live.conflicts.length > 0) {
      throw new DevClusterError(
        'DEV_START_FAILED',
        `more than one node takes writes (${live.conflicts.join('; ')}): make all but one a replica by hand (e.g. \`shardline failover --planned\`) before \`dev up\``,
      );
    }
    const specs = sourcesFirst(live.specs);
    checkPorts(specs, dir);
    const services = specs.map((s) => serviceFor(s, dir));
    const before = new Set(specs.filter((s) => liveServiceState(dir, s.name)).map((s) => s.name));
    // replicas start once their primary is healthy and bootstrapped (replicas of different primaries in parallel)
    const started = new Map<string, Promise<UpOutcome>>();
    for (const svc of services) {
      const primary = svc.spec.replicaOf ? started.get(svc.spec.replicaOf.name) : undefined;
      if (primary) reporter.update(svc.spec.name, `waiting for its primary ${svc.spec.replicaOf!.name}`);
      started.set(
        svc.spec.name,
        primary
          ? primary.then(
              () => bringUp(svc, dir, reporter, timeoutMs),
              () => {
                throw new DevClusterError(
                  'DEV_START_FAILED',
                  `${svc.spec.name}: not started, its primary ${svc.spec.replicaOf!.name} failed`,
                );
              },
            )
          : bringUp(svc, dir, reporter, timeoutMs),
      );
    }
    const results = await Promise.allSettled([...started.values()]);
    const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [{ spec: specs[i]!, error: r.reason as unknown }] : []));
    for (const f of failures) reporter.update(f.spec.name, 'failed', 'fail');
    if (failures.length === 0) {
      reporter.close();
      return results.map((r) => (r as PromiseFulfilledResult<UpOutcome>).value);
    }
    reporter.update('cluster', 'stopping what this run started');
    await stopNative(
      specs.filter((s) => !before.has(s.name)),
      dir,
    );
    reporter.close();
    const first = failures[0]!.error;
    if (isShardlineError(first) && failures.length === 1) throw first;
    throw new DevClusterError(
      isShardlineError(first) ? first.code : 'DEV_START_FAILED',
      failures.map((f) => (f.error instanceof Error ? f.error.message : String(f.error))).join('\n\n'),
      { cause: first },
    );
  });
}

/** Stops exactly the processes recorded in the state folder (and only if still the same process). */
export async function stopNative(
  specs: readonly ServiceSpec[],
  dir: StateDir,
): Promise<{ name: string; stopped: boolean; killed: boolean }[]> {
  return Promise.all(
    specs.map(async (spec) => {
      const state = readServiceState(dir, spec.name);
      if (!state) return { name: spec.name, stopped: false, killed: false };
      const running = isSameProcess(state.pid, state.startTime);
      const killed = running ? await stopProcess(state.pid, state.startTime) : false;
      clearServiceState(dir, spec.name);
      return { name: spec.name, stopped: running, killed };
    }),
  );
}

/** `dev down` for the native path, under the cluster lock. */
export async function nativeDown(
  specs: readonly ServiceSpec[],
  dir: StateDir,
): Promise<{ name: string; stopped: boolean; killed: boolean }[]> {
  ensureStateDir(dir);
  return withLock(dir, 120_000, () => stopNative(specs, dir));
}
