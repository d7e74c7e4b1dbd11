import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';

const REASONS: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is used up',
  EROFS: 'the file system is read-only',
  EIO: 'the disk reported an I/O error',
};

/** An error of the disk under a run folder, as a user error that names the file and the way on; undefined for other errors. */
export function diskError(error: unknown, runDir: string): UserError | undefined {
  const e = error as NodeJS.ErrnoException;
  const reason = e?.code ? REASONS[e.code] : undefined;
  if (!reason) return undefined;
  const where = e.path ? ` writing ${path.relative(process.cwd(), e.path) || e.path}` : '';
  return new UserError(`${reason}${where}`, [], `free space (old checkpoints, runs/.cache) and continue with \`tlpipe resume ${path.relative(process.cwd(), runDir) || runDir}\``);
}
