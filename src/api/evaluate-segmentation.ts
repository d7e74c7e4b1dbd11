import { UserError } from '../diagnostics/user-error.js';
import { splitSource, type SkippedFile } from '../engine/data/datasets.js';
import type { SegmentationSplit } from '../engine/data/segmentation-folder.js';
import { evaluateMasks } from '../engine/tasks/segmentation/evaluate-masks.js';
import { noUsablePairs, readMaskFolder } from '../engine/tasks/segmentation/mask-folder.js';
import { isSegmentationDataset, maskSource } from '../engine/tasks/segmentation/mask-source.js';
import { inferenceBatch } from '../plan/memory-estimate.js';
import type { Plan } from '../plan/types.js';
import { readPlan, readResolved } from '../store/plan-file.js';
import type { EvaluateOptions, Evaluation, SegmentationEvaluation } from './evaluate.js';
import { countedOn, evaluationOutcome, namedAsShown, runDataset } from './evaluation-inputs.js';
import type { OpenedModel } from './load-model.js';
import type { Outcome } from './types.js';

const DATA_HINT = {
  outside: 'pass --data <folder> with images/ and masks/ (a PNG per image, pixel value = class index)',
  other: 'pass --data <folder> with images/ and masks/',
};

/**
 * A segmentation model scored per pixel, as the run scored its test split
 * (evaluateMasks, the same batches and loss): on that split read again with
 * the run's seed, or on a folder of images/ and masks/ given with --data,
 * read and checked by the segmentationFolder reader. Mean IoU, pixel
 * accuracy and IoU per class.
 */
export async function evaluateSegmentationModel(
  opened: OpenedModel,
  options: EvaluateOptions,
): Promise<Outcome<Evaluation>> {
  const { model, exported, outputs, runDir, warnings } = opened;
  const pre = exported.preprocessing;
  if (pre.kind !== 'image') throw new Error('a segmentation model is opened with image preprocessing only');
  const classNames = exported.labels;
  const plan = runDir ? await readPlan(runDir) : undefined;
  // A model folder outside a run has no plan: its last layer says which loss it was trained with.
  const loss: Plan['loss'] =
    plan?.loss ?? (outputs === 'probabilities' ? 'categoricalCrossentropy' : 'softmaxCrossEntropyFromLogits');
  // A batch of 4 fits any segmentation model tlpipe exports (its masks are larger than a classifier's outputs).
  const batch = plan ? inferenceBatch(plan.base.layers) : 4;
  const examples = options.data
    ? await dataPairs(options.data, classNames, await runIgnoreIndex(runDir), pre)
    : await testPairs(runDir, exported.dir);
  const { split, indexes, ignoreIndex, skipped, on } = examples;
  const source = maskSource(split, indexes, pre, ignoreIndex);
  const names = indexes.map((i) => split.name(i));
  const { metrics } = await evaluateMasks(model, source, loss, classNames, names, batch);
  const evaluation: SegmentationEvaluation = { task: 'segmentation', on, classNames, metrics };
  return evaluationOutcome(evaluation, { on, ...metrics }, skipped, 'cannot be used', warnings, options.out);
}

interface MaskPairs {
  split: SegmentationSplit;
  indexes: readonly number[];
  ignoreIndex: number | undefined;
  skipped: SkippedFile[];
  on: string;
}

/** The run's test split, read again as the run read it. */
async function testPairs(runDir: string | undefined, modelDir: string): Promise<MaskPairs> {
  const { dataset } = await runDataset(runDir, modelDir, DATA_HINT);
  if (!isSegmentationDataset(dataset))
    throw new UserError(
      `${runDir}/resolved.json does not describe a segmentation dataset, but the run's model segments`,
      [],
      'the run folder was damaged or edited by hand; pass --data <folder> with images/ and masks/',
    );
  const indexes = dataset.selection.test;
  return {
    split: namedAsShown(splitSource(dataset, 'test') as SegmentationSplit),
    indexes,
    ignoreIndex: dataset.ignoreIndex,
    skipped: [],
    on: `its test split (${indexes.length} images)`,
  };
}

/** A folder of images/ and masks/: a pair that cannot be used is left out and named; none usable is an error. */
async function dataPairs(
  dir: string,
  classNames: readonly string[],
  ignoreIndex: number | undefined,
  pre: Parameters<typeof readMaskFolder>[3],
): Promise<MaskPairs> {
  const read = await readMaskFolder(dir, classNames, ignoreIndex, pre);
  if (read.indexes.length === 0) throw noUsablePairs(dir, read.skipped);
  return {
    split: namedAsShown(read.split),
    indexes: read.indexes,
    ignoreIndex,
    skipped: read.skipped,
    on: countedOn(dir, read.indexes.length, read.skipped.length, 'cannot be used'),
  };
}

/** The mask value the run ignored, if it did: --data's masks are read with the same rule. */
async function runIgnoreIndex(runDir: string | undefined): Promise<number | undefined> {
  const spec = runDir ? await readResolved(runDir) : undefined;
  return spec?.dataset.format === 'segmentationFolder' ? spec.dataset.ignoreIndex : undefined;
}
