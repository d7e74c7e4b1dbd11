import type { EvaluateTask } from '../../plan/types.js';
import { inferenceBatch } from '../../plan/memory-estimate.js';
import { splitSource } from '../data/datasets.js';
import type { SegmentationSplit } from '../data/segmentation-folder.js';
import { setTrainableLayers } from '../model/trainable-layers.js';
import type { RunContext } from '../run/run-context.js';
import type { Evaluation, TaskInputs } from '../run/task-results.js';
import { evaluateMasks, worstOverlays, type MaskOverlay } from './segmentation/evaluate-masks.js';
import { isSegmentationDataset } from './segmentation/mask-source.js';
import type { TaskEngine } from './task-engine.js';

/** The test split through the whole model: pixel accuracy, IoU per class and mean, and the worst images drawn for the report. */
async function evaluateSegmentation(
  _task: EvaluateTask,
  inputs: TaskInputs['evaluate'],
  run: RunContext,
): Promise<Evaluation> {
  const { plan, options, models } = run;
  const { dataset, selection, preprocessing } = run.inputs;
  setTrainableLayers(run.inputs.base, 'none');
  const test = inputs.data?.test;
  if (!test || !isSegmentationDataset(dataset) || preprocessing.kind !== 'image')
    throw new Error('the plan evaluates masks of a test split the data does not have');
  const split = splitSource(dataset, 'test') as SegmentationSplit;
  const names = selection.test.map((i) => split.name(i));
  const evaluated = await evaluateMasks(
    models.full,
    test,
    plan.loss,
    plan.classes.names,
    names,
    inferenceBatch(plan.base.layers),
  );
  // A view of the run, not its result: if the images cannot be drawn, the run still completes, and says so.
  let masks: MaskOverlay[] | undefined;
  try {
    masks = await worstOverlays(split, selection.test, preprocessing, evaluated, dataset.ignoreIndex);
  } catch (error) {
    options.onEvent({
      type: 'log',
      level: 'warn',
      message: `the report shows no test masks: ${(error as Error).message.split('\n')[0]}`,
    });
  }
  options.onEvent({ type: 'evaluate-end', test: evaluated.metrics });
  return { test: evaluated.metrics, ...(masks ? { masks } : {}) };
}

/** Segmentation: a class per pixel, trained in stages as classification is, scored by IoU. */
export const segmentationEngine: TaskEngine = {
  runs: 'staged',
  evaluate: evaluateSegmentation,
  score: async (model, source, plan, names) =>
    (await evaluateMasks(model, source, plan.loss, plan.classes.names, names, inferenceBatch(plan.base.layers)))
      .metrics,
};
