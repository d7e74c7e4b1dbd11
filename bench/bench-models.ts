/** The models and steps `npm run bench` and `npm run bench:profile` run, built one way for both. */
import * as tf from '@tensorflow/tfjs';
import type { AugmentSpec } from '../src/format/types.js';
import { augmenter } from '../src/engine/data/augment.js';
import { layerFacts } from '../src/engine/facts/gather-facts.js';
import { buildHeadLayers, composeModel } from '../src/engine/model/build-models.js';
import { foldBatchNorm } from '../src/engine/model/fold-batch-norm.js';
import { prefixModel, suffixModel } from '../src/engine/model/split-model.js';
import { SeededRandom } from '../src/engine/random.js';
import { frozenPrefix } from '../src/plan/frozen-prefix.js';

/** conv 32 → conv 64 → max-pool → dense 128 → dense 10, on 28×28×1 (PyTorch's side builds the same). */
export function smallCnn(): tf.LayersModel {
  const input = tf.input({ shape: [28, 28, 1] });
  let h = tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu' }).apply(input) as tf.SymbolicTensor;
  h = tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.maxPooling2d({ poolSize: 2 }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
  h = tf.layers.dense({ units: 128, activation: 'relu' }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: tf.layers.dense({ units: 10 }).apply(h) as tf.SymbolicTensor });
}

/** A fine-tuning model as tlpipe's trainer holds it: the whole model, and (when the plan splits it) its frozen prefix and what lies above. */
export interface TunedModel {
  whole: tf.LayersModel;
  split?: { boundary: string; prefix: tf.LayersModel; folded: tf.LayersModel; suffix: tf.LayersModel };
}

/** MobileNetV2 with its top three blocks and last 1×1 conv unfrozen (batch norm frozen), a 10-class head on top. */
export async function topBlocksTuned(base: tf.LayersModel): Promise<TunedModel> {
  for (const layer of base.layers) layer.trainable = /^(block_1[456]_|Conv_1)/.test(layer.name);
  const whole = composeModel(
    base,
    buildHeadLayers(
      [{ type: 'globalAveragePooling2d' }, { type: 'dense', units: 10, activation: 'linear', useBias: true }],
      2,
    ),
    'tuned',
  );
  const facts = base.layers.filter((l) => l.getClassName() !== 'InputLayer').map(layerFacts);
  const found = frozenPrefix(facts, new Set(base.layers.filter((l) => l.trainable).map((l) => l.name)));
  if (found.kind !== 'split') return { whole };
  const prefix = prefixModel(whole, found.boundary);
  return {
    whole,
    split: {
      boundary: found.boundary,
      prefix,
      folded: await foldBatchNorm(prefix),
      suffix: suffixModel(whole, found.boundary),
    },
  };
}

/** One training step of `model` on (x, y) over its trainable weights. */
export function trainStep(model: tf.LayersModel, optimizer: tf.Optimizer, x: tf.Tensor, y: tf.Tensor): void {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const cost = optimizer.minimize(
    () => tf.mean(tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar,
    true,
    variables,
  );
  cost?.dispose();
}

/**
 * A fine-tuning step as tlpipe's trainer takes it. `cached`: the images are
 * the same every epoch, so the frozen prefix's output was computed once
 * (here: once for the batch, outside the timing) and the step trains what
 * lies above on it; `augmented`: they change, so the folded prefix runs
 * first, outside the gradient tape. Without a split, the whole model.
 */
export function fineTuneStep(
  model: TunedModel,
  optimizer: tf.Optimizer,
  x: tf.Tensor,
  y: tf.Tensor,
  images: 'cached' | 'augmented',
  cache: Map<tf.Tensor, tf.Tensor>,
): void {
  if (!model.split) return trainStep(model.whole, optimizer, x, y);
  const { prefix, folded, suffix } = model.split;
  if (images === 'augmented') {
    const activations = tf.tidy(() => folded.predict(x) as tf.Tensor);
    trainStep(suffix, optimizer, activations, y);
    activations.dispose();
    return;
  }
  let rows = cache.get(x);
  if (!rows) cache.set(x, (rows = tf.tidy(() => prefix.predict(x) as tf.Tensor)));
  // A batch from the stored rows, as the trainer copies it.
  const batch = tf.tensor(rows.dataSync(), rows.shape);
  trainStep(suffix, optimizer, batch, y);
  batch.dispose();
}

/** The augmentation of the bench's augmented cases, on both sides: a random flip, ±10° rotation and ±10% zoom. */
export const AUGMENT: AugmentSpec = {
  flipHorizontal: true,
  rotate: 10,
  zoom: 0.1,
  translate: 0,
  brightness: 0,
  contrast: 0,
};
const augment = augmenter(AUGMENT, new SeededRandom(7));

/** Pixels in 0–255, augmented as tlpipe's data task does, scaled to 0–1. */
export function augmentedBatch(pixels: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.div(augment(pixels), 255));
}
