import { constants, realpathSync } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';

/**
 * Reading back what tlpipe (or someone else) left in one of its folders: a
 * run folder, an exported model, a stage-cache entry, a sweep. Nothing read
 * back is trusted. A path taken from a file or a queue job must stay inside
 * its folder (after symbolic links are followed), must be a regular file (a
 * FIFO blocks for ever, /dev/zero never ends) and no bigger than a bound
 * given before anything is read.
 */

/** The size bounds of the files tlpipe writes for itself, in bytes. */
export const READ_BACK_LIMITS = {
  /** run.json, summary.json, a trainer state, a manifest, labels.json, preprocessing.json: small JSON. */
  json: 64 * 2 ** 20,
  /** metrics.jsonl, log.txt, examples.json, plan.json, results.csv. */
  text: 256 * 2 ** 20,
  /** Weights and optimizer state, a stage-cache entry's data. */
  binary: 8 * 2 ** 30,
} as const;
export type ReadBackKind = keyof typeof READ_BACK_LIMITS;

/** Why a path cannot be read back, as a person would say it (the path is said by the caller). */
function because(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'is missing';
    case 'EACCES':
    case 'EPERM':
      return 'cannot be read (permission denied)';
    case 'ELOOP':
      return 'is a symbolic link that loops';
    case 'ENOTDIR':
      return 'lies under something that is not a folder';
    case 'EISDIR':
      return 'is a folder';
    case 'EIO':
      return 'cannot be read (the disk reported an I/O error)';
    default:
      return `cannot be read (${code ?? (error as Error).message.split('\n')[0]})`;
  }
}

/** The kind of thing a path is, for a message that says what was found instead of a file. */
export function kindOf(stats: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSymbolicLink?(): boolean;
}): string {
  if (stats.isDirectory()) return 'a folder';
  // Only stats of lstat can say so.
  if (stats.isSymbolicLink?.()) return 'a symbolic link';
  if (stats.isFIFO()) return 'a named pipe (FIFO)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** True when `inner` is `outer` or lies under it (both absolute and normalised). */
export function isInside(outer: string, inner: string): boolean {
  const relative = path.relative(outer, inner);
  return (
    relative === '' ||
    (!relative.startsWith('..') && !path.isAbsolute(relative) && relative.split(path.sep)[0] !== '..')
  );
}

/**
 * `relative` resolved against `root`, refused (a UserError naming both) when
 * it leads outside: `..`, an absolute path, a NUL byte. Lexical only; the
 * readers below also check where symbolic links lead.
 */
export function confinedPath(root: string, relative: string, what = 'a path'): string {
  const base = path.resolve(root);
  if (typeof relative !== 'string' || relative === '' || relative.includes('\0') || path.isAbsolute(relative)) {
    throw new UserError(
      `${what} ${JSON.stringify(relative)} in ${base} is not a relative path inside that folder`,
      [],
      'the file that names it was damaged or written by someone else',
    );
  }
  const file = path.resolve(base, relative);
  if (!isInside(base, file)) {
    throw new UserError(
      `${what} ${JSON.stringify(relative)} leads outside ${base}`,
      [],
      'tlpipe reads only inside the folder that names a file; the file that names it was damaged or written by someone else',
    );
  }
  return file;
}

/** The real path of a folder, itself when it cannot be resolved (a missing folder is found by the read). */
function realFolder(root: string): string {
  try {
    return realpathSync(root);
  } catch {
    return path.resolve(root);
  }
}

export interface ReadBackOptions {
  /** What the file is, for the message: `checkpoint index`, `exported model file`. */
  what?: string;
  kind?: ReadBackKind;
  /** A bound below the kind's. */
  maxBytes?: number;
  hint?: string;
}

/**
 * The bytes of `relative` inside `root`: confined (symbolic links followed),
 * a regular file, within its bound, read without waiting on a FIFO that
 * appears after the check. Rejects with the error's ENOENT unchanged when
 * the file is missing (callers tell absent from damaged), and with a
 * UserError for everything else.
 */
export async function readBackFile(root: string, relative: string, options: ReadBackOptions = {}): Promise<Buffer> {
  const what = options.what ?? 'file';
  const hint = options.hint ?? 'the folder was damaged or edited by hand; tlpipe will not trust it';
  const file = confinedPath(root, relative, what);
  const limit = Math.min(options.maxBytes ?? Infinity, READ_BACK_LIMITS[options.kind ?? 'json']);
  let real: string;
  try {
    real = await realpath(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw error;
    throw new UserError(`${what} ${file} ${because(error)}`, [], hint);
  }
  if (!isInside(realFolder(root), real))
    throw new UserError(`${what} ${file} is a link that leads outside ${path.resolve(root)} (to ${real})`, [], hint);
  const stats = await stat(real).catch((error: unknown) => {
    throw new UserError(`${what} ${file} ${because(error)}`, [], hint);
  });
  if (!stats.isFile()) throw new UserError(`${what} ${file} is ${kindOf(stats)}, not a file`, [], hint);
  if (stats.size > limit)
    throw new UserError(`${what} ${file} is ${stats.size} bytes, more than the ${limit} tlpipe reads of it`, [], hint);
  let handle;
  try {
    handle = await open(real, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw new UserError(`${what} ${file} ${because(error)}`, [], hint);
  }
  try {
    // At most one byte past the bound, so a file that grows while it is read cannot take the memory.
    const buffer = Buffer.allocUnsafe(Math.min(limit, stats.size) + 1);
    let filled = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
      if (filled === buffer.length) throw new UserError(`${what} ${file} grew while it was read`, [], hint);
    }
    return buffer.subarray(0, filled);
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw new UserError(`${what} ${file} ${because(error)}`, [], hint);
  } finally {
    await handle.close();
  }
}

/** Like readBackFile, but undefined when the file is missing. */
export async function readBackIfPresent(
  root: string,
  relative: string,
  options: ReadBackOptions = {},
): Promise<Buffer | undefined> {
  return readBackFile(root, relative, options).catch((error: NodeJS.ErrnoException) =>
    error.code === 'ENOENT' && !(error instanceof UserError) ? undefined : Promise.reject(error),
  );
}

/** A JSON file read back and parsed; its shape is the caller's to check. */
export async function readBackJson(root: string, relative: string, options: ReadBackOptions = {}): Promise<unknown> {
  const bytes = await readBackFile(root, relative, options);
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    throw new UserError(
      `${options.what ?? 'file'} ${path.resolve(root, relative)} is not valid JSON`,
      [],
      options.hint ?? 'the folder was damaged or edited by hand; tlpipe will not trust it',
    );
  }
}
