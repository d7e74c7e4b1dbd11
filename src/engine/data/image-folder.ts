import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import fg from 'fast-glob';
import sharp from 'sharp';
import type { DatasetSpec } from '../../format/types.js';
import type { LoadedDataset, SkippedFile, SplitData } from './dataset-types.js';
import { UserError } from '../../diagnostics/user-error.js';

/** Extensions sharp's prebuilt libvips decodes; matched case-insensitively. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif'] as const;
/** Image formats people have that sharp's prebuilt binaries cannot read: counted and reported, never silently dropped. */
const UNSUPPORTED_IMAGE_EXTENSIONS = ['.bmp', '.heic', '.svg', '.ico'] as const;

export interface FolderListing {
  /** Class names: the sub-folder names, sorted by code point so the order never depends on the OS. */
  classNames: string[];
  files: string[];
  labels: number[];
  /** Hidden files, non-images and unsupported formats, with why. */
  ignored: SkippedFile[];
}

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Lists `dir/<class>/**` image files. Hidden files and folders are ignored
 * and counted; so are non-image files. Files are sorted, so the listing (and
 * every split made from it) is independent of the file system's order.
 */
export async function listImageFolder(dir: string, keyPath: (string | number)[], classNames?: string[], minClasses = 2): Promise<FolderListing> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(
      code === 'ENOENT' ? `folder not found: ${dir}` : code === 'ENOTDIR' ? `not a folder: ${dir}` : `cannot read folder ${dir}: ${(error as Error).message}`,
      keyPath,
      'an image folder has one sub-folder per class, e.g. data/flowers/daisy/*.jpg',
    );
  }
  const folders = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort(byCodePoint);
  const classes = classNames ?? folders;
  const ignored: SkippedFile[] = entries
    .filter((e) => !e.isDirectory() || e.name.startsWith('.'))
    .map((e) => ({ file: path.join(dir, e.name), reason: e.name.startsWith('.') ? 'hidden' : 'not inside a class folder' }));
  const missing = classes.filter((c) => !folders.includes(c));
  if (missing.length > 0) {
    throw new UserError(`no class folder for ${missing.map((m) => `\`${m}\``).join(', ')} in ${dir}`, keyPath, `class folders found: ${folders.join(', ') || 'none'}`);
  }
  if (classes.length < minClasses) {
    throw new UserError(`${dir} has ${classes.length} class folder${classes.length === 1 ? '' : 's'}; ${minClasses === 2 ? 'classification needs at least 2' : `at least ${minClasses} needed`}`, keyPath, 'put each class\'s images in its own sub-folder');
  }
  const files: string[] = [];
  const labels: number[] = [];
  for (const [label, name] of classes.entries()) {
    const classDir = path.join(dir, name);
    const all = (await fg('**/*', { cwd: classDir, dot: true, onlyFiles: true, followSymbolicLinks: true, suppressErrors: false })).sort(byCodePoint);
    let count = 0;
    for (const relative of all) {
      const file = path.join(classDir, relative);
      const extension = path.extname(relative).toLowerCase();
      if (relative.split('/').some((part) => part.startsWith('.'))) ignored.push({ file, reason: 'hidden' });
      else if ((IMAGE_EXTENSIONS as readonly string[]).includes(extension)) {
        files.push(file);
        labels.push(label);
        count++;
      } else if ((UNSUPPORTED_IMAGE_EXTENSIONS as readonly string[]).includes(extension)) {
        ignored.push({ file, reason: `${extension} images are not supported (convert to PNG or JPEG)` });
      } else ignored.push({ file, reason: 'not an image' });
    }
    if (count === 0) {
      throw new UserError(`class folder \`${name}\` has no images: ${classDir}`, keyPath, `supported: ${IMAGE_EXTENSIONS.join(' ')}`);
    }
  }
  return { classNames: classes, files, labels, ignored };
}

export type FitMode = 'fill' | 'cover' | 'contain';

/**
 * Decodes one encoded image to RGB uint8 at `size` ([height, width]). Alpha is
 * composited onto black, grayscale repeated to RGB, and for GIFs the first
 * frame is taken. fill stretches, cover crops the centre, contain pads with black.
 */
export async function decodeImage(encoded: Uint8Array, size: [number, number], fit: FitMode): Promise<Uint8Array> {
  if (encoded.length === 0) throw new Error('empty file (0 bytes)');
  const { data } = await sharp(encoded, { failOn: 'truncated', pages: 1 })
    .rotate() // honour EXIF orientation, as photo viewers do
    .resize({ height: size[0], width: size[1], fit, position: 'centre', background: { r: 0, g: 0, b: 0 } })
    .flatten({ background: { r: 0, g: 0, b: 0 } })
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (data.length !== size[0] * size[1] * 3) throw new Error(`decoded to ${data.length} bytes, expected ${size[0] * size[1] * 3}`);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Width and height from the header, without decoding; for the dataset report. */
export async function imageDimensions(file: string): Promise<{ width: number; height: number } | undefined> {
  try {
    const meta = await sharp(file).metadata();
    return meta.width && meta.height ? { width: meta.width, height: meta.height } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Decoded pixels of image files are kept in memory up to this size (512 MiB,
 * or TLPIPE_DECODE_CACHE_MB); beyond it they are decoded again per batch.
 */
export const DECODED_CACHE_BYTES = Number(process.env['TLPIPE_DECODE_CACHE_MB'] ?? 512) * 2 ** 20;
/** Files decoded at once: sharp decodes on libuv's thread pool, so this keeps both cores busy. */
const DECODE_CONCURRENCY = 8;

export async function mapConcurrent<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
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

export interface DecodeOptions {
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
export async function decodeImageFiles(
  listing: { files: string[]; labels: number[] },
  options: DecodeOptions,
  keyPath: (string | number)[],
  hash: ReturnType<typeof createHash>,
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

export async function readImageFolderDataset(spec: Extract<DatasetSpec, { format: 'imageFolder' }>, cacheBytes: number): Promise<LoadedDataset> {
  const listing = await listImageFolder(spec.dir, ['dataset', 'dir'], spec.classNames);
  const options: DecodeOptions = { size: spec.image.size, fit: spec.image.fit, onBadFile: spec.onBadFile, cacheBytes };
  const hash = createHash('sha256');
  const train = await decodeImageFiles(listing, options, ['dataset', 'dir'], hash, spec.dir);
  let test: Awaited<ReturnType<typeof decodeImageFiles>> | undefined;
  let ignored = listing.ignored;
  if (spec.testDir) {
    const testListing = await listImageFolder(spec.testDir, ['dataset', 'testDir'], listing.classNames);
    test = await decodeImageFiles(testListing, options, ['dataset', 'testDir'], hash, spec.testDir);
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
