import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import fg from 'fast-glob';
import { UserError } from '../../diagnostics/user-error.js';
import { decodeImage, IMAGE_EXTENSIONS } from '../data/image-folder.js';
import { imageBatch, type Preprocessing } from '../data/preprocess.js';

export interface Prediction {
  file: string;
  /** Best first. */
  top: { label: string; probability: number }[];
}

/** Image files named directly, and every image file under named folders, sorted. */
export async function collectImageFiles(inputs: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const input of inputs) {
    const stats = await stat(input).catch(() => undefined);
    if (!stats) throw new UserError(`no such file or folder: ${input}`);
    if (stats.isDirectory()) {
      const found = await fg('**/*', { cwd: input, onlyFiles: true, caseSensitiveMatch: false });
      files.push(...found.filter((f) => (IMAGE_EXTENSIONS as readonly string[]).includes(path.extname(f).toLowerCase())).sort().map((f) => path.join(input, f)));
    } else files.push(input);
  }
  if (files.length === 0) throw new UserError('no image files found', [], `image files end in ${IMAGE_EXTENSIONS.join(' ')}`);
  return files;
}

/**
 * Classifies image files with an exported model, preparing each image
 * exactly as training did (the run's preprocessing.json). `outputs` says
 * whether the model ends in softmax (probabilities) or is linear (logits).
 */
export async function predictImages(
  model: tf.LayersModel,
  labels: string[],
  pre: Preprocessing,
  outputs: 'probabilities' | 'logits',
  files: string[],
  top: number,
): Promise<Prediction[]> {
  if (pre.kind !== 'image') throw new UserError('this run was trained on tabular rows, not images');
  const predictions: Prediction[] = [];
  const batchSize = 32;
  for (let start = 0; start < files.length; start += batchSize) {
    const batchFiles = files.slice(start, start + batchSize);
    const probabilities = await preparedImages(batchFiles, pre).then((x) => tf.tidy(() => {
      const y = model.predict(x) as tf.Tensor;
      x.dispose();
      return (outputs === 'logits' ? tf.softmax(y) : y).arraySync() as number[][];
    }));
    probabilities.forEach((p, i) => {
      const ranked = p.map((probability, c) => ({ label: labels[c] ?? String(c), probability })).sort((a, b) => b.probability - a.probability);
      predictions.push({ file: batchFiles[i]!, top: ranked.slice(0, top) });
    });
  }
  return predictions;
}

/**
 * Image files, or encoded images in memory, decoded and prepared exactly as
 * training prepared its images (the run's preprocessing.json); one that
 * cannot be decoded is named.
 */
export async function preparedImages(images: readonly (string | Uint8Array)[], pre: Preprocessing): Promise<tf.Tensor4D> {
  if (pre.kind !== 'image') throw new UserError('this run was trained on tabular rows, not images');
  const [height, width] = pre.inputSize;
  const pixels = new Uint8Array(images.length * height * width * 3);
  for (const [row, image] of images.entries()) {
    try {
      const encoded = typeof image === 'string' ? await readFile(image) : image;
      pixels.set(await decodeImage(encoded, pre.inputSize, pre.fit), row * height * width * 3);
    } catch (error) {
      throw new UserError(`${typeof image === 'string' ? image : `image ${row}`}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  return imageBatch({ data: pixels, count: images.length, height, width, channels: 3 }, pre);
}
