/** The models `npm run bench` and `npm run bench:profile` train, built one way for both. */
import * as tf from '@tensorflow/tfjs';
import { buildHeadLayers, composeModel } from '../src/engine/model/build-models.js';

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
export function topBlocksTuned(base: tf.LayersModel): tf.LayersModel {
  for (const layer of base.layers) layer.trainable = /^(block_1[456]_|Conv_1)/.test(layer.name);
  return composeModel(base, buildHeadLayers([{ type: 'globalAveragePooling2d' }, { type: 'dense', units: 10, activation: 'linear', useBias: true }], 2), 'tuned');
}
