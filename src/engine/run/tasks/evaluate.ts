import type { EvaluateTask } from '../../../plan/types.js';
import { splitSource } from '../../data/datasets.js';
import { evaluatePredictions } from '../../evaluate/evaluate.js';
import { exampleGallery } from '../../evaluate/example-gallery.js';
import { inferenceBatch } from '../../../plan/memory-estimate.js';
import type { RunState } from '../run-state.js';

/** The test split: the head on the features the last stage trained on, or the whole model on images. */
export async function runEvaluateTask(task: EvaluateTask, state: RunState): Promise<void> {
  const { plan, inputs, options } = state;
  state.freezeBase();
  const onFeatures = task.on === 'features';
  if (onFeatures && state.features?.task !== task.features) throw new Error(`evaluate needs ${task.features}, which no earlier task made`);
  const test = onFeatures ? state.features!.sources.test : state.examples.test;
  if (!test) throw new Error('the plan evaluates a test split the data does not have');
  const split = splitSource(inputs.dataset, 'test');
  const names = inputs.selection.test.map((i) => split.name(i));
  const evaluated = await evaluatePredictions(state.model(onFeatures ? 'head' : 'full'), test, plan.loss, plan.classes.names, names, inferenceBatch(plan.base.layers));
  state.test = evaluated.metrics;
  // The report shows the hardest test images, and where the whole model looked in them. They are
  // a view of the run, not its result: if they cannot be made, the run still completes, and says so.
  if (inputs.preprocessing.kind === 'image') {
    try {
      state.gallery = await exampleGallery(state.model('full'), split, inputs.selection.test, inputs.preprocessing, plan.classes.names, evaluated);
    } catch (error) {
      options.onEvent({ type: 'log', level: 'warn', message: `the report shows no test images: ${(error as Error).message.split('\n')[0]}` });
    }
  }
  options.onEvent({ type: 'evaluate-end', test: state.test });
}
