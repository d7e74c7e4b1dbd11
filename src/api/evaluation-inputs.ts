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

/**
 * An example's name as an evaluation gives it, whether it comes from the
 * run's own split or from --data: relative to the working folder, as the
 * CLI shows every other file (`data/test/5/test-8.png`,
 * `colours-test.csv:81`); one outside it keeps its absolute path.
 */
export function exampleName(name: string, cwd = process.cwd()): string {
  const absolute = path.resolve(cwd, name);
  return absolute.startsWith(cwd + path.sep) ? path.relative(cwd, absolute).split(path.sep).join('/') : absolute;
}

/** `split` with its examples named by exampleName. */
export function namedAsShown<S extends SplitData>(split: S): S {
  return { ...split, name: (index: number) => exampleName(split.name(index)) };
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
