import { readFileSync } from 'node:fs';
import type { Diagnostic, KeyPath } from '../diagnostics/diagnostic.js';

/**
 * A problem with the user's input found while running (a missing dataset
 * file, an unknown cut layer). It names the pipeline key it concerns so the
 * CLI can point at the line; it is never printed with a stack trace.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly path: KeyPath = [],
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'UserError';
  }

  toDiagnostic(file: string): Diagnostic {
    return { file, path: this.path, message: this.message, hint: this.hint, severity: 'error' };
  }
}

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
