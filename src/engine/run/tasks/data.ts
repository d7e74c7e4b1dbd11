import type { DataTask } from '../../../plan/types.js';
import { augmenter } from '../../data/augment.js';
import { splitSource } from '../../data/datasets.js';
import { exampleSource } from '../../evaluate/evaluate.js';
import type { RunState, Split } from '../run-state.js';

/** The examples of each split as model inputs; only training batches are augmented, from their own seeded stream. */
export async function runDataTask(_task: DataTask, state: RunState): Promise<void> {
  const { plan, inputs, options } = state;
  const { dataset, selection, preprocessing, backend } = inputs;
  options.onEvent({ type: 'backend', backend: backend.name, skipped: backend.skipped });
  options.onEvent({
    type: 'data', train: selection.train.length, validation: selection.validation.length, ...(dataset.validationFrom ? { validationFrom: dataset.validationFrom } : {}), test: selection.test.length, numClasses: plan.classes.count,
    input: preprocessing.kind === 'tabular' ? `${preprocessing.columns.length} features` : `${preprocessing.inputSize.join('×')} images`,
    skipped: dataset.skipped.length, ignored: dataset.ignored.length, storage: dataset.storage,
  });
  for (const { file, reason } of dataset.skipped) options.onEvent({ type: 'log', level: 'warn', message: `skipped ${file}: ${reason}` });
  const augment = plan.augment ? augmenter(plan.augment, state.streams.get('augment')) : undefined;
  for (const split of ['train', 'validation', 'test'] as const satisfies readonly Split[]) {
    if (selection[split].length === 0) continue;
    state.examples[split] = exampleSource(splitSource(dataset, split), selection[split], preprocessing, plan.classes.count, split === 'train' ? augment : undefined);
  }
}
