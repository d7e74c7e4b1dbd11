import type { BaselineTask } from '../../../plan/types.js';
import { splitSource } from '../../data/datasets.js';
import { trainScratchBaseline } from '../../train/scratch-baseline.js';
import type { RunState } from '../run-state.js';

/** `baseline: scratch`: the same architecture and stages from random initialisation, on the same examples. */
export async function runBaselineTask(_task: BaselineTask, state: RunState): Promise<void> {
  const { plan, inputs, options } = state;
  state.freezeBase();
  options.onEvent({ type: 'baseline-start', epochs: plan.stages.reduce((n, s) => n + s.epochs, 0) });
  const testNames = inputs.selection.test.map((i) => splitSource(inputs.dataset, 'test').name(i));
  state.baseline = await trainScratchBaseline(plan, inputs.base, { train: state.examples.train!, ...state.examples }, testNames, options.onEvent, options.signal);
  options.onEvent({ type: 'baseline-end', ...(state.baseline.test ? { test: state.baseline.test } : {}) });
}
