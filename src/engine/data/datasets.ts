import type { DatasetSpec } from '../../format/types.js';
import { readCsvDataset } from './csv-dataset.js';
import type { LoadedDataset, SplitData } from './dataset-types.js';
import { mnistFiles, readIdxDataset } from './idx-dataset.js';
import { DECODED_CACHE_BYTES, readImageFolderDataset } from './image-folder.js';
import { SeededRandom } from '../random.js';

export type { LoadedDataset, PixelBatch, SkippedFile, SplitData, VectorBatch } from './dataset-types.js';
export { mnistFiles };

export async function readDataset(spec: DatasetSpec, options: { cacheBytes?: number } = {}): Promise<LoadedDataset> {
  switch (spec.format) {
    case 'mnist':
      return readIdxDataset(mnistFiles());
    case 'idx':
      return readIdxDataset({ train: spec.train, ...(spec.test ? { test: spec.test } : {}) });
    case 'imageFolder':
      return readImageFolderDataset(spec, options.cacheBytes ?? DECODED_CACHE_BYTES);
    case 'csv':
      return readCsvDataset(spec, options.cacheBytes ?? DECODED_CACHE_BYTES);
  }
}

/** Which examples each split uses, as indexes into the source splits. */
export interface Selection {
  train: number[];
  validation: number[];
  /** Indexes into the dataset's test split, or into train when the test split is carved out of it. */
  test: number[];
}

/** The split that `selection[split]` indexes into. */
export function splitSource(dataset: LoadedDataset, split: keyof Selection): SplitData {
  return split === 'test' ? (dataset.test ?? dataset.train) : dataset.train;
}

function groupByClass(labels: Int32Array, numClasses: number): number[][] {
  const groups: number[][] = Array.from({ length: numClasses }, () => []);
  labels.forEach((label, index) => groups[label]!.push(index));
  return groups;
}

/** round(n × fraction), but at least one when the fraction is positive, and never all n. */
function heldOut(n: number, fraction: number): number {
  if (fraction <= 0 || n < 2) return 0;
  return Math.min(n - 1, Math.max(1, Math.round(n * fraction)));
}

/**
 * Stratified, seeded subsampling and splits. Each class's indexes are
 * shuffled by a stream forked from the seed, so the result depends only on
 * the seed and the labels in listing order — and listings are sorted, so
 * never on the file system's order.
 */
export function selectExamples(
  dataset: Pick<LoadedDataset, 'train' | 'test' | 'numClasses'>,
  options: { perClass?: number; testPerClass?: number; validation: number; testFraction?: number; seed: number },
): Selection {
  const random = new SeededRandom(options.seed);
  const trainRandom = random.fork('train-split');
  const train: number[] = [];
  const validation: number[] = [];
  const test: number[] = [];
  const carveTest = !dataset.test && (options.testFraction ?? 0) > 0;
  for (const group of groupByClass(dataset.train.labels, dataset.numClasses)) {
    let pool = trainRandom.shuffle(group);
    if (carveTest) {
      const held = heldOut(pool.length, options.testFraction!);
      test.push(...pool.slice(0, Math.min(held, options.testPerClass ?? held)));
      pool = pool.slice(held);
    }
    const chosen = pool.slice(0, options.perClass ?? pool.length);
    const held = heldOut(chosen.length, options.validation);
    validation.push(...chosen.slice(0, held));
    train.push(...chosen.slice(held));
  }
  if (dataset.test) {
    const testRandom = random.fork('test-subsample');
    for (const group of groupByClass(dataset.test.labels, dataset.numClasses)) {
      test.push(...testRandom.shuffle(group).slice(0, options.testPerClass ?? group.length));
    }
  }
  // Sorted so batches read memory in order; training shuffles per epoch anyway.
  const ascending = (a: number, b: number): number => a - b;
  return { train: train.sort(ascending), validation: validation.sort(ascending), test: test.sort(ascending) };
}
