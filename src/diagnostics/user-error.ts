import type { Diagnostic, KeyPath } from './diagnostic.js';

/**
 * A problem with the user's input found past validation (a missing dataset
 * file, an unknown cut layer). It names the pipeline key it concerns so the
 * caller can point at the line, and becomes a Diagnostic before anyone
 * prints it; it is never shown with a stack trace.
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
    return {
      file,
      path: this.path,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      severity: 'error',
    };
  }
}
