import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { UserError } from '../../diagnostics/user-error.js';
import type { DatasetSpec } from '../../format/types.js';
import { throwIfAborted } from '../errors.js';
import { readRegularFile, unreadable } from '../read-file.js';
import type { LoadedDataset, SkippedFile, SplitData } from './dataset-types.js';
import type { Selection } from './selection.js';
import { setting } from '../../platform/settings.js';

/** Extensions sharp's prebuilt libvips decodes; matched case-insensitively. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif'] as const;
/** Image formats people have that sharp's prebuilt binaries cannot read: counted and reported, never silently dropped. */
const UNSUPPORTED_IMAGE_EXTENSIONS = ['.bmp', '.heic', '.svg', '.ico'] as const;

export interface FolderListing {
  /** Class names: the sub-folder names in Unicode NFC, sorted by code point so the order never depends on the OS. */
  classNames: string[];
  files: string[];
  labels: number[];
  /** Hidden files, non-images, unsupported formats, links that loop or lead to a file already listed, with why. */
  ignored: SkippedFile[];
}

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** A file system object by device and inode: the same thing however many links lead to it. */
const identity = (s: { dev: number; ino: number }): string => `${s.dev}:${s.ino}`;

/**
 * Lists `dir/<class>/**` image files. Symbolic links are followed — to a
 * class folder, a sub-folder or a file — with loop detection by device and
 * inode: a link back to a folder already being listed is ignored and
 * counted, no file is listed twice, and a file that two classes reach is an
 * error. Hidden files and folders, non-images and non-regular files (pipes,
 * devices) are ignored and counted. Class names are NFC-normalised, so
 * `café` written in NFC and NFD is one name, and two folders that normalise
 * alike are an error. Everything is sorted, so the listing (and every split
 * made from it) is independent of the file system's order.
 */
export async function listImageFolder(
  dir: string,
  keyPath: (string | number)[],
  classNames?: string[],
  minClasses = 2,
): Promise<FolderListing> {
  const hint = 'an image folder has one sub-folder per class, e.g. data/flowers/daisy/*.jpg';
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: unknown) => {
    throw new UserError(
      `image folder ${dir}: ${(error as NodeJS.ErrnoException).code === 'ENOTDIR' ? 'not a folder' : unreadable(error)}`,
      keyPath,
      hint,
    );
  });
  const ignored: SkippedFile[] = [];
  const folders = new Map<string, string>();
  for (const entry of [...entries].sort((a, b) => byCodePoint(a.name, b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.name.startsWith('.')) {
      ignored.push({ file: full, reason: 'hidden' });
      continue;
    }
    const target = await stat(full).catch((error: unknown) => error as NodeJS.ErrnoException);
    if (target instanceof Error) {
      ignored.push({
        file: full,
        reason: entry.isSymbolicLink() ? `a link that leads nowhere (${unreadable(target)})` : unreadable(target),
      });
      continue;
    }
    if (!target.isDirectory()) {
      ignored.push({ file: full, reason: 'not inside a class folder' });
      continue;
    }
    const name = entry.name.normalize('NFC');
    const other = folders.get(name);
    if (other !== undefined)
      throw new UserError(
        `class folders \`${path.basename(other)}\` and \`${entry.name}\` in ${dir} are the same name in different Unicode forms`,
        keyPath,
        'rename one of them: they would print identically as two classes',
      );
    folders.set(name, full);
  }
  const found = [...folders.keys()].sort(byCodePoint);
  const classes = (classNames ?? found).map((c) => c.normalize('NFC'));
  const missing = classes.filter((c) => !folders.has(c));
  if (missing.length > 0) {
    throw new UserError(
      `no class folder for ${missing.map((m) => `\`${m}\``).join(', ')} in ${dir}`,
      keyPath,
      `class folders found: ${found.join(', ') || 'none'}`,
    );
  }
  if (classes.length < minClasses) {
    throw new UserError(
      `${dir} has ${classes.length} class folder${classes.length === 1 ? '' : 's'}; ${minClasses === 2 ? 'classification needs at least 2' : `at least ${minClasses} needed`}`,
      keyPath,
      "put each class's images in its own sub-folder",
    );
  }
  const files: string[] = [];
  const labels: number[] = [];
  // Which class each file (by identity) was listed in, and the path it was listed at.
  const listed = new Map<string, { label: number; file: string }>();
  for (const [label, name] of classes.entries()) {
    const classDir = folders.get(name)!;
    const before = files.length;
    await walkClass(
      classDir,
      new Set(),
      (file, id) => {
        const earlier = listed.get(id);
        if (!earlier) {
          listed.set(id, { label, file });
          files.push(file);
          labels.push(label);
        } else if (earlier.label === label)
          ignored.push({ file, reason: `the same file as ${earlier.file} (reached through a link)` });
        else
          throw new UserError(
            `${file} and ${earlier.file} are one file in two classes, \`${name}\` and \`${classes[earlier.label]}\` (through a link)`,
            keyPath,
            'a file belongs to one class: remove the link or the copy',
          );
      },
      ignored,
      keyPath,
    );
    if (files.length === before)
      throw new UserError(
        `class folder \`${name}\` has no images: ${classDir}`,
        keyPath,
        `supported: ${IMAGE_EXTENSIONS.join(' ')}`,
      );
  }
  return { classNames: classes, files, labels, ignored };
}

/**
 * Every image file under `dir` (links followed, loops and files reached
 * twice left out), sorted: the files a folder given to predict stands for.
 */
export async function listImageFiles(dir: string): Promise<{ files: string[]; ignored: SkippedFile[] }> {
  const files: string[] = [];
  const seen = new Set<string>();
  const ignored: SkippedFile[] = [];
  await walkClass(
    dir,
    new Set(),
    (file, id) => {
      if (seen.has(id)) ignored.push({ file, reason: 'the same file as another, reached through a link' });
      else {
        seen.add(id);
        files.push(file);
      }
    },
    ignored,
    [],
  );
  return { files, ignored };
}

/** Every image file under `dir`, depth first in code-point order, following links but never into a folder already on the way. */
async function walkClass(
  dir: string,
  ancestors: Set<string>,
  add: (file: string, id: string) => void,
  ignored: SkippedFile[],
  keyPath: (string | number)[],
): Promise<void> {
  const self = await stat(dir);
  const id = identity(self);
  if (ancestors.has(id)) {
    ignored.push({ file: dir, reason: 'a link back to a folder it is inside (a loop)' });
    return;
  }
  const inside = new Set(ancestors).add(id);
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: unknown) => {
    throw new UserError(
      `cannot read folder ${dir}: ${unreadable(error)}`,
      keyPath,
      'make the folder readable, or move it out of the dataset',
    );
  });
  for (const entry of [...entries].sort((a, b) => byCodePoint(a.name, b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.name.startsWith('.')) {
      ignored.push({ file: full, reason: 'hidden' });
      continue;
    }
    const target =
      entry.isSymbolicLink() || entry.isDirectory() || entry.isFile()
        ? await stat(full).catch((error: unknown) => error as NodeJS.ErrnoException)
        : undefined;
    if (target instanceof Error) {
      ignored.push({
        file: full,
        reason: entry.isSymbolicLink() ? `a link that leads nowhere (${unreadable(target)})` : unreadable(target),
      });
      continue;
    }
    if (target?.isDirectory()) {
      await walkClass(full, inside, add, ignored, keyPath);
      continue;
    }
    const extension = path.extname(entry.name).toLowerCase();
    if (!target?.isFile()) ignored.push({ file: full, reason: 'not a regular file (a pipe, socket or device)' });
    else if ((IMAGE_EXTENSIONS as readonly string[]).includes(extension)) add(full, identity(target));
    else if ((UNSUPPORTED_IMAGE_EXTENSIONS as readonly string[]).includes(extension))
      ignored.push({ file: full, reason: `${extension} images are not supported (convert to PNG or JPEG)` });
    else ignored.push({ file: full, reason: 'not an image' });
  }
}

export type FitMode = 'fill' | 'cover' | 'contain';

/**
 * The most pixels an image may have before it is decoded ($TLPIPE_MAX_IMAGE_PIXELS,
 * 40 million by default; sharp's own limit is 268 million): a small file that
 * declares a huge canvas would otherwise cost seconds of CPU and gigabytes.
 */
export function maxImagePixels(): number {
  return setting('TLPIPE_MAX_IMAGE_PIXELS');
}

/**
 * Decodes one encoded image to RGB uint8 at `size` ([height, width]). Alpha is
 * composited onto black, grayscale repeated to RGB, and for GIFs the first
 * frame is taken. fill stretches, cover crops the centre, contain pads with black.
 */
export async function decodeImage(encoded: Uint8Array, size: [number, number], fit: FitMode): Promise<Uint8Array> {
  if (encoded.length === 0) throw new Error('empty file (0 bytes)');
  const limit = maxImagePixels();
  const { data } = await sharp(encoded, { failOn: 'truncated', pages: 1, limitInputPixels: limit })
    .rotate() // honour EXIF orientation, as photo viewers do
    .resize({ height: size[0], width: size[1], fit, position: 'centre', background: { r: 0, g: 0, b: 0 } })
    .flatten({ background: { r: 0, g: 0, b: 0 } })
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true })
    .catch((error: Error) => {
      throw /pixel limit/i.test(error.message)
        ? new Error(`the image has more than ${limit} pixels (TLPIPE_MAX_IMAGE_PIXELS)`)
        : error;
    });
  if (data.length !== size[0] * size[1] * 3)
    throw new Error(`decoded to ${data.length} bytes, expected ${size[0] * size[1] * 3}`);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Width and height from the header, without decoding; for the dataset report. */
export async function imageDimensions(file: string): Promise<{ width: number; height: number } | undefined> {
  try {
    const meta = await sharp(await readRegularFile(file, 'image'), { limitInputPixels: maxImagePixels() }).metadata();
    return meta.width && meta.height ? { width: meta.width, height: meta.height } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Decoded pixels of image files are kept in memory up to this size (512 MiB,
 * or TLPIPE_DECODE_CACHE_MB); beyond it they are decoded again per batch.
 */
// Read when a dataset is read, not when the module loads: a bad value must not make importing the library fail.
export const decodedCacheBytes = (): number => setting('TLPIPE_DECODE_CACHE_MB') * 2 ** 20;
/** Files decoded at once: sharp decodes on libuv's thread pool, so this keeps both cores busy. */
const DECODE_CONCURRENCY = 8;

/** `fn` over `items`, `limit` at a time, in order; stops starting new ones once `signal` aborts. */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  signal?: AbortSignal,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      throwIfAborted(signal);
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
  /** The hint of the error `onBadFile: error` gives; the dataset's by default. */
  badFileHint?: string;
  cacheBytes: number;
  signal?: AbortSignal;
}

/** Image files with labels, as a source listing: a split's files before any is read. */
export interface FileSplit {
  files: string[];
  labels: number[];
  /** The folder paths are taken relative to in the digest, so that moving the dataset does not change it. */
  root: string;
}

/** The image files of one split, of which those in `keep` are used; pixels decoded once when they fit the cache. */
function imageSplit(
  source: FileSplit,
  keep: number[],
  decoded: Map<number, Uint8Array>,
  options: DecodeOptions,
): SplitData {
  const [height, width] = options.size;
  const bytesPerImage = height * width * 3;
  const at = (index: number): number => keep[index]!;
  return {
    count: keep.length,
    labels: Int32Array.from(keep, (i) => source.labels[i]!),
    name: (index) => source.files[at(index)]!,
    pixels: async (indexes) => {
      const data = new Uint8Array(indexes.length * bytesPerImage);
      await mapConcurrent(indexes, DECODE_CONCURRENCY, async (index, row) => {
        const cached = decoded.get(at(index));
        data.set(
          cached ??
            (await decodeImage(await readRegularFile(source.files[at(index)]!, 'image'), options.size, options.fit)),
          row * bytesPerImage,
        );
      });
      return { data, count: indexes.length, height, width, channels: 3 };
    },
  };
}

/**
 * The splits of listed image files, with only the files the selection uses
 * read and decoded — before any training, so a corrupt one is found now (an
 * error naming it, or with `onBadFile: skip` left out and counted), never
 * mid-epoch. A skipped file leaves the listing and the selection is made
 * again, as if it had never been there. The digest covers the whole
 * listing (names and labels) and the bytes of every file used.
 */
export async function readImageSplits(
  train: FileSplit,
  test: FileSplit | undefined,
  select: (labels: { train: Int32Array; test?: Int32Array }) => Selection,
  options: DecodeOptions,
  keyPath: (string | number)[],
): Promise<{
  train: SplitData;
  test?: SplitData;
  selection: Selection;
  skipped: SkippedFile[];
  digest: string;
  storage: 'memory' | 'streaming';
}> {
  const sources = { train, ...(test ? { test } : {}) } as Record<'train' | 'test', FileSplit>;
  const excluded = { train: new Set<number>(), test: new Set<number>() };
  const decoded = { train: new Map<number, Uint8Array>(), test: new Map<number, Uint8Array>() };
  const digests = { train: new Map<number, string>(), test: new Map<number, string>() };
  const skipped: SkippedFile[] = [];
  const bytesPerImage = options.size[0] * options.size[1] * 3;
  const kept = (split: 'train' | 'test'): number[] =>
    sources[split].files.map((_, i) => i).filter((i) => !excluded[split].has(i));
  for (;;) {
    const keep = { train: kept('train'), test: test ? kept('test') : [] };
    const selection = select({
      train: Int32Array.from(keep.train, (i) => train.labels[i]!),
      ...(test ? { test: Int32Array.from(keep.test, (i) => test.labels[i]!) } : {}),
    });
    const needed: { split: 'train' | 'test'; index: number }[] = [
      ...[...selection.train, ...selection.validation, ...(test ? [] : selection.test)].map((p) => ({
        split: 'train' as const,
        index: keep.train[p]!,
      })),
      ...(test ? selection.test.map((p) => ({ split: 'test' as const, index: keep.test[p]! })) : []),
    ];
    const toRead = needed.filter(({ split, index }) => !digests[split].has(index));
    const holdPixels = needed.length * bytesPerImage <= options.cacheBytes;
    const bad: { split: 'train' | 'test'; index: number; reason: string }[] = [];
    await mapConcurrent(
      toRead,
      DECODE_CONCURRENCY,
      async ({ split, index }) => {
        const file = sources[split].files[index]!;
        try {
          const raw = await readRegularFile(file, 'image', keyPath);
          const pixels = await decodeImage(raw, options.size, options.fit);
          // Keep a digest, not the file: holding every encoded file would defeat streaming.
          digests[split].set(index, createHash('sha256').update(raw).digest('hex'));
          if (holdPixels) decoded[split].set(index, pixels);
        } catch (error) {
          if ((error as Error).name === 'RunInterrupted') throw error;
          bad.push({ split, index, reason: (error as Error).message.split('\n')[0]! });
        }
      },
      options.signal,
    );
    if (bad.length > 0) {
      bad.sort((a, b) => a.split.localeCompare(b.split) || a.index - b.index);
      const listed = bad.map(({ split, index, reason }) => ({
        file: sources[split].files[index]!,
        reason: reason.replace(`image file ${sources[split].files[index]!}: `, ''),
      }));
      if (options.onBadFile === 'error') {
        const shown = listed
          .slice(0, 5)
          .map((s) => `\n    ${s.file}: ${s.reason}`)
          .join('');
        throw new UserError(
          `${bad.length} image file${bad.length === 1 ? '' : 's'} cannot be decoded:${shown}${bad.length > 5 ? `\n    … and ${bad.length - 5} more` : ''}`,
          keyPath,
          options.badFileHint ??
            'fix or remove them, or set `onBadFile: skip` to train without them (they are counted in summary.json)',
        );
      }
      for (const b of bad) excluded[b.split].add(b.index);
      skipped.push(...listed);
      continue;
    }
    if (!holdPixels) for (const map of Object.values(decoded)) map.clear();
    const hash = createHash('sha256');
    for (const split of ['train', 'test'] as const) {
      const source = sources[split];
      if (!source) continue;
      // Paths relative to the dataset root, so the digest survives moving the folder.
      for (const index of keep[split])
        hash.update(
          `${split}\0${path.relative(source.root, source.files[index]!)}\0${source.labels[index]}\0${digests[split].get(index) ?? ''}\n`,
        );
    }
    return {
      train: imageSplit(train, keep.train, decoded.train, options),
      ...(test ? { test: imageSplit(test, keep.test, decoded.test, options) } : {}),
      selection,
      skipped: skipped.sort((a, b) => byCodePoint(a.file, b.file)),
      digest: hash.digest('hex'),
      storage: holdPixels ? 'memory' : 'streaming',
    };
  }
}

export async function readImageFolderDataset(
  spec: Extract<DatasetSpec, { format: 'imageFolder' }>,
  options: {
    cacheBytes: number;
    select: (labels: { train: Int32Array; test?: Int32Array }, numClasses: number) => Selection;
    signal?: AbortSignal;
  },
): Promise<LoadedDataset & { selection: Selection }> {
  const listing = await listImageFolder(spec.dir, ['dataset', 'dir'], spec.classNames);
  const testListing = spec.testDir
    ? await listImageFolder(spec.testDir, ['dataset', 'testDir'], listing.classNames)
    : undefined;
  const numClasses = listing.classNames.length;
  const decode: DecodeOptions = {
    size: spec.image.size,
    fit: spec.image.fit,
    onBadFile: spec.onBadFile,
    cacheBytes: options.cacheBytes,
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const read = await readImageSplits(
    { files: listing.files, labels: listing.labels, root: spec.dir },
    testListing ? { files: testListing.files, labels: testListing.labels, root: spec.testDir! } : undefined,
    (labels) => options.select(labels, numClasses),
    decode,
    ['dataset', testListing ? 'dir' : 'dir'],
  );
  return {
    input: { kind: 'image' },
    train: read.train,
    ...(read.test ? { test: read.test } : {}),
    numClasses,
    classNames: listing.classNames,
    digest: read.digest,
    skipped: read.skipped,
    ignored: [...listing.ignored, ...(testListing?.ignored ?? [])],
    storage: read.storage,
    selection: read.selection,
  };
}
