import type { AnomalyPlan, BankTask } from '../../../plan/types.js';
import { MAX_BANK_BYTES } from '../../../plan/tasks/anomaly.js';
import { splitSource } from '../../data/datasets.js';
import {
  buildMemoryBank,
  loadBank,
  type CoresetRecord,
  type LoadedBank,
  type MemoryBank,
} from '../../anomaly/memory-bank.js';
import { buildPatchExtractor, type PatchFeatureExtractor } from '../../anomaly/patch-features.js';
import { thresholdFromNormalScores, type AnomalyThreshold } from '../../anomaly/threshold.js';
import type { SetupContext } from '../../run/run-context.js';
import { forEachPatchBatch, scoreExamples } from './patch-scores.js';

/** PatchCore's local neighbourhood: each patch averages its 3×3 surroundings. */
const NEIGHBOURHOOD = 3;
/** Dimensions of the random projection the coreset's greedy measures distances on (anomalib projects too). */
const CORESET_PROJECTION = 128;

/** The bank task's output: what evaluation and export score with. */
export interface Banked {
  extractor: PatchFeatureExtractor;
  bank: MemoryBank;
  loaded: LoadedBank;
  coreset: CoresetRecord;
  threshold: AnomalyThreshold;
  dispose(): void;
}

/** The examples of `indexes` whose class is normal. */
export const normalOnly = (labels: Int32Array, indexes: readonly number[], plan: AnomalyPlan): number[] =>
  indexes.filter((i) => plan.normalClasses.includes(labels[i]!));

/**
 * Fills the memory bank in one pass over the normal training images, keeps
 * its seeded coreset, then takes the threshold from the normal validation
 * images' scores against it.
 */
export async function fitBank(_task: BankTask, run: SetupContext): Promise<Banked> {
  const { plan, inputs, options } = run;
  const anomaly = plan.anomaly!;
  // format/tasks/anomaly's rules let only image data through, and the planner only a base with patch layers.
  if (inputs.preprocessing.kind !== 'image') throw new Error('task: anomaly reaches the engine with image data only');
  if (!inputs.artifacts) throw new Error('task: anomaly reaches the engine with a pretrained base only');
  const extractor = await buildPatchExtractor(
    inputs.artifacts,
    { layers: anomaly.layers, neighbourhood: NEIGHBOURHOOD, seed: plan.seed },
    inputs.preprocessing,
  );
  try {
    // The facts were gathered on the base at the file's cut; this is the base at the plan's.
    options.onEvent({
      type: 'base',
      model: plan.base.model,
      cut: plan.base.cut,
      layers: plan.base.layers.length,
      params: extractor.model.countParams(),
      outputShape: [...extractor.grid, extractor.dim],
      seconds: inputs.seconds.base,
    });
    const train = splitSource(inputs.dataset, 'train');
    const normal = normalOnly(train.labels, inputs.selection.train, anomaly);
    const patches = await normalPatches(extractor, run, normal);
    const { bank, coreset } = buildMemoryBank(
      patches,
      extractor.dim,
      { fraction: anomaly.coreset, maxBytes: MAX_BANK_BYTES, seed: plan.seed, projectTo: CORESET_PROJECTION },
      options.signal,
    );
    options.onEvent({
      type: 'log',
      level: 'info',
      message: `memory bank: ${coreset.kept} of ${coreset.fromPatches} normal patches kept (${extractor.dim} features each${coreset.capped ? `; capped at ${MAX_BANK_BYTES} bytes` : ''})`,
    });
    const loaded = loadBank(bank);
    let threshold: AnomalyThreshold;
    try {
      const validation = splitSource(inputs.dataset, 'validation');
      const held = normalOnly(validation.labels, inputs.selection.validation, anomaly);
      const scores = await scoreExamples(extractor, loaded, validation, held, options.signal);
      threshold = thresholdFromNormalScores(scores.imageScores, anomaly.quantile);
    } catch (error) {
      // An abort (watch stops a run on every save) must not leave the bank on the backend.
      loaded.dispose();
      throw error;
    }
    options.onEvent({
      type: 'log',
      level: 'info',
      message: `threshold ${threshold.value.toPrecision(4)}: the ${threshold.quantile} quantile of ${threshold.from} normal validation scores`,
    });
    return {
      extractor,
      bank,
      loaded,
      coreset,
      threshold,
      dispose: () => {
        loaded.dispose();
        extractor.dispose();
      },
    };
  } catch (error) {
    extractor.dispose();
    throw error;
  }
}

/** Every patch of the normal training images, [images × grid cells, dim], with progress as features. */
async function normalPatches(
  extractor: PatchFeatureExtractor,
  run: SetupContext,
  indexes: readonly number[],
): Promise<Float32Array> {
  const { inputs, options } = run;
  const cells = extractor.grid[0] * extractor.grid[1];
  const all = new Float32Array(indexes.length * cells * extractor.dim);
  const started = performance.now();
  options.onEvent({ type: 'features-start', split: 'train', total: indexes.length });
  await forEachPatchBatch(
    extractor,
    splitSource(inputs.dataset, 'train'),
    indexes,
    (patches, from) => {
      all.set(patches, from * cells * extractor.dim);
      const done = Math.min(indexes.length, from + patches.length / (cells * extractor.dim));
      options.onEvent({ type: 'features-progress', split: 'train', done, total: indexes.length });
    },
    options.signal,
  );
  const seconds = (performance.now() - started) / 1000;
  options.onEvent({
    type: 'features-end',
    split: 'train',
    total: indexes.length,
    seconds,
    imagesPerSecond: indexes.length / Math.max(seconds, 1e-9),
  });
  return all;
}
