import type { AdaptTask } from '../../../plan/types.js';
import { fingerprint } from '../../../plan/fingerprint.js';
import {
  adaptBatchNorm,
  batchNormLayers,
  movingStatistics,
  plausibleStatistics,
  setMovingStatistics,
} from '../../adapt/adabn.js';
import { keepInCache, readOrCompute } from '../../cache/stage-cache.js';
import { targetSource } from '../../data/target-images.js';
import { splitSource } from '../../data/datasets.js';
import { trainingImages } from '../../adapt/measure-shift.js';
import { RunInterrupted } from '../../errors.js';
import type { RunPlanOptions, SetupContext } from '../run-context.js';
import type { Adapted } from '../task-results.js';

/** The stage cache's key for an adaptation's statistics on this backend (backends differ in the last bits). */
export const adaptKey = (task: AdaptTask, backend: string): string => fingerprint({ adapt: task.fingerprint, backend });

/**
 * AdaBN on the run's base, in place (the models the head task builds share
 * its layers, so features, training, evaluation and the export all see the
 * target statistics). A setup task: the base is built afresh in every
 * process, so a resumed run or one whose stages come from the stage cache
 * adapts it again, from the statistics the cache keeps when it has them
 * (bit-identical to computing them again).
 */
export async function runAdaptTask(
  task: AdaptTask,
  _inputs: object,
  // What it uses of a run's setup: `tlpipe data` adapts a base too, to measure the shift after AdaBN.
  run: Pick<SetupContext, 'inputs'> & { options: Pick<RunPlanOptions, 'onEvent' | 'signal' | 'cache'> },
): Promise<Adapted> {
  const { inputs, options } = run;
  const { target, preprocessing, base } = inputs;
  if (!target) throw new Error('the plan adapts the base, but the run read no target images (adapt.images)');
  if (preprocessing.kind !== 'image') throw new Error('adapt.images needs an image dataset');
  // Each domain's own statistics: the training images' for what the head trains on, the target's for what predicts.
  const images =
    task.on === 'training'
      ? trainingImages(splitSource(inputs.dataset, 'train'), inputs.selection.train, preprocessing)
      : targetSource(target, preprocessing);
  const replaced = task.on === 'target' ? movingStatistics(base) : undefined;
  const started = performance.now();
  const key = adaptKey(task, inputs.backend.name);
  const batchSize = Number(task.config['batchSize']);
  const { value, reused } = await readOrCompute(
    options.cache,
    { kind: 'features', key, what: 'the adapted batch-norm statistics' },
    async (cache) => {
      const cached = await cache.readFeatures(key);
      // Read back untrusted: a damaged entry is computed again, never exported.
      return cached && plausibleStatistics(base, cached.data) ? cached.data : undefined;
    },
    async () => {
      try {
        await adaptBatchNorm(base, images, batchSize, options.signal);
      } catch (error) {
        if (options.signal?.aborted) throw new RunInterrupted();
        throw error;
      }
      const statistics = movingStatistics(base);
      if (options.cache) {
        const { cache } = options;
        await keepInCache(
          'the adapted batch-norm statistics',
          () => cache.writeFeatures(key, [statistics.length], statistics),
          options.onEvent,
        );
      }
      return statistics;
    },
    options,
  );
  if (reused) setMovingStatistics(base, value);
  const adapted: Adapted = {
    method: 'adabn',
    on: task.on,
    images: images.count,
    ...(replaced ? { replaced } : {}),
    batchNormLayers: batchNormLayers(base).length,
    seconds: (performance.now() - started) / 1000,
    reused,
  };
  options.onEvent({
    type: 'log',
    level: 'info',
    message: `adapt: AdaBN re-estimated ${adapted.batchNormLayers} batch-norm layers' statistics on ${adapted.images} ${task.on} images${task.on === 'target' ? ' for the evaluation and the export' : ', which the head trains with'}${reused ? ' (from the stage cache)' : ''} in ${adapted.seconds.toFixed(1)}s`,
  });
  return adapted;
}
