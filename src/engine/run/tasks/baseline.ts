import type { BaselineTask } from '../../../plan/types.js';
import { splitSource } from '../../data/datasets.js';
import { setTrainableLayers } from '../../model/trainable-layers.js';
import { trainScratchBaseline, type BaselineResult } from '../../train/scratch-baseline.js';
import type { RunContext } from '../run-context.js';
import { sourceWeights } from './train.js';
import type { TaskInputs } from '../task-results.js';

/** `baseline: scratch`: the same architecture and stages from random initialisation, on the same examples. */
export async function runBaselineTask(
  _task: BaselineTask,
  { data }: TaskInputs['baseline'],
  run: RunContext,
): Promise<BaselineResult> {
  const { plan, inputs, options } = run;
  setTrainableLayers(inputs.base, 'none');
  options.onEvent({ type: 'baseline-start', epochs: plan.stages.reduce((n, s) => n + s.epochs, 0) });
  const testNames = inputs.selection.test.map((i) => splitSource(inputs.dataset, 'test').name(i));
  const baseline = await trainScratchBaseline(
    plan,
    inputs.base,
    { train: data.train!, ...data, ...sourceWeights(inputs) },
    testNames,
    options.onEvent,
    options.signal,
  );
  options.onEvent({ type: 'baseline-end', ...(baseline.test ? { test: baseline.test } : {}) });
  return baseline;
}
