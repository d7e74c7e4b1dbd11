import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { KeyPath } from '../diagnostics/diagnostic.js';
import { UserError } from '../diagnostics/user-error.js';
import { kindOf } from '../platform/read-back.js';
import { setting } from '../platform/settings.js';

/**
 * What tlpipe reads of a kind of file at most, in MiB. A bigger file is
 * refused before it is read, so a wrong path (a disk image, a video) costs
 * nothing; `TLPIPE_MAX_FILE_MB` raises (or lowers) every limit at once.
 */
export const FILE_LIMITS_MB = { image: 256, csv: 1024, idx: 4096, model: 64, weights: 4096 } as const;
export type FileKind = keyof typeof FILE_LIMITS_MB;

export function fileLimitBytes(kind: FileKind): number {
  return (setting('TLPIPE_MAX_FILE_MB') ?? FILE_LIMITS_MB[kind]) * 2 ** 20;
}

const WHAT: Readonly<Record<FileKind, string>> = {
  image: 'image file',
  csv: 'CSV file',
  idx: 'IDX file',
  model: 'model file',
  weights: 'weight file',
};

/** Why a file cannot be read, as a user would say it; the path comes first in the message. */
export function unreadable(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'not found';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ELOOP':
      return 'a symbolic link that loops';
    case 'ENOTDIR':
      return 'a path through something that is not a folder';
    case 'EISDIR':
      return 'a folder';
    case 'EIO':
      return 'the disk reported an I/O error';
    case 'EMFILE':
    case 'ENFILE':
      return 'too many files are open';
    default:
      return code ?? (error as Error).message.split('\n')[0]!;
  }
}

/**
 * Reads a file the pipeline (or a command) names: a regular file only — a
 * FIFO or a device would block or never end — and no bigger than its kind's
 * limit. Any problem is a UserError at `keyPath` that names the file and
 * says what it is instead, never its contents.
 */
export async function readRegularFile(
  file: string,
  kind: FileKind,
  keyPath: KeyPath = [],
  hint = 'paths are relative to the pipeline file',
): Promise<Buffer> {
  const what = WHAT[kind];
  let stats;
  try {
    stats = await stat(file);
  } catch (error) {
    throw new UserError(`${what} ${file}: ${unreadable(error)}`, keyPath, hint);
  }
  if (!stats.isFile()) throw new UserError(`${what} ${file} is ${kindOf(stats)}, not a file`, keyPath, hint);
  const limit = fileLimitBytes(kind);
  if (stats.size > limit)
    throw new UserError(
      `${what} ${file} is ${(stats.size / 2 ** 20).toFixed(0)} MiB; tlpipe reads ${what}s of at most ${limit / 2 ** 20} MiB`,
      keyPath,
      'check the path, or raise TLPIPE_MAX_FILE_MB',
    );
  try {
    // O_NONBLOCK: should the path have become a FIFO since the stat, open does not wait for a writer.
    const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const data = await handle.readFile();
      if (data.length > limit)
        throw new UserError(`${what} ${file} grew past ${limit / 2 ** 20} MiB while it was read`, keyPath, hint);
      return data;
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw new UserError(`${what} ${file}: ${unreadable(error)}`, keyPath, hint);
  }
}
