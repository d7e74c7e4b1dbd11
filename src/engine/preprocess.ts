import * as tf from '@tensorflow/tfjs';
import type { FitMode, ImageSpec } from '../spec/types.js';
import type { ZooEntry } from '../spec/zoo-catalog.js';
import type { PixelBatch } from './datasets.js';

/** Everything needed to turn a raw image into the model's input; saved as preprocessing.json. */
export interface Preprocessing {
  inputSize: [number, number];
  channels: 3;
  /** Grayscale sources are repeated into 3 channels; alpha is composited onto black. */
  grayscaleToRgb: boolean;
  /**
   * Image files: resized by sharp (lanczos3) with this fit. IDX arrays:
   * resized by bilinear interpolation (they have no aspect ratio to keep).
   */
  fit: FitMode;
  /** input = pixel (0–255) × scale + offset */
  scale: number;
  offset: number;
  description: string;
}

export function preprocessingFor(entry: ZooEntry, image: ImageSpec): Preprocessing {
  const inputSize = image.size;
  return {
    inputSize,
    channels: 3,
    grayscaleToRgb: true,
    fit: image.fit,
    scale: entry.preprocessing.scale,
    offset: entry.preprocessing.offset,
    description: `resize to ${inputSize.join('×')} (${image.fit}), gray → RGB, ${entry.preprocessing.description}`,
  };
}

/** The model input for a batch of pixels: [n, height, width, 3], float32, resized and scaled. */
export function imageBatch(batch: PixelBatch, pre: Preprocessing): tf.Tensor4D {
  const scaled = new Float32Array(batch.data.length);
  for (let i = 0; i < batch.data.length; i++) scaled[i] = batch.data[i]! * pre.scale + pre.offset;
  return tf.tidy(() => {
    const x = tf.tensor4d(scaled, [batch.count, batch.height, batch.width, batch.channels]);
    // Scaling first is exact: bilinear resizing is linear in the pixel values.
    const sized = batch.height === pre.inputSize[0] && batch.width === pre.inputSize[1] ? x : tf.image.resizeBilinear(x, pre.inputSize);
    return batch.channels === 1 ? tf.tile(sized, [1, 1, 1, 3]) : sized;
  });
}

export function oneHotBatch(labels: Int32Array, indexes: readonly number[], numClasses: number): tf.Tensor2D {
  return tf.tidy(() => tf.oneHot(tf.tensor1d(indexes.map((i) => labels[i]!), 'int32'), numClasses).toFloat() as tf.Tensor2D);
}
