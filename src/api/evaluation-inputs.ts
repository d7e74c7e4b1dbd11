import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';
import {
  readDataset,
  type LoadedDataset,
  type Selection,
  type SkippedFile,
  type SplitData,
} from '../engine/data/datasets.js';
import type { PipelineSpec } from '../format/types.js';
import { writeJsonAtomic } from '../store/atomic-write.js';
import { readResolved } from '../store/plan-file.js';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { failed, ok, problem, type Outcome } from './types.js';

/**
 * The dataset a run resolved, read again and split with the run's seed:
 * its test split is the one summary.json was scored on. `dataHint` says
 * what `--data` takes for this kind of model.
 */
export async function runDataset(
  runDir: string | undefined,
  modelDir: string,
  dataHint: { outside: string; other: string },
): Promise<{ spec: PipelineSpec; dataset: LoadedDataset & { selection: Selection } }> {
  if (!runDir)
    throw new UserError(`${modelDir} is a model folder outside any run, so it has no test split`, [], dataHint.outside);
  const spec = await readResolved(runDir);
  if (!spec)
    throw new UserError(`${runDir} has no resolved.json, so its test split cannot be rebuilt`, [], dataHint.other);
  const dataset = await readDataset(spec.dataset, { seed: spec.seed });
  if (dataset.selection.test.length === 0) throw new UserError('the run has no test split', [], dataHint.other);
  return { spec, dataset };
}

/** `split` with its examples named relative to `dir` (the folder given with --data), as the output shows them. */
export function namedRelativeTo<S extends SplitData>(split: S, dir: string): S {
  return { ...split, name: (index: number) => path.relative(dir, split.name(index)) };
}

/** `dir (N images, M that … left out)`: what --data held, said in the evaluation's `on`. */
export function countedOn(dir: string, count: number, skipped: number, why: string): string {
  return `${dir} (${count} image${count === 1 ? '' : 's'}${skipped > 0 ? `, ${skipped} that ${why} left out` : ''})`;
}

/**
 * The outcome of an evaluation: evaluation.json written to `out` first when
 * asked; each file left out is a problem of its own (the metrics cover the
 * rest, and the caller exits non-zero).
 */
export async function evaluationOutcome<E>(
  evaluation: E,
  record: object,
  skipped: readonly SkippedFile[],
  skippedSays: string,
  warnings: Diagnostic[],
  out: string | undefined,
): Promise<Outcome<E>> {
  if (out) await writeJsonAtomic(path.join(out, 'evaluation.json'), record);
  return skipped.length === 0
    ? ok(evaluation, warnings)
    : failed(
        skipped.map((s) => problem(s.file, `${skippedSays}: ${s.reason}`, 'it was left out of the evaluation')),
        warnings,
        evaluation,
      );
}
