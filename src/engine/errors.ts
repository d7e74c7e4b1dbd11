import { readFileSync } from 'node:fs';
import type { KeyPath } from '../diagnostics/diagnostic.js';
import { UserError } from '../diagnostics/user-error.js';

/** The run was cancelled through its AbortSignal. */
export class RunInterrupted extends Error {
  constructor(reason = 'interrupted') {
    super(reason);
    this.name = 'RunInterrupted';
  }
}

/**
 * Reads a file the pipeline names. A missing or unreadable file is the
 * user's problem, reported at the key that named it.
 */
export function readUserFile(file: string, keyPath: KeyPath, what = 'file', hint = 'paths are relative to the pipeline file'): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message = code === 'ENOENT' ? `${what} not found: ${file}` : code === 'EISDIR' ? `${file} is a folder, not a ${what}` : `cannot read ${what} ${file}: ${(error as Error).message}`;
    throw new UserError(message, keyPath, hint);
  }
}
