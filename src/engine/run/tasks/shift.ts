import type { ShiftTask } from '../../../plan/types.js';
import { inferenceBatch } from '../../../plan/memory-estimate.js';
import { fingerprint } from '../../../plan/fingerprint.js';
import { keepInCache, readOrCompute } from '../../cache/stage-cache.js';
import type { Rows } from '../../audit/logistic-regression.js';
import { splitSource } from '../../data/datasets.js';
import { targetSource } from '../../data/target-images.js';
import { measureShift, trainingImages, type ShiftMeasurement } from '../../adapt/measure-shift.js';
import type { RunPlanOptions, SetupContext } from '../run-context.js';
import type { TaskInputs } from '../task-results.js';

/** What measuring a shift uses of a run: a run's setup, or `tlpipe data`'s (which trains nothing). */
export type ShiftContext = Pick<SetupContext, 'plan' | 'inputs'> & {
  options: Pick<RunPlanOptions, 'onEvent' | 'signal' | 'cache'>;
};

/**
 * The pipeline's own training images: `dataset.source`'s examples follow
 * them in the training selection (from `source.from` on), and with a source
 * from a third domain pooling them in would measure a mix of domains, not
 * the pipeline's data against its target.
 */
export function ownTrainingImages(inputs: Pick<ShiftContext['inputs'], 'selection' | 'source'>): number[] {
  return inputs.source ? inputs.selection.train.slice(0, inputs.source.from) : inputs.selection.train;
}

/**
 * `adapt:`: the domain shift on the base as it is when the task runs (the
 * base as cut for `before`, which runs with the setup tasks; as the last
 * task that changed it left it for `after`). Each domain's pooled rows are
 * kept in the stage cache under the task's fingerprint, so a resumed run
 * or a second run reads them.
 */
export async function runShiftTask(
  task: ShiftTask,
  dependencies: TaskInputs['shift'],
  run: ShiftContext,
): Promise<ShiftMeasurement | undefined> {
  const { plan, inputs, options } = run;
  const { preprocessing, target } = inputs;
  if (!target || preprocessing.kind !== 'image')
    throw new Error(`task ${task.id} measures a shift between images, but the run has no target images`);
  const backend = inputs.backend.name;
  const { cache } = options;
  const rows = (domain: 'train' | 'target', compute: () => Promise<Rows>): Promise<Rows> => {
    const key = fingerprint({ shift: task.fingerprint, domain, backend });
    const what = `the ${domain === 'train' ? 'training' : 'target'} images' pooled features (domain shift ${task.when})`;
    return readOrCompute(
      cache,
      { kind: 'features', key, what },
      async (c) => {
        const kept = await c.readFeatures(key);
        // Read back untrusted: one row per sampled image, one value per channel at the cut, every one finite.
        const plausible =
          kept !== undefined &&
          kept.shape.length === 2 &&
          kept.shape[0]! <= task.sample &&
          kept.shape[1] === plan.base.cutOutputShape.at(-1) &&
          kept.data.every(Number.isFinite);
        return plausible ? { data: kept.data, count: kept.shape[0]!, width: kept.shape[1]! } : undefined;
      },
      async () => {
        const computed = await compute();
        if (cache)
          await keepInCache(
            what,
            () => cache.writeFeatures(key, [computed.count, computed.width], computed.data),
            options.onEvent,
          );
        return computed;
      },
      options,
    ).then((r) => r.value);
  };
  const started = performance.now();
  const measured = await measureShift(
    inputs.base,
    trainingImages(splitSource(inputs.dataset, 'train'), ownTrainingImages(inputs), preprocessing),
    targetSource(target, preprocessing),
    {
      seed: plan.seed,
      limit: task.sample,
      batchSize: inferenceBatch(plan.base.layers),
      layer: plan.base.cut,
      ...(dependencies.adapt?.replaced ? { trainStatistics: dependencies.adapt.replaced } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      rows,
    },
  );
  const seconds = (performance.now() - started) / 1000;
  options.onEvent({
    type: 'log',
    level: 'info',
    message: measured
      ? `domain shift ${task.when} adaptation: AUROC ${measured.auroc.toFixed(3)} telling ${measured.target} target from ${measured.train} training images by ${measured.features} features (0.5: indistinguishable; 1: two domains), ${seconds.toFixed(1)} s`
      : `domain shift ${task.when} adaptation: not measured, too few training or target images (fewer than 10)`,
  });
  return measured;
}
