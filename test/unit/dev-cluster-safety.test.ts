import { chmodSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { bundledClusterConfig, loadClusterConfig } from '../../src/config/index.js';
import { bindHostProblems, checkBindHosts, isLoopbackHost } from '../../src/devcluster/bind-policy.js';
import { ensurePrivateDir, privateDirProblem } from '../../src/devcluster/private-dir.js';
import { describeServices, stateDir } from '../../src/devcluster/index.js';
import { ensureStateDir } from '../../src/devcluster/state-dir.js';
import { DevClusterError } from '../../src/errors/index.js';

const uid = process.getuid!();
const specs = () => describeServices(loadClusterConfig(bundledClusterConfig, {}));

describe('bind policy', () => {
  it('knows loopback from everything else', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'])
      expect([h, isLoopbackHost(h)]).toEqual([h, true]);
    for (const h of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.1', 'db.example.com', '128.0.0.1', '::ffff:10.0.0.1', ''])
      expect([h, isLoopbackHost(h)]).toEqual([h, false]);
  });

  it('accepts the bundled cluster (everything on 127.0.0.1)', () => {
    expect(bindHostProblems(specs(), false)).toEqual([]);
  });

  it('refuses a non-loopback host unless allowed, and always for services without authentication', () => {
    const all = specs().map((s) => ({ ...s, host: '0.0.0.0' }));
    const refused = bindHostProblems(all, false);
    expect(refused).toHaveLength(all.length);
    const allowed = bindHostProblems(all, true);
    expect(allowed).toEqual([
      expect.stringMatching(
        /^kafka would listen on 0\.0\.0\.0, which is not loopback, and the dev broker always serves a PLAINTEXT listener/,
      ),
      expect.stringMatching(/^elasticsearch would listen on 0\.0\.0\.0, which is not loopback, and the dev node runs with security off/),
    ]);
    const emptyPassword = { ...all[0]!, sql: { ...all[0]!.sql!, password: '' } };
    expect(bindHostProblems([emptyPassword], true)).toEqual([expect.stringContaining('an account has an empty password')]);
    expect(() => checkBindHosts(all, true)).toThrow(DevClusterError);
    try {
      checkBindHosts(all, false);
    } catch (err) {
      expect((err as DevClusterError).code).toBe('DEV_INSECURE_BIND');
    }
  });
});

describe('private state folders', () => {
  const facts = { uid, mode: 0o40700, isDirectory: true, isSymbolicLink: false };

  it('privateDirProblem: owner, group/world write, type', () => {
    expect(privateDirProblem(facts, uid)).toBeNull();
    expect(privateDirProblem({ ...facts, mode: 0o40755 }, uid)).toBeNull();
    expect(privateDirProblem({ ...facts, uid: uid + 1 }, uid)).toMatch(/owned by uid \d+, expected uid/);
    expect(privateDirProblem({ ...facts, mode: 0o41777 }, uid)).toMatch(/world-writable \(mode 0777\)/);
    expect(privateDirProblem({ ...facts, mode: 0o40770 }, uid)).toMatch(/group-writable/);
    expect(privateDirProblem({ ...facts, isDirectory: false }, uid)).toBe('is not a directory');
    expect(privateDirProblem({ ...facts, isSymbolicLink: true }, uid, { noSymlink: true })).toMatch(/symbolic link/);
  });

  it('creates the state folder, run and logs with mode 0700 and refuses a world-writable one', () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'shardline-state-'));
    try {
      const dir = stateDir(path.join(base, 'fresh', 'state'));
      ensureStateDir(dir);
      for (const d of [dir.root, dir.run, dir.logs]) expect((lstatMode(d) & 0o777).toString(8)).toBe('700');
      const open = path.join(base, 'open');
      mkdirSync(open);
      chmodSync(open, 0o777);
      expect(() => ensureStateDir(stateDir(open))).toThrow(expect.objectContaining({ code: 'DEV_STATE_DIR_UNSAFE' }));
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('refuses a planted /tmp socket folder (symlink or world-writable) for long state paths', () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'shardline-state-'));
    const root = path.resolve(path.join(base, 'x'.repeat(90)));
    const short = path.join('/tmp', `shardline-${createHash('sha1').update(root).digest('hex').slice(0, 10)}`);
    try {
      mkdirSync(short, { mode: 0o777 });
      chmodSync(short, 0o777);
      expect(() => stateDir(root).socket('shard-0')).toThrow(expect.objectContaining({ code: 'DEV_STATE_DIR_UNSAFE' }));
      rmSync(short, { recursive: true });
      symlinkSync(base, short);
      expect(() => stateDir(root).socket('shard-0')).toThrow(expect.objectContaining({ code: 'DEV_STATE_DIR_UNSAFE' }));
      rmSync(short);
      expect(stateDir(root).socket('shard-0')).toBe(path.join(short, 'shard-0.sock'));
      expect((lstatMode(short) & 0o777).toString(8)).toBe('700');
    } finally {
      rmSync(short, { recursive: true, force: true });
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('ensurePrivateDir never loosens or tightens an existing folder it accepts', () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'shardline-state-'));
    try {
      chmodSync(base, 0o755);
      ensurePrivateDir(base);
      expect((lstatMode(base) & 0o777).toString(8)).toBe('755');
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

function lstatMode(p: string): number {
  return lstatSync(p).mode;
}
