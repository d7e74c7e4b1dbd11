/** The models and steps `npm run bench` and `npm run bench:profile` run, built one way for both. */
import * as tf from '@tensorflow/tfjs';
import type { AugmentSpec } from '../src/format/types.js';
import { augmenter } from '../src/engine/data/augment.js';
import { buildHeadLayers, composeModel } from '../src/engine/model/build-models.js';
import { SeededRandom } from '../src/engine/random.js';

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

/** MobileNetV2 with its top three blocks and last 1×1 conv unfrozen (batch norm frozen), a 10-class head on top. */
export async function topBlocksTuned(base: tf.LayersModel): Promise<tf.LayersModel> {
  for (const layer of base.layers) layer.trainable = /^(block_1[456]_|Conv_1)/.test(layer.name);
  return composeModel(base, buildHeadLayers([{ type: 'globalAveragePooling2d' }, { type: 'dense', units: 10, activation: 'linear', useBias: true }], 2), 'tuned');
}

/** One training step of `model` on (x, y) over its trainable weights. */
export function trainStep(model: tf.LayersModel, optimizer: tf.Optimizer, x: tf.Tensor, y: tf.Tensor): void {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const cost = optimizer.minimize(() => tf.mean(tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar, true, variables);
  cost?.dispose();
}

/**
 * A fine-tuning step as tlpipe's trainer takes it: the whole model on the
 * batch, inside the gradient tape. `cached`: the batch's images are the
 * same every epoch; `augmented`: they change.
 */
export function fineTuneStep(model: tf.LayersModel, optimizer: tf.Optimizer, x: tf.Tensor, y: tf.Tensor, _images: 'cached' | 'augmented'): void {
  trainStep(model, optimizer, x, y);
}

/** The augmentation of the bench's augmented cases, on both sides: a random flip, ±10° rotation and ±10% zoom. */
export const AUGMENT: AugmentSpec = { flipHorizontal: true, rotate: 10, zoom: 0.1, translate: 0, brightness: 0, contrast: 0 };
const augment = augmenter(AUGMENT, new SeededRandom(7));

/** Pixels in 0–255, augmented as tlpipe's data task does, scaled to 0–1. */
export function augmentedBatch(pixels: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.div(augment(pixels), 255));
}
