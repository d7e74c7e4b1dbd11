import type { DataTask } from '../../../plan/types.js';
import { describeSource } from '../../../plan/compile-steps/setup-tasks.js';
import { augmenter } from '../../data/augment.js';
import { jointAugmenter } from '../../data/augment-masks.js';
import type { SegmentationSplit } from '../../data/segmentation-folder.js';
import { isSegmentationDataset, maskSource, type JointAugment } from '../../tasks/segmentation/mask-source.js';
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
  if (inputs.facts.dataset.source)
    options.onEvent({
      type: 'log',
      level: 'info',
      message: describeSource(inputs.facts.dataset.source, plan.classes.names),
    });
  for (const { file, reason } of dataset.skipped)
    options.onEvent({ type: 'log', level: 'warn', message: `skipped ${file}: ${reason}` });
  for (const { file, reason } of inputs.target?.skipped ?? [])
    options.onEvent({ type: 'log', level: 'warn', message: `skipped target image ${file}: ${reason}` });
  const masks = isSegmentationDataset(dataset);
  const augment = plan.augment && !masks ? augmenter(plan.augment, run.streams.get('augment')) : undefined;
  // Masks move with their images: the same draws from the same stream, applied to both.
  const joint = plan.augment && masks ? jointAugmenter(plan.augment, run.streams.get('augment')) : undefined;
  const examples: SplitSources = {};
  for (const split of ['train', 'validation', 'test'] as const satisfies readonly Split[]) {
    if (selection[split].length === 0) continue;
    examples[split] = splitExamples(
      run,
      split,
      split === 'train' ? augment : undefined,
      split === 'train' ? joint : undefined,
    );
  }
  return examples;
}

/** One split's examples as model inputs, in the selection's order. */
export function splitExamples(
  run: Pick<SetupContext, 'plan' | 'inputs'>,
  split: Split,
  augment?: ReturnType<typeof augmenter>,
  joint?: JointAugment,
): BatchSource {
  const { plan, inputs } = run;
  const { dataset, preprocessing } = inputs;
  if (isSegmentationDataset(dataset) && preprocessing.kind === 'image')
    return maskSource(
      splitSource(dataset, split) as SegmentationSplit,
      inputs.selection[split],
      preprocessing,
      dataset.ignoreIndex,
      joint,
    );
  return exampleSource(
    splitSource(inputs.dataset, split),
    inputs.selection[split],
    inputs.preprocessing,
    plan.classes.count,
    augment,
  );
}
