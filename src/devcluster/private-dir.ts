import { lstatSync, mkdirSync, statSync } from 'node:fs';
import { DevClusterError } from '../errors/index.js';

/** What {@link privateDirProblem} looks at (a subset of `fs.Stats`). */
export interface DirFacts {
  uid: number;
  mode: number;
  isDirectory: boolean;
  isSymbolicLink: boolean;
}

/**
 * Why a state folder cannot be trusted, or null: it must be a directory (not a symbolic link
 * when `noSymlink`), owned by `uid`, and writable by nobody else (no group or world write bit).
 */
export function privateDirProblem(facts: DirFacts, uid: number, options: { noSymlink?: boolean } = {}): string | null {
  if (facts.isSymbolicLink && options.noSymlink) return 'is a symbolic link (expected a directory of its own)';
  if (!facts.isDirectory) return 'is not a directory';
  if (facts.uid !== uid) return `is owned by uid ${facts.uid}, expected uid ${uid} (the user running shardline)`;
  if ((facts.mode & 0o022) !== 0)
    return `is ${(facts.mode & 0o002) !== 0 ? 'world' : 'group'}-writable (mode ${(facts.mode & 0o777).toString(8).padStart(4, '0')}); expected no write access for group or others`;
  return null;
}

/**
 * Creates `dir` (and missing parents) with mode 0700, or checks the one that exists: owned by this
 * user and writable by nobody else. An existing folder's mode is never changed (a running
 * cluster's services may rely on it), only checked. `noSymlink` refuses a symbolic link (for
 * folders in shared places like /tmp, where another user could plant one).
 * @throws {DevClusterError} `DEV_STATE_DIR_UNSAFE`.
 */
export function ensurePrivateDir(dir: string, options: { noSymlink?: boolean } = {}): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
  if (uid === -1) return;
  const link = lstatSync(dir);
  const st = link.isSymbolicLink() && !options.noSymlink ? statSync(dir) : link;
  const problem = privateDirProblem(
    { uid: st.uid, mode: st.mode, isDirectory: st.isDirectory(), isSymbolicLink: link.isSymbolicLink() },
    uid,
    options,
  );
  if (problem) {
    throw new DevClusterError('DEV_STATE_DIR_UNSAFE', `the dev cluster's state folder ${dir} ${problem}; refusing to use it`, {
      details: { dir },
    });
  }
}
