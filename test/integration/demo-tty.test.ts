import { spawn } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../../src/config/index.js';

const main = path.join(packageRoot, 'dist', 'cli', 'main.js');

/** Runs the built CLI; with `tty`, under `script` so stdout and stderr are a pseudo-terminal (their output merged, as a person sees it). */
function run(
  args: string[],
  tty: boolean,
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  const quoted = [process.execPath, main, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const [cmd, argv] = tty ? ['script', ['-qfec', quoted, '/dev/null']] : [process.execPath, [main, ...args]];
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env['SHARDLINE_LOG_FORMAT'];
    delete env['CI'];
    const child = spawn(cmd as string, argv as string[], { cwd: packageRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

/** The lines a terminal shows: carriage returns and ANSI control sequences split or removed. */
function screenLines(text: string): string[] {
  return (
    text
      .split(/\r\n|\n|\r/)
      // eslint-disable-next-line no-control-regex -- ANSI escape sequences are what is removed
      .map((l) => l.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ''))
      .filter((l) => l.trim() !== '')
  );
}

describe('human output on a terminal, JSON logs otherwise', () => {
  it('the demo on a pseudo-TTY: every step, no JSON log line and no kafkajs retry warning between them', async () => {
    const res = await run(['demo'], true, 300_000);
    const lines = screenLines(res.stdout);
    // `script` killed by the timeout exits 0: say so, with what the demo had shown by then.
    const steps = ['1. the local cluster', '2. migrations', '3. the CDC worker', '8. updates and deletes', '9. commit', 'done.'];
    const missing = steps.filter((step) => !lines.some((l) => l.includes(step)));
    expect({ timedOut: res.timedOut, missing, shown: missing.length || res.timedOut ? lines.slice(-25) : [] }).toEqual({
      timedOut: false,
      missing: [],
      shown: [],
    });
    expect(res.code).toBe(0);
    expect(lines.filter((l) => l.trimStart().startsWith('{'))).toEqual([]);
    expect(lines.filter((l) => /kafkajs|KafkaJS|retrying|"level"/.test(l))).toEqual([]);
    // Item 12 as a user sees it: a deleted row is not found by id through the alias.
    expect(lines.find((l) => l.includes('uid 1995 (deleted)'))).toContain('GET by id found: false');
    const logLine = lines.find((l) => l.includes('the worker logs to '));
    expect(logLine).toBeDefined();
  }, 320_000);

  it('migrate: on a TTY the progress bar leaves no log line; without one, the same run logs JSON on stderr', async () => {
    const args = [
      'migrate',
      '--config',
      path.join(packageRoot, 'examples', 'local-cluster.yaml'),
      '--dir',
      path.join(packageRoot, 'migrations'),
    ];
    const tty = await run(args, true, 120_000);
    expect(tty.code).toBe(0);
    const lines = screenLines(tty.stdout);
    expect(lines.some((l) => /^applied \d+ statement\(s\)/.test(l))).toBe(true);
    expect(lines.filter((l) => l.includes('{"level"'))).toEqual([]);

    const piped = await run(args, false, 120_000);
    expect(piped.code).toBe(0);
    const json = piped.stderr.split('\n').filter((l) => l.startsWith('{"level"'));
    expect(json.length).toBeGreaterThan(0);
    expect(JSON.parse(json[json.length - 1]!)).toMatchObject({ level: 30, operation: 'migrate', name: 'shardline' });
  }, 260_000);
});
