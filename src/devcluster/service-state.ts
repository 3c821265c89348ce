import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { StateDir } from './state-dir.js';
import { isSameProcess } from './process-table.js';

/** What `dev up` records for each process it started. */
export interface ServiceState {
  name: string;
  pid: number;
  /** Kernel start time of `pid`, so a reused pid is never mistaken for ours. */
  startTime: string | null;
  version: string;
  startedAt: string;
}

function file(dir: StateDir, name: string): string {
  return path.join(dir.run, `${name}.json`);
}

export function readServiceState(dir: StateDir, name: string): ServiceState | null {
  const f = file(dir, name);
  if (!existsSync(f)) return null;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as ServiceState;
  } catch {
    return null;
  }
}

export function writeServiceState(dir: StateDir, state: ServiceState): void {
  writeFileSync(file(dir, state.name), `${JSON.stringify(state, null, 2)}\n`);
}

export function clearServiceState(dir: StateDir, name: string): void {
  rmSync(file(dir, name), { force: true });
}

/** The recorded state when its process is still the one we started, else null. */
export function liveServiceState(dir: StateDir, name: string): ServiceState | null {
  const state = readServiceState(dir, name);
  return state && isSameProcess(state.pid, state.startTime) ? state : null;
}
