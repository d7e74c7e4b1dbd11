import tf from '../tfjs.cjs';
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
  /** 3: grayscale sources are repeated into 3 channels. 1: colour sources are turned gray. Alpha is composited onto black. */
  channels: 1 | 3;
  grayscaleToRgb: boolean;
  /**
   * Image files: resized by sharp (lanczos3) with this fit. IDX arrays:
   * resized by bilinear interpolation (they have no aspect ratio to keep).
   */
  fit: FitMode;
  /** input[c] = pixel[c] × scale[c] + offset[c], with pixel in 0–255; equals (pixel / 255 − mean) / std. One entry per channel. */
  scale: number[];
  offset: number[];
  mean: number[];
  std: number[];
  description: string;
}

export function preprocessingFor(normalize: NormalizeSpec, image: ImageSpec): ImagePreprocessing {
  const inputSize = image.size;
  const average = (v: number[]): number[] => [v.reduce((a, b) => a + b, 0) / v.length];
  const [mean, std] =
    image.channels === 1
      ? [average(normalize.mean), average(normalize.std)]
      : [[...normalize.mean], [...normalize.std]];
  return {
    kind: 'image',
    inputSize,
    channels: image.channels,
    grayscaleToRgb: image.channels === 3,
    fit: image.fit,
    scale: std.map((s) => 1 / (255 * s)),
    offset: mean.map((m, c) => -m / std[c]!),
    mean,
    std,
    description: `resize to ${inputSize.join('×')} (${image.fit}), ${image.channels === 3 ? 'gray → RGB' : 'colour → gray'}, ${normalize.description}`,
  };
}

/** tf.image.rgb_to_grayscale's weights (ITU-R BT.601 luma). */
const LUMA = [0.2989, 0.587, 0.114];

/** Pixels as floats in 0–255 at the model's input size, with the channels it takes (3 unless said). */
export function pixelsTensor(batch: PixelBatch, inputSize: [number, number], channels: 1 | 3 = 3): tf.Tensor4D {
  return tf.tidy(() => {
    const x = tf.tensor4d(batch.data, [batch.count, batch.height, batch.width, batch.channels], 'int32').toFloat();
    const sized =
      batch.height === inputSize[0] && batch.width === inputSize[1] ? x : tf.image.resizeBilinear(x, inputSize);
    if (batch.channels === channels) return sized;
    return channels === 3 ? asRgb(sized) : tf.sum(tf.mul(sized, tf.tensor1d(LUMA)), -1, true);
  });
}

/**
 * One-channel images as three equal channels. By broadcasting (× 1, exact
 * for every float) rather than tf.tile, which wasm runs as a scalar loop:
 * 0.6–0.8 s for 48 images at 224×224, against a few milliseconds.
 */
export function asRgb(gray: tf.Tensor4D): tf.Tensor4D {
  return tf.mul(gray, tf.ones([3]));
}

/**
 * The model input for a batch of pixels: [n, height, width, channels], float32,
 * resized, optionally augmented (training batches only), then normalised.
 */
export function imageBatch(
  batch: PixelBatch,
  pre: ImagePreprocessing,
  augment?: (pixels: tf.Tensor4D) => tf.Tensor4D,
): tf.Tensor4D {
  return tf.tidy(() => {
    const pixels = pixelsTensor(batch, pre.inputSize, pre.channels);
    const changed = augment ? augment(pixels) : pixels;
    return tf.add(tf.mul(changed, tf.tensor1d(pre.scale)), tf.tensor1d(pre.offset)) as tf.Tensor4D;
  });
}

/** Mean and standard deviation of each column over the given rows (population std, as scikit-learn's StandardScaler). */
export function tabularPreprocessing(columns: string[], rows: VectorBatch): TabularPreprocessing {
  const mean = new Array<number>(rows.width).fill(0);
  const variance = new Array<number>(rows.width).fill(0);
  for (let r = 0; r < rows.count; r++)
    for (let c = 0; c < rows.width; c++) mean[c]! += rows.data[r * rows.width + c]! / rows.count;
  for (let r = 0; r < rows.count; r++)
    for (let c = 0; c < rows.width; c++) variance[c]! += (rows.data[r * rows.width + c]! - mean[c]!) ** 2 / rows.count;
  const std = variance.map((v) => (v > 1e-12 ? Math.sqrt(v) : 1));
  return {
    kind: 'tabular',
    columns,
    mean,
    std,
    description: `${columns.length} columns standardised with the training split's mean and std`,
  };
}

export function vectorBatch(rows: VectorBatch, pre: TabularPreprocessing): tf.Tensor2D {
  return tf.tidy(
    () =>
      tf.div(
        tf.sub(tf.tensor2d(rows.data, [rows.count, rows.width]), tf.tensor1d(pre.mean)),
        tf.tensor1d(pre.std),
      ) as tf.Tensor2D,
  );
}

export function oneHotBatch(labels: Int32Array, indexes: readonly number[], numClasses: number): tf.Tensor2D {
  return tf.tidy(
    () =>
      tf
        .oneHot(
          tf.tensor1d(
            indexes.map((i) => labels[i]!),
            'int32',
          ),
          numClasses,
        )
        .toFloat() as tf.Tensor2D,
  );
}
