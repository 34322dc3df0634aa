/**
 * Where `keyloft run --build` puts its private secrets directory, and the sweep of directories
 * left behind by runs that were killed (SIGKILL, power loss of a container's process) before they
 * could remove their own.
 *
 * The directory is created under /dev/shm when that is a writable directory (tmpfs: memory, never
 * written to a disk), else under the system temp dir; KEYLOFT_TMPDIR overrides both. Its name
 * carries the pid of the keyloft process that owns it (`keyloft-secrets-<pid>-XXXXXX`), so a later
 * run can tell a live run's directory from a dead one's.
 */
import { accessSync, constants, lstatSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The tmpfs every Linux system mounts for shared memory. */
export const SHM_DIR = '/dev/shm';
export const SECRETS_DIR_PREFIX = 'keyloft-secrets-';
const OWNED_NAME = /^keyloft-secrets-([1-9]\d{0,9})-[A-Za-z0-9]{6}$/;

function usableDir(dir: string): boolean {
  try {
    if (!statSync(dir).isDirectory()) return false;
    accessSync(dir, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The parent of a new secrets directory: `override` (KEYLOFT_TMPDIR), else /dev/shm when usable, else the temp dir. */
export function secretsDirParent(override: string | undefined, shm = SHM_DIR): string {
  if (override) return override;
  return usableDir(shm) ? shm : tmpdir();
}

/** The mkdtemp prefix of a directory owned by process `pid`. */
export function secretsDirPrefix(parent: string, pid = process.pid): string {
  return join(parent, `${SECRETS_DIR_PREFIX}${pid}-`);
}

/** Whether a process with this pid exists (EPERM: it exists but belongs to someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes, under each of `parents`, the secrets directories whose owning process no longer
 * exists: only real directories (not symlinks) named `keyloft-secrets-<pid>-XXXXXX`, owned by
 * the current user, of a pid that is not running. Returns the paths removed. Never throws.
 */
export function sweepStaleSecretsDirs(parents: readonly string[]): string[] {
  const removed: string[] = [];
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  for (const parent of new Set(parents)) {
    let names: string[];
    try {
      names = readdirSync(parent);
    } catch {
      continue;
    }
    for (const name of names) {
      const m = OWNED_NAME.exec(name);
      if (!m) continue;
      const pid = Number(m[1]);
      if (pid === process.pid || alive(pid)) continue;
      const path = join(parent, name);
      try {
        const st = lstatSync(path);
        if (!st.isDirectory() || st.isSymbolicLink()) continue;
        if (uid !== undefined && st.uid !== uid) continue;
        rmSync(path, { recursive: true, force: true });
        removed.push(path);
      } catch {
        // vanished meanwhile, or not ours to remove
      }
    }
  }
  return removed;
}
