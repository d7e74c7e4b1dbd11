import { UserError } from '../diagnostics/user-error.js';
import { fileSystemError } from '../store/disk-errors.js';
import { resolveRunRef } from '../store/find-run.js';
import type { RunRecord } from '../store/run-record.js';
import { runsRootOf } from './pipeline-input.js';
import { failed, problem, type Outcome, type PipelineOptions } from './types.js';

/** A run named as a folder, `<pipeline>/<NNNN>[-<fp8>]` or `<pipeline>` (its newest), as every command that takes a run accepts. */
export async function findRunFolder(
  ref: string,
  options: Pick<PipelineOptions, 'runsDir'>,
): Promise<{ ok: true; dir: string; record: RunRecord } | { ok: false; outcome: Outcome<never> }> {
  const found = await resolveRunRef(runsRootOf(options), ref);
  return found.ok ? found : { ok: false, outcome: failed([problem(ref, found.message, found.hint)]) };
}

/**
 * Runs `work`; a UserError it throws, or an error of the file system (a
 * folder it cannot write, a full disk), becomes the outcome's diagnostic,
 * reported at `file`. Anything else is a bug and goes on.
 */
export async function userErrorsAt<T>(file: string, work: () => Promise<Outcome<T>>): Promise<Outcome<T>> {
  try {
    return await work();
  } catch (error) {
    const user = error instanceof UserError ? error : fileSystemError(error);
    if (user) return failed([user.toDiagnostic(file)]);
    throw error;
  }
}
