import * as tf from '@tensorflow/tfjs';
import type { FitMode, ImageSpec, NormalizeSpec } from '../../format/types.js';
import type { PixelBatch, VectorBatch } from './datasets.js';

/** Everything needed to turn a raw example into the model's input; saved as preprocessing.json. */
export type Preprocessing = ImagePreprocessing | TabularPreprocessing;

/** Tabular rows: each feature column standardised with the training split's statistics. */
export interface TabularPreprocessing {
  kind: 'tabular';
  columns: string[];
  /** input[i] = (value[i] − mean[i]) / std[i]; a constant column has std 1. */
  mean: number[];
  std: number[];
  description: string;
}

export interface ImagePreprocessing {
  kind: 'image';
  inputSize: [number, number];
  channels: 3;
  /** Grayscale sources are repeated into 3 channels; alpha is composited onto black. */
  grayscaleToRgb: boolean;
  /**
   * Image files: resized by sharp (lanczos3) with this fit. IDX arrays:
   * resized by bilinear interpolation (they have no aspect ratio to keep).
   */
  fit: FitMode;
  /** input[c] = pixel[c] × scale[c] + offset[c], with pixel in 0–255; equals (pixel / 255 − mean) / std. */
  scale: [number, number, number];
  offset: [number, number, number];
  mean: [number, number, number];
  std: [number, number, number];
  description: string;
}

type Triple = [number, number, number];

export function preprocessingFor(normalize: NormalizeSpec, image: ImageSpec): ImagePreprocessing {
  const inputSize = image.size;
  return {
    kind: 'image',
    inputSize,
    channels: 3,
    grayscaleToRgb: true,
    fit: image.fit,
    scale: normalize.std.map((s) => 1 / (255 * s)) as Triple,
    offset: normalize.mean.map((m, c) => -m / normalize.std[c]!) as Triple,
    mean: normalize.mean,
    std: normalize.std,
    description: `resize to ${inputSize.join('×')} (${image.fit}), gray → RGB, ${normalize.description}`,
  };
}

/** Pixels as floats in 0–255 at the model's input size, 3 channels. */
export function pixelsTensor(batch: PixelBatch, inputSize: [number, number]): tf.Tensor4D {
  return tf.tidy(() => {
    const x = tf.tensor4d(batch.data, [batch.count, batch.height, batch.width, batch.channels], 'int32').toFloat();
    const sized = batch.height === inputSize[0] && batch.width === inputSize[1] ? x : tf.image.resizeBilinear(x, inputSize);
    return batch.channels === 1 ? tf.tile(sized, [1, 1, 1, 3]) : sized;
  });
}

/**
 * The model input for a batch of pixels: [n, height, width, 3], float32,
 * resized, optionally augmented (training batches only), then normalised.
 */
export function imageBatch(batch: PixelBatch, pre: ImagePreprocessing, augment?: (pixels: tf.Tensor4D) => tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const pixels = pixelsTensor(batch, pre.inputSize);
    const changed = augment ? augment(pixels) : pixels;
    return tf.add(tf.mul(changed, tf.tensor1d(pre.scale)), tf.tensor1d(pre.offset)) as tf.Tensor4D;
  });
}

/** Mean and standard deviation of each column over the given rows (population std, as scikit-learn's StandardScaler). */
export function tabularPreprocessing(columns: string[], rows: VectorBatch): TabularPreprocessing {
  const mean = new Array<number>(rows.width).fill(0);
  const variance = new Array<number>(rows.width).fill(0);
  for (let r = 0; r < rows.count; r++) for (let c = 0; c < rows.width; c++) mean[c]! += rows.data[r * rows.width + c]! / rows.count;
  for (let r = 0; r < rows.count; r++) for (let c = 0; c < rows.width; c++) variance[c]! += (rows.data[r * rows.width + c]! - mean[c]!) ** 2 / rows.count;
  const std = variance.map((v) => (v > 1e-12 ? Math.sqrt(v) : 1));
  return { kind: 'tabular', columns, mean, std, description: `${columns.length} columns standardised with the training split's mean and std` };
}

export function vectorBatch(rows: VectorBatch, pre: TabularPreprocessing): tf.Tensor2D {
  return tf.tidy(() => tf.div(tf.sub(tf.tensor2d(rows.data, [rows.count, rows.width]), tf.tensor1d(pre.mean)), tf.tensor1d(pre.std)) as tf.Tensor2D);
}

export function oneHotBatch(labels: Int32Array, indexes: readonly number[], numClasses: number): tf.Tensor2D {
  return tf.tidy(() => tf.oneHot(tf.tensor1d(indexes.map((i) => labels[i]!), 'int32'), numClasses).toFloat() as tf.Tensor2D);
}
