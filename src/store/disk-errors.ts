import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';

/** What a file-system error code means to a person; codes not here are not the environment's doing. */
const REASONS: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is used up',
  EROFS: 'the file system is read-only',
  EIO: 'the disk reported an I/O error',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ELOOP: 'a symbolic link loops',
  EISDIR: 'a folder is where a file should be',
  ENOTDIR: 'a file is where a folder should be',
  ENOTSUP: 'the file system there does not allow it (no new folders on /proc, say)',
  EMFILE: 'too many files are open',
  ENFILE: 'too many files are open',
};

/** A path as typed from the working folder; one outside it stays absolute (`/proc/x`, not `../../proc/x`). */
const shown = (file: string): string => {
  const relative = path.relative(process.cwd(), file);
  return relative === '' || relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
};

/**
 * An error of the file system (a full disk, a read-only or unreadable
 * folder, a run folder deleted mid-run) as a user error that names the path
 * and the way on; undefined for anything else, which is a bug.
 */
export function fileSystemError(error: unknown, runDir?: string): UserError | undefined {
  const e = error as NodeJS.ErrnoException;
  if (!e || typeof e !== 'object' || typeof e.code !== 'string') return undefined;
  // Space and read-only errors come from writing; the others may come from reading too.
  const writing = ['ENOSPC', 'EDQUOT', 'EROFS'].includes(e.code);
  const where = e.path ? (writing ? ` writing ${shown(e.path)}` : ` (${shown(e.path)})`) : '';
  const resume = runDir ? ` and continue with \`tlpipe resume ${shown(runDir)}\`` : '';
  if (e.code === 'ENOENT' && runDir && e.path?.startsWith(runDir)) {
    return new UserError(
      `the run folder ${shown(runDir)} was removed or moved while the run was writing it${where}`,
      [],
      'start the run again; nothing of this one is left to resume',
    );
  }
  const reason = REASONS[e.code];
  if (!reason) return undefined;
  const hint =
    e.code === 'ENOSPC' || e.code === 'EDQUOT'
      ? `free space (old checkpoints, runs/.cache)${resume}`
      : e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS'
        ? `make the folder writable, or pass --runs with a folder that is${resume}`
        : `check the path${resume}`;
  return new UserError(`${reason}${where}`, [], hint);
}
