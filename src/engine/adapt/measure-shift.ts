import tf from '../tfjs.cjs';
import { domainShift } from '../audit/domain-shift.js';
import { seededSample, type TargetSource as ImageSource } from '../data/target-images.js';
import { spatialMean } from '../model/spatial-mean.js';
import { movingStatistics, setMovingStatistics } from './adabn.js';
import { FIT_DEFAULTS, type Rows } from '../audit/logistic-regression.js';
import type { SplitData } from '../data/dataset-types.js';
import { imageBatch, type ImagePreprocessing } from '../data/preprocess.js';
import { RunInterrupted } from '../errors.js';

/**
 * A domain classifier no better than chance. Out of fold it can score below
 * it, but only by chance or by anti-learning (the same image in both
 * domains: its twin in the other fold teaches the opposite label; the very
 * same images on both sides score about 0.28), never because the domains
 * differ: such a score is reported as chance.
 */
const CHANCE = 0.5;
/** Folds of the domain classifier's out-of-fold scores. */
export const SHIFT_FOLDS = 5;

/** A domain shift as measured: how well a classifier tells target images from training ones by their pooled base features. */
export interface ShiftMeasurement {
  /** Out-of-fold AUROC, from 0.5 (indistinguishable; a score below chance is reported as 0.5) to 1 (two domains). */
  auroc: number;
  /** Images of each domain the classifier saw. */
  train: number;
  target: number;
  /** What the rows are: the base layer, pooled over its spatial positions. */
  features: string;
}

export interface MeasureOptions {
  seed: number;
  /** Images sampled from each domain at most. */
  limit: number;
  /** Images through the base at once. */
  batchSize: number;
  /** The base's output layer, for the record. */
  layer: string;
  signal?: AbortSignal;
  /**
   * AdaBN's per-domain statistics: the batch-norm statistics the training
   * images are pooled with (the base has the target's); absent: both
   * domains through the base as it is.
   */
  trainStatistics?: Float32Array;
  /** Where each domain's pooled rows come from when they were kept (the stage cache); absent: computed. */
  rows?: (domain: 'train' | 'target', compute: () => Promise<Rows>) => Promise<Rows>;
}

/** A training split's selected images as model inputs, never augmented: the images the base is measured on. */
export function trainingImages(split: SplitData, selection: readonly number[], pre: ImagePreprocessing): ImageSource {
  return {
    count: selection.length,
    batch: async (positions) => imageBatch(await split.pixels(positions.map((p) => selection[p]!)), pre),
  };
}

/**
 * The domain shift between training and target images as the base sees
 * them: each image's output of `base` in inference mode, averaged over its
 * spatial positions (so the rows are as wide as the channels, whatever the
 * image size), a seeded sample of at most `limit` per domain, and a
 * cross-validated logistic regression told which domain each row is from
 * (audit/domain-shift). Undefined when either domain has too few images to
 * tell a shift from chance.
 */
export async function measureShift(
  base: tf.LayersModel,
  train: ImageSource,
  target: ImageSource,
  options: MeasureOptions,
): Promise<ShiftMeasurement | undefined> {
  const rowsOf = options.rows ?? ((_domain, compute) => compute());
  const trainRows = await rowsOf('train', () =>
    withStatistics(base, options.trainStatistics, () =>
      pooledFeatures(
        base,
        train,
        seededSample(train.count, options.limit, options.seed),
        options.batchSize,
        options.signal,
      ),
    ),
  );
  const targetRows = await rowsOf('target', () =>
    pooledFeatures(
      base,
      target,
      seededSample(target.count, options.limit, options.seed + 1),
      options.batchSize,
      options.signal,
    ),
  );
  const shift = domainShift(trainRows, targetRows, SHIFT_FOLDS, { ...FIT_DEFAULTS, seed: options.seed });
  return (
    shift && {
      auroc: Math.max(CHANCE, shift.auroc),
      train: shift.train,
      target: shift.test,
      features: `${options.layer} pooled`,
    }
  );
}

/** `compute` with the base's batch-norm statistics set to `statistics` for its duration, then put back. */
async function withStatistics<T>(
  base: tf.LayersModel,
  statistics: Float32Array | undefined,
  compute: () => Promise<T>,
): Promise<T> {
  if (!statistics) return compute();
  const own = movingStatistics(base);
  setMovingStatistics(base, statistics);
  try {
    return await compute();
  } finally {
    setMovingStatistics(base, own);
  }
}

/** One row per image: the base's output, averaged over every axis between the batch and the channels. */
export async function pooledFeatures(
  base: tf.LayersModel,
  source: ImageSource,
  positions: readonly number[],
  batchSize: number,
  signal?: AbortSignal,
): Promise<Rows> {
  const parts: Float32Array[] = [];
  let width = 0;
  for (let start = 0; start < positions.length; start += batchSize) {
    if (signal?.aborted) throw new RunInterrupted();
    const images = await source.batch(positions.slice(start, start + batchSize));
    const pooled = tf.tidy(() => {
      return spatialMean(base.predict(images) as tf.Tensor);
    });
    images.dispose();
    width = pooled.shape[1] ?? 1;
    parts.push((await pooled.data()) as Float32Array);
    pooled.dispose();
  }
  const data = new Float32Array(positions.length * width);
  let at = 0;
  for (const part of parts) {
    data.set(part, at);
    at += part.length;
  }
  return { data, count: positions.length, width };
}
