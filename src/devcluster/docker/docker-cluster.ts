import path from 'node:path';
import { packageRoot } from '../../config/index.js';
import { DevClusterError } from '../../errors/index.js';
import { openMysqlSession } from '../../net/index.js';
import { bootstrapAccounts } from '../bootstrap-accounts.js';
import { run } from '../local/spawn.js';
import type { ServiceSpec } from '../service-spec.js';

const COMPOSE_FILE = path.join(packageRoot, 'docker-compose.yml');
const PROJECT = 'shardline';
/** docker-compose.yml's one-shot service that starts replication on the read replicas (scripts/compose-replica-setup.sh). */
export const REPLICA_SETUP = 'replica-setup';

/** True when a Docker engine answers (the client alone is not enough). */
export async function dockerEngineAvailable(): Promise<boolean> {
  try {
    const info = await Promise.race([
      run('docker', ['info', '--format', '{{.ServerVersion}}']),
      new Promise<null>((r) => setTimeout(() => r(null), 5000).unref()),
    ]);
    return info !== null && info.code === 0 && info.stdout.trim().length > 0;
  } catch {
    return false;
  }
}

async function compose(args: string[], profiles: string[] = []): Promise<void> {
  const result = await run('docker', ['compose', '-f', COMPOSE_FILE, '-p', PROJECT, ...profiles.flatMap((p) => ['--profile', p]), ...args]);
  if (result.code !== 0) {
    throw new DevClusterError(
      'DEV_START_FAILED',
      `docker compose ${args[0]} failed (exit ${result.code}):\n${(result.stderr || result.stdout).trim().split('\n').slice(-30).join('\n')}`,
    );
  }
}

/**
 * `dev up --docker`: compose up with health waits, replication on the read replicas (the
 * replica-setup service), then the same account bootstrap as the native path on every primary.
 */
export async function dockerUp(specs: readonly ServiceSpec[], timeoutMs: number): Promise<void> {
  if (!(await dockerEngineAvailable())) {
    throw new DevClusterError('DEV_DOCKER_UNAVAILABLE', 'no Docker engine answers `docker info`; use `shardline dev up --native`');
  }
  const profiles = specs.some((s) => s.kind === 'prometheus') ? ['prometheus'] : [];
  // the services by name, so `--wait` does not see the one-shot replica-setup exit; it runs next
  const names = specs.map((s) => s.name);
  await compose(['up', '--detach', '--wait', '--wait-timeout', String(Math.ceil(timeoutMs / 1000)), ...names], profiles);
  if (specs.some((s) => s.replicaOf)) await compose(['run', '--rm', REPLICA_SETUP]);
  // replicas get the accounts by replication (compose's replica-setup service): a local write would be an errant GTID
  for (const spec of specs.filter((s) => s.sql && !s.replicaOf)) {
    const session = await openMysqlSession({ host: spec.host, port: spec.port, user: 'root', password: '' });
    try {
      await bootstrapAccounts(session, spec);
    } finally {
      await session.close();
    }
  }
}

/** `dev down --docker`: stops and removes the compose project's containers, Prometheus's too (volumes are kept). */
export async function dockerDown(): Promise<void> {
  await compose(['down'], ['prometheus']);
}
