import * as tf from '@tensorflow/tfjs';
import type { ZooEntry } from '../spec/zoo-catalog.js';
import type { LabeledImages } from './datasets.js';

/** Everything needed to turn a raw image into the model's input; saved as preprocessing.json. */
export interface Preprocessing {
  inputSize: [number, number];
  channels: 3;
  /** Grayscale sources are repeated into 3 channels. */
  grayscaleToRgb: boolean;
  resize: 'bilinear';
  /** input = pixel (0–255) × scale + offset */
  scale: number;
  offset: number;
  description: string;
}

export function preprocessingFor(entry: ZooEntry, inputSize: [number, number]): Preprocessing {
  return {
    inputSize,
    channels: 3,
    grayscaleToRgb: true,
    resize: 'bilinear',
    scale: entry.preprocessing.scale,
    offset: entry.preprocessing.offset,
    description: `resize to ${inputSize.join('×')} (bilinear), gray → RGB, ${entry.preprocessing.description}`,
  };
}

/** The model input for the examples `indexes` of `source`: [n, height, width, 3], float32. */
export function imageBatch(source: LabeledImages, indexes: readonly number[], pre: Preprocessing): tf.Tensor4D {
  const pixels = source.height * source.width;
  const buffer = new Float32Array(indexes.length * pixels);
  indexes.forEach((index, row) => {
    const start = index * pixels;
    const bytes = source.images.subarray(start, start + pixels);
    for (let i = 0; i < pixels; i++) buffer[row * pixels + i] = bytes[i]! * pre.scale + pre.offset;
  });
  return tf.tidy(() => {
    const gray = tf.tensor4d(buffer, [indexes.length, source.height, source.width, 1]);
    const sized =
      source.height === pre.inputSize[0] && source.width === pre.inputSize[1]
        ? gray
        : tf.image.resizeBilinear(gray, pre.inputSize);
    return tf.tile(sized, [1, 1, 1, 3]);
  });
}

export function oneHotBatch(source: LabeledImages, indexes: readonly number[], numClasses: number): tf.Tensor2D {
  return tf.tidy(() => tf.oneHot(tf.tensor1d(indexes.map((i) => source.labels[i]!), 'int32'), numClasses).toFloat() as tf.Tensor2D);
}
