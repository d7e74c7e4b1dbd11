import { stat } from 'node:fs/promises';
import path from 'node:path';
import tf from '../tfjs.cjs';
import { didYouMean } from '../../diagnostics/did-you-mean.js';
import { UserError } from '../../diagnostics/user-error.js';
import type { AdaptSpec, ImageSpec } from '../../format/types.js';
import { readRegularFile, unreadable } from '../read-file.js';
import { CsvFormatError, parseCsvBytes } from './csv.js';
import type { SkippedFile, SplitData } from './dataset-types.js';
import { decodedCacheBytes, listImageFiles, readImageSplits } from './image-folder.js';
import { imageBatch, type ImagePreprocessing } from './preprocess.js';
import { SeededRandom } from '../random.js';

/** Where a problem with the target images points in the pipeline file. */
const AT: (string | number)[] = ['adapt', 'images'];

/**
 * `adapt.images` read: unlabelled images of the target domain, as pixels on
 * demand. Files are listed in code-point order and a seeded sample of at
 * most `limit` is used, so the images (and the digest) depend only on the
 * files and the seed.
 */
export interface TargetImages {
  /** The images used, as a split without labels (every label is 0). */
  images: SplitData;
  count: number;
  /** sha256 over the files used (names relative to the folder or CSV, and bytes). */
  digest: string;
  /** Files listed in all, before the `limit` sample. */
  listed: number;
  skipped: SkippedFile[];
  ignored: SkippedFile[];
  storage: 'memory' | 'streaming';
}

export interface TargetReadOptions {
  seed: number;
  cacheBytes?: number;
  signal?: AbortSignal;
}

/** Reads `adapt.images` (a folder of images in any sub-folders, or a CSV of paths) at the pipeline's image size. */
export async function readTargetImages(
  adapt: AdaptSpec,
  image: ImageSpec,
  options: TargetReadOptions,
): Promise<TargetImages> {
  const { files, ignored, root } = await listTargetFiles(adapt);
  if (files.length === 0)
    throw new UserError(
      `${adapt.images}: no images (JPEG, PNG, WebP, GIF, TIFF, AVIF) to adapt to`,
      AT,
      'point adapt.images at a folder of target-domain images, or a CSV with a column of their paths',
    );
  const read = await readImageSplits(
    { files, labels: files.map(() => 0), root },
    undefined,
    (labels) => ({ train: seededSample(labels.train.length, adapt.limit, options.seed), validation: [], test: [] }),
    {
      size: image.size,
      fit: image.fit,
      onBadFile: adapt.onBadFile,
      badFileHint:
        'fix or remove them, or set `adapt.onBadFile: skip` to adapt without them (each is named in the run log)',
      cacheBytes: options.cacheBytes ?? decodedCacheBytes(),
      ...(options.signal ? { signal: options.signal } : {}),
    },
    AT,
  );
  const used = read.selection.train;
  const all = read.train;
  // The split's own indexes are over the files kept (a skipped file leaves them); the sample indexes into those.
  const images: SplitData = {
    count: used.length,
    labels: new Int32Array(used.length),
    name: (index) => all.name(used[index]!),
    pixels: (indexes) => all.pixels(indexes.map((i) => used[i]!)),
  };
  return {
    images,
    count: used.length,
    digest: read.digest,
    listed: files.length,
    skipped: read.skipped,
    ignored,
    storage: read.storage,
  };
}

/**
 * The first `limit` of a seeded shuffle of 0..count−1, in ascending order,
 * or all of them. (The selection callback of readImageSplits is asked again
 * after a bad file is skipped; it then samples from the files kept.)
 */
export function seededSample(count: number, limit: number, seed: number): number[] {
  const all = Array.from({ length: count }, (_, i) => i);
  if (count <= limit) return all;
  return new SeededRandom(seed)
    .shuffle(all)
    .slice(0, limit)
    .sort((a, b) => a - b);
}

/** The image files the target names: every image under a folder, or the paths in a CSV's column (relative to the CSV). */
async function listTargetFiles(adapt: AdaptSpec): Promise<{ files: string[]; ignored: SkippedFile[]; root: string }> {
  let isFile: boolean;
  try {
    isFile = (await stat(adapt.images)).isFile();
  } catch (error) {
    throw new UserError(`${adapt.images}: ${unreadable(error)}`, AT);
  }
  if (!isFile) {
    const { files, ignored } = await listImageFiles(adapt.images);
    return { files, ignored, root: adapt.images };
  }
  if (path.extname(adapt.images).toLowerCase() !== '.csv')
    throw new UserError(
      `${adapt.images} is a file, and not a .csv`,
      AT,
      'give a folder of images, or a CSV file with a column of image paths',
    );
  return { ...(await csvImagePaths(adapt)), ignored: [], root: path.dirname(adapt.images) };
}

async function csvImagePaths(adapt: AdaptSpec): Promise<{ files: string[] }> {
  const bytes = await readRegularFile(adapt.images, 'csv', AT);
  let records;
  try {
    records = parseCsvBytes(bytes);
  } catch (error) {
    if (error instanceof CsvFormatError) throw new UserError(`${adapt.images}:${error.line}: ${error.message}`, AT);
    throw error;
  }
  const [header, ...rows] = records;
  if (!header || rows.length === 0)
    throw new UserError(`${adapt.images}: needs a header row and at least one data row`, AT);
  const at = header.fields.indexOf(adapt.imageColumn);
  if (at < 0)
    throw new UserError(
      `${adapt.images}: no column named \`${adapt.imageColumn}\`; the header has ${header.fields.map((f) => `\`${f}\``).join(', ')}`,
      ['adapt', 'imageColumn'],
      didYouMean(adapt.imageColumn, header.fields),
    );
  const root = path.dirname(adapt.images);
  const files: string[] = [];
  for (const row of rows) {
    const value = row.fields[at]?.trim() ?? '';
    if (value === '')
      throw new UserError(`${adapt.images}:${row.line}: missing image path (column \`${adapt.imageColumn}\`)`, AT);
    files.push(path.resolve(root, value));
  }
  return { files };
}

/** Target images as model inputs: resized, normalised as the pipeline's own images, never augmented. */
export interface TargetSource {
  count: number;
  /** The caller disposes the tensor. */
  batch(positions: readonly number[]): Promise<tf.Tensor4D>;
}

export function targetSource(target: TargetImages, preprocessing: ImagePreprocessing): TargetSource {
  return {
    count: target.count,
    batch: async (positions) => imageBatch(await target.images.pixels([...positions]), preprocessing),
  };
}
