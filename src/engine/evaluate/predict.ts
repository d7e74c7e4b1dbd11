import { stat } from 'node:fs/promises';
import tf from '../tfjs.cjs';
import { UserError } from '../../diagnostics/user-error.js';
import { decodeImage, IMAGE_EXTENSIONS, listImageFiles } from '../data/image-folder.js';
import { readRegularFile, unreadable } from '../read-file.js';
import type { PixelBatch } from '../data/dataset-types.js';
import {
  imageBatch,
  vectorBatch,
  type ImagePreprocessing,
  type Preprocessing,
  type TabularPreprocessing,
} from '../data/preprocess.js';
import type { FeatureRows } from '../data/feature-rows.js';
import type { TtaTransform } from '../../format/evaluation-keys.js';
import { ttaProbabilities } from './test-time-augmentation.js';

export interface Prediction {
  file: string;
  /** Best first. For an anomaly model: its verdict alone, `normal` or `anomalous`. */
  top: { label: string; probability: number }[];
  /**
   * A classifier with a decision rule (model/decision.json): its answer — the
   * class the tuned threshold chooses, or `unsure` below the abstain
   * confidence (then `unsure` is true). `top` holds the calibrated probabilities.
   */
  label?: string;
  unsure?: boolean;
  /** An anomaly model's answer: the image's score, the model's threshold, the verdict, and the patch scores on their grid. */
  anomaly?: {
    score: number;
    threshold: number;
    anomalous: boolean;
    heat: { grid: [number, number]; values: number[] };
  };
  /** A segmentation model's answer: each class's fraction of the pixels, and where `predict --out` wrote the mask PNG. */
  segmentation?: { fractions: Record<string, number>; mask?: string };
}

/**
 * An image to answer for: a file's path, or encoded bytes in memory (an
 * upload, a request body) with the name its answer and failure carry.
 */
export type ImageInput = string | EncodedImage;
export interface EncodedImage {
  name: string;
  bytes: Uint8Array;
}
const inputName = (input: ImageInput): string => (typeof input === 'string' ? input : input.name);

/** A file that could not be classified, and why. */
export interface PredictionFailure {
  file: string;
  reason: string;
}

/**
 * Image files named directly, and every image file under named folders
 * (links followed, loops left out), in order. A name that is neither a file
 * nor a folder is a failure of its own, not the end of the others.
 */
export async function collectImageFiles(
  inputs: readonly ImageInput[],
): Promise<{ files: ImageInput[]; failures: PredictionFailure[] }> {
  const files: ImageInput[] = [];
  const failures: PredictionFailure[] = [];
  for (const input of inputs) {
    // Bytes in memory are an image already: nothing on disk is looked at.
    if (typeof input !== 'string') {
      files.push(input);
      continue;
    }
    const stats = await stat(input).catch((error: unknown) => error as NodeJS.ErrnoException);
    if (stats instanceof Error) failures.push({ file: input, reason: unreadable(stats) });
    else if (stats.isDirectory()) {
      const found = await listImageFiles(input);
      if (found.files.length === 0)
        failures.push({
          file: input,
          reason: `no image files in this folder (image files end in ${IMAGE_EXTENSIONS.join(' ')})`,
        });
      files.push(...found.files);
    } else files.push(input);
  }
  if (files.length === 0 && failures.length === 0)
    throw new UserError('no image files given', [], `image files end in ${IMAGE_EXTENSIONS.join(' ')}`);
  return { files, failures };
}

/** Image files (or encoded images in memory) decoded at the model's input size (RGB bytes, as training decoded them); one that cannot be decoded is a failure, and the others are kept. */
export async function decodeFiles(
  files: readonly ImageInput[],
  pre: ImagePreprocessing,
): Promise<{ decoded: { file: string; pixels: Uint8Array }[]; failures: PredictionFailure[] }> {
  const decoded: { file: string; pixels: Uint8Array }[] = [];
  const failures: PredictionFailure[] = [];
  for (const input of files) {
    const file = inputName(input);
    try {
      const encoded = typeof input === 'string' ? await readRegularFile(input, 'image') : input.bytes;
      decoded.push({ file, pixels: await decodeImage(encoded, pre.inputSize, pre.fit) });
    } catch (error) {
      failures.push({
        file,
        reason: (error as Error).message
          .replace(`image file ${file}: `, '')
          .replace(`image file ${file} `, '')
          .split('\n')[0]!,
      });
    }
  }
  return { decoded, failures };
}

/** Decoded images (RGB at the input size) as one batch. */
export function joinedPixels(decoded: readonly { pixels: Uint8Array }[], pre: ImagePreprocessing): PixelBatch {
  const [height, width] = pre.inputSize;
  const data = new Uint8Array(decoded.length * height * width * 3);
  decoded.forEach((d, row) => data.set(d.pixels, row * height * width * 3));
  return { data, count: decoded.length, height, width, channels: 3 };
}

/** The ranked classes of one output row, best first. */
export function rankedClasses(
  probabilities: readonly number[],
  labels: readonly string[],
): { label: string; probability: number }[] {
  return probabilities
    .map((probability, c) => ({ label: labels[c] ?? String(c), probability }))
    .sort((a, b) => b.probability - a.probability);
}

/**
 * Classifies image files with an exported model, preparing each image
 * exactly as training did (the run's preprocessing.json). `outputs` says
 * whether the model ends in softmax (probabilities) or is linear (logits).
 * Each file is decoded on its own: one that cannot be is a failure, and the
 * others are classified. With `tta`, each image's probabilities are
 * averaged over the views of those transforms (test-time-augmentation.ts).
 */
export async function predictImages(
  model: tf.LayersModel,
  labels: string[],
  pre: Preprocessing,
  outputs: 'probabilities' | 'logits',
  files: readonly ImageInput[],
  top: number,
  tta: readonly TtaTransform[] = [],
): Promise<{ predictions: Prediction[]; failures: PredictionFailure[] }> {
  if (pre.kind !== 'image') throw wrongInput(pre, 'images');
  const predictions: Prediction[] = [];
  const failures: PredictionFailure[] = [];
  const batchSize = 32;
  for (let start = 0; start < files.length; start += batchSize) {
    const { decoded, failures: failed } = await decodeFiles(files.slice(start, start + batchSize), pre);
    failures.push(...failed);
    if (decoded.length === 0) continue;
    const probabilities = tf.tidy(() => {
      const x = imageBatch(joinedPixels(decoded, pre), pre);
      if (tta.length > 0) return ttaProbabilities(model, x, tta, outputs).arraySync();
      const y = model.predict(x) as tf.Tensor;
      return (outputs === 'logits' ? tf.softmax(y) : y).arraySync() as number[][];
    });
    probabilities.forEach((p, i) => {
      predictions.push({ file: decoded[i]!.file, top: rankedClasses(p, labels).slice(0, top) });
    });
  }
  return { predictions, failures };
}

/**
 * Image files, or encoded images in memory, decoded and prepared exactly as
 * training prepared its images (the run's preprocessing.json); one that
 * cannot be decoded is named.
 */
export async function preparedImages(
  images: readonly (string | Uint8Array)[],
  pre: Preprocessing,
): Promise<tf.Tensor4D> {
  if (pre.kind !== 'image') throw wrongInput(pre, 'images');
  const [height, width] = pre.inputSize;
  const pixels = new Uint8Array(images.length * height * width * 3);
  for (const [row, image] of images.entries()) {
    try {
      const encoded = typeof image === 'string' ? await readRegularFile(image, 'image') : image;
      pixels.set(await decodeImage(encoded, pre.inputSize, pre.fit), row * height * width * 3);
    } catch (error) {
      throw new UserError(
        `${typeof image === 'string' ? image : `image ${row}`}: ${(error as Error).message.split('\n')[0]}`,
      );
    }
  }
  return imageBatch({ data: pixels, count: images.length, height, width, channels: 3 }, pre);
}

const ROWS_PER_BATCH = 1024;

/**
 * Classifies rows with an exported tabular model, standardising each column
 * exactly as training did (the run's preprocessing.json).
 */
export function predictRows(
  model: tf.LayersModel,
  labels: string[],
  pre: TabularPreprocessing,
  outputs: 'probabilities' | 'logits',
  read: FeatureRows,
  top: number,
): Prediction[] {
  const probabilities: number[][] = [];
  // In batches: a CSV of a million rows is not one tensor of them all.
  const { data, count, width } = read.rows;
  for (let start = 0; start < count; start += ROWS_PER_BATCH)
    probabilities.push(
      ...tf.tidy(() => {
        const rows = Math.min(ROWS_PER_BATCH, count - start);
        const batch = { data: data.slice(start * width, (start + rows) * width), count: rows, width };
        const y = model.predict(vectorBatch(batch, pre)) as tf.Tensor;
        return (outputs === 'logits' ? tf.softmax(y) : y).arraySync() as number[][];
      }),
    );
  return probabilities.map((p, i) => ({ file: read.names[i]!, top: rankedClasses(p, labels).slice(0, top) }));
}

/** What a model trained on one kind of input says when handed another. */
export function wrongInput(pre: Preprocessing, given: 'images' | 'rows'): UserError {
  return given === 'images'
    ? new UserError(
        `this model was trained on tabular rows (columns ${(pre as TabularPreprocessing).columns.join(', ')}), not images`,
        [],
        'give a CSV file of rows with those columns (the library: loadModel(run).predict(rows))',
      )
    : new UserError('this model was trained on images, not tabular rows', [], 'give image files or folders');
}
