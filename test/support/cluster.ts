import { execFile, execFileSync } from 'node:child_process';
import path from 'node:path';
import {
  ALL_SECTIONS,
  bundledClusterConfig,
  loadClusterConfig,
  packageRoot,
  requireSections,
  type CdcClusterConfig,
} from '../../src/config/index.js';
import type { ServiceStatus } from '../../src/devcluster/index.js';

/** The cluster config every integration test reads (the same file as the dev cluster and demo): every section. */
export function testConfig(): CdcClusterConfig {
  return requireSections(loadClusterConfig(process.env['SHARDLINE_CONFIG'] || bundledClusterConfig), ALL_SECTIONS, 'the integration tests');
}

/** Runs the built CLI and returns its stdout; throws with stderr on a non-zero exit. */
export function shardline(...args: string[]): string {
  return execFileSync(process.execPath, [path.join(packageRoot, 'dist', 'cli', 'main.js'), ...args], {
    cwd: packageRoot,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs the CLI with `--json`, expecting it to fail: the error of its JSON body. */
export function shardlineFailing(...args: string[]): { code: string; message: string } {
  try {
    shardline(...args, '--json');
  } catch (err) {
    return (JSON.parse(String((err as { stdout: string }).stdout)) as { error: { code: string; message: string } }).error;
  }
  throw new Error(`shardline ${args.join(' ')} succeeded`);
}

/**
 * Runs the built CLI without blocking this process's event loop (routers open here keep serving
 * and watching while it runs); resolves with stdout, rejects with stderr on a non-zero exit.
 */
export function shardlineAsync(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [path.join(packageRoot, 'dist', 'cli', 'main.js'), ...args],
      { cwd: packageRoot, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => (err ? reject(new Error(`shardline ${args.join(' ')} failed: ${stderr || err.message}`)) : resolve(stdout)),
    );
  });
}

/** `shardline dev status --json`. */
export function devStatusJson(): ServiceStatus[] {
  return JSON.parse(shardline('dev', 'status', '--json')) as ServiceStatus[];
}
