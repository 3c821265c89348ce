import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ClusterConfig } from '../config/index.js';
import type { Logger } from '../log/logger.js';
import { checkBindHosts } from './bind-policy.js';
import { clusterStatus, type ServiceStatus } from './cluster-status.js';
import { dockerDown, dockerEngineAvailable, dockerUp } from './docker/docker-cluster.js';
import { probeRoles } from './live-probe.js';
import { withLiveRoles } from './live-roles.js';
import { nativeDown, nativeUp, type UpOutcome } from './local/native-cluster.js';
import { createReporter } from './reporter.js';
import { withDevTls } from './dev-tls.js';
import { describePrometheus, OPTIONAL_SERVICES, type OptionalService } from './prometheus-spec.js';
import { liveServiceState } from './service-state.js';
import { describeServices, type ServiceSpec } from './service-spec.js';
import { ensureStateDir, stateDir, type StateDir } from './state-dir.js';

/** How the local cluster runs. */
export type DevMode = 'docker' | 'native';

/** Options of `shardline dev up`. */
export interface DevUpOptions {
  mode?: DevMode;
  timeoutMs?: number;
  log: Logger;
  dir?: StateDir;
  /**
   * Let services with authentication listen beyond loopback (default: `$SHARDLINE_DEV_ALLOW_REMOTE`
   * is `1`). Services without authentication stay on loopback regardless.
   */
  allowRemote?: boolean;
  /** Serve TLS too, with a CA of the cluster's own (see `withDevTls`). */
  tls?: boolean;
  /** Optional services to start too (`prometheus`: scrapes the CDC worker, loads the bundled alert rules). */
  with?: readonly OptionalService[];
}

/** The optional services' specs: those asked for (`up`), all of them (`down`), or those running (`status`). */
function optionalSpecs(config: ClusterConfig, wanted: readonly OptionalService[]): ServiceSpec[] {
  return wanted.includes('prometheus') ? [describePrometheus(config)] : [];
}

function runningOptional(dir: StateDir): OptionalService[] {
  return OPTIONAL_SERVICES.filter((name) => liveServiceState(dir, name) !== null);
}

function modeFile(dir: StateDir): string {
  return path.join(dir.run, 'mode');
}

/** The mode the running cluster was started with, if any. */
export function recordedMode(dir: StateDir = stateDir()): DevMode | null {
  const f = modeFile(dir);
  return existsSync(f) ? (readFileSync(f, 'utf8').trim() as DevMode) : null;
}

/**
 * Brings the local cluster up: Docker Compose when an engine answers (or `mode: 'docker'`),
 * the native path otherwise. Idempotent: healthy services are left alone. Refuses hosts beyond
 * loopback (`DEV_INSECURE_BIND`) and a state folder others can write (`DEV_STATE_DIR_UNSAFE`).
 */
export async function devUp(config: ClusterConfig, options: DevUpOptions): Promise<{ mode: DevMode; outcomes: UpOutcome[] }> {
  const plain = [...describeServices(config), ...optionalSpecs(config, options.with ?? [])];
  checkBindHosts(plain, options.allowRemote ?? process.env['SHARDLINE_DEV_ALLOW_REMOTE'] === '1');
  const dir = options.dir ?? stateDir();
  ensureStateDir(dir);
  const specs = options.tls ? await withDevTls(plain, config, dir) : plain;
  const timeoutMs = options.timeoutMs ?? 180_000;
  const mode = options.mode ?? recordedMode(dir) ?? ((await dockerEngineAvailable()) ? 'docker' : 'native');
  if (mode === 'docker') {
    await dockerUp(specs, timeoutMs);
    writeFileSync(modeFile(dir), 'docker\n');
    return { mode, outcomes: specs.map((s) => ({ name: s.name, action: 'started', seconds: 0 })) };
  }
  writeFileSync(modeFile(dir), 'native\n');
  const reporter = createReporter(
    options.log,
    specs.map((s) => s.name),
  );
  const outcomes = await nativeUp(specs, { dir, reporter, timeoutMs });
  return { mode, outcomes };
}

/** Stops what `devUp` started: the compose project, or exactly the native processes in the pid files. */
export async function devDown(
  config: ClusterConfig,
  options: { mode?: DevMode; dir?: StateDir } = {},
): Promise<{ name: string; stopped: boolean }[]> {
  const dir = options.dir ?? stateDir();
  const specs = [...describeServices(config), ...optionalSpecs(config, OPTIONAL_SERVICES)];
  const mode = options.mode ?? recordedMode(dir) ?? 'native';
  let result: { name: string; stopped: boolean }[];
  if (mode === 'docker') {
    await dockerDown();
    result = specs.map((s) => ({ name: s.name, stopped: true }));
  } else {
    result = await nativeDown(specs, dir);
  }
  rmSync(modeFile(dir), { force: true });
  return result;
}

/**
 * Live status of every service in the config, and of the optional services `dev up --with`
 * started. Roles are the servers' own: after a failover the replica that took over is listed as
 * the instance's primary (role `shard`) and the old primary as its replica, each probed as such.
 */
export async function devStatus(config: ClusterConfig, dir: StateDir = stateDir()): Promise<ServiceStatus[]> {
  const specs = [...describeServices(config), ...optionalSpecs(config, runningOptional(dir))];
  const live = withLiveRoles(specs, await probeRoles(specs));
  // two writers in one instance: shown as configured (`dev up` refuses to go on)
  return clusterStatus(live.specs, dir);
}
