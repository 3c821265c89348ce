import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { packageRoot } from '../../src/config/index.js';
import { shardline } from './cluster.js';

interface MoveRow {
  id: string;
  shards: string;
  from: string;
  to: string;
  phase: string;
}

/**
 * Brings the local cluster back to its shard map after a reshard test that stopped half-way: an
 * unfinished move is resumed to its end, shards a test moved to `shard-4` go home, fenced tables
 * are dropped. Without it one failed test leaves a move that refuses every later one.
 */
export function settleMoves(log: (m: string) => void = (m) => console.error(m)): void {
  const moves = (JSON.parse(shardline('reshard', 'status', '--json')) as { moves: MoveRow[] }).moves;
  for (const m of moves.filter((x) => x.phase !== 'done' && x.phase !== 'aborted')) {
    for (const to of m.to === 'shard-4' ? [m.to, m.from] : [m.to]) {
      try {
        shardline('reshard', 'move', '--shards', m.shards, '--to', to, '--json');
        log(`[reshard] settled ${m.id}: shards ${m.shards} on ${to}`);
      } catch (err) {
        log(`[reshard] settling ${m.id} to ${to} failed: ${String((err as { stdout?: string }).stdout || err)}`);
      }
    }
  }
  shardline('reshard', 'cleanup', '--json');
}

/**
 * Starts `reshard move --shards <list> --to shard-4` with SHARDLINE_FAILPOINT=<failpoint> and
 * waits until it is held there (the process stays alive, holding the move, until killed).
 */
export async function moveHeldAtFailpoint(
  list: string,
  failpoint: string,
  timeoutMs = 120_000,
): Promise<{ child: ChildProcess; exited: Promise<unknown> }> {
  const child = spawn(
    process.execPath,
    [path.join(packageRoot, 'dist/cli/main.js'), 'reshard', 'move', '--shards', list, '--to', 'shard-4', '--json'],
    {
      cwd: packageRoot,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, SHARDLINE_FAILPOINT: failpoint },
    },
  );
  const exited = new Promise((r) => child.once('exit', r));
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const text = `failpoint ${failpoint} reached`;
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline && !err.includes(text);) await sleep(20);
  if (!err.includes(text)) throw new Error(`no "${text}" on the move's stderr: ${err.slice(-2000)}`);
  return { child, exited };
}
