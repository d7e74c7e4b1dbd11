import type { DataTask } from '../../../plan/types.js';
import { augmenter } from '../../data/augment.js';
import { splitSource } from '../../data/datasets.js';
import { exampleSource } from '../../evaluate/evaluate.js';
import type { BatchSource } from '../../data/batches.js';
import type { SetupContext } from '../run-context.js';
import type { Split, SplitSources } from '../task-results.js';

/** The examples of each split as model inputs; only training batches are augmented, from their own seeded stream. */
export async function runDataTask(_task: DataTask, _inputs: object, run: SetupContext): Promise<SplitSources> {
  const { plan, inputs, options } = run;
  const { dataset, selection, preprocessing, backend } = inputs;
  options.onEvent({ type: 'backend', backend: backend.name, skipped: backend.skipped });
  options.onEvent({
    type: 'data',
    train: selection.train.length,
    validation: selection.validation.length,
    ...(dataset.validationFrom ? { validationFrom: dataset.validationFrom } : {}),
    test: selection.test.length,
    numClasses: plan.classes.count,
    input:
      preprocessing.kind === 'tabular'
        ? `${preprocessing.columns.length} features`
        : `${preprocessing.inputSize.join('×')} images`,
    skipped: dataset.skipped.length,
    ignored: dataset.ignored.length,
    storage: dataset.storage,
  });
  for (const { file, reason } of dataset.skipped)
    options.onEvent({ type: 'log', level: 'warn', message: `skipped ${file}: ${reason}` });
  const augment = plan.augment ? augmenter(plan.augment, run.streams.get('augment')) : undefined;
  const examples: SplitSources = {};
  for (const split of ['train', 'validation', 'test'] as const satisfies readonly Split[]) {
    if (selection[split].length === 0) continue;
    examples[split] = splitExamples(run, split, split === 'train' ? augment : undefined);
  }
  return examples;
}

/** One split's examples as model inputs, in the selection's order. */
export function splitExamples(run: SetupContext, split: Split, augment?: ReturnType<typeof augmenter>): BatchSource {
  const { plan, inputs } = run;
  return exampleSource(
    splitSource(inputs.dataset, split),
    inputs.selection[split],
    inputs.preprocessing,
    plan.classes.count,
    augment,
  );
}
