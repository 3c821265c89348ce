import { spawn } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../../src/config/index.js';

const main = path.join(packageRoot, 'dist', 'cli', 'main.js');

/** Runs the built CLI; with `tty`, under `script` so stdout and stderr are a pseudo-terminal (their output merged, as a person sees it). */
function run(args: string[], tty: boolean, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
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
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
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
    expect(res.code).toBe(0);
    for (const step of ['1. the local cluster', '2. migrations', '3. the CDC worker', '8. updates and deletes', '9. commit', 'done.'])
      expect(lines.some((l) => l.includes(step))).toBe(true);
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
