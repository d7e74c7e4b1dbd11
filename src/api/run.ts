import { loadInput } from './pipeline-input.js';
import type { RunOptions, RunResult } from './run-pipeline.js';
import { failed, problem, type PipelineInput } from './types.js';

export type { RunOptions, RunResult, RunInfo } from './run-pipeline.js';

/**
 * Validates, plans and runs a pipeline into a new run folder (or, with
 * `resume`, continues the newest unfinished run of the same plan). The run
 * is `completed` only after every output is written; a failure marks it
 * `failed` with the reason, an abort `interrupted` with its checkpoints
 * kept. `ok` means completed. Never prints, exits or handles signals.
 */
export async function run(input: PipelineInput, options: RunOptions = {}): Promise<RunResult> {
  const loaded = loadInput(input, options);
  if (!loaded.ok) return failed(loaded.diagnostics);
  const { folds, fold } = loaded.value.spec.evaluate;
  // A k-fold pipeline is k runs, not one: a single run of it would validate on one split and pose as the cross-validation.
  if (folds !== undefined && fold === undefined)
    return failed(
      [
        problem(
          loaded.value.spec.file,
          `this pipeline asks for ${folds}-fold cross-validation (evaluate.folds), which is ${folds} runs, not one`,
          'run it with crossValidate() (what `tlpipe run` does), or set evaluate.fold to run one fold',
        ),
      ],
      loaded.warnings,
    );
  // The engine (tfjs, the decoders, the run folder's writers) loads once the pipeline is valid as written:
  // a file refused as written is said as soon as `tlpipe validate` would say it.
  return (await import('./run-pipeline.js')).runLoaded(loaded, options);
}

/**
 * Continues an interrupted or failed run (a folder, or `<pipeline>/<NNNN>`)
 * in its own folder from its latest complete checkpoint, with the pipeline
 * as that run resolved it. The inputs must still give the same plan.
 */
export async function resume(
  runRef: string,
  options: Omit<RunOptions, 'overrides' | 'resume'> = {},
): Promise<RunResult> {
  return (await import('./run-pipeline.js')).resume(runRef, options);
}
