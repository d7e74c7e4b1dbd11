import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { UserError } from '../../diagnostics/user-error.js';
import type { DatasetSpec } from '../../format/types.js';
import { readRegularFile, unreadable } from '../read-file.js';
import type { LoadedDataset, PixelBatch, SkippedFile, SplitData } from './dataset-types.js';
import { decodeImage, listImageFiles, mapConcurrent, maxImagePixels, type FitMode } from './image-folder.js';
import { selectExamples, type Selection } from './selection.js';

/** `dataset: { format: segmentationFolder, … }` with every default filled in and every path absolute (format/dataset-formats owns it). */
export type SegmentationFolderSpec = Extract<DatasetSpec, { format: 'segmentationFolder' }>;

/** Class indexes of some masks, row-major [count, height, width], at the pipeline's image size. */
export interface MaskBatch {
  data: Uint8Array;
  count: number;
  height: number;
  width: number;
}

/** One split of image and mask pairs; `labels` are all 0 (an image has no single class). */
export interface SegmentationSplit extends SplitData {
  /** The mask file of example `index`. */
  maskName(index: number): string;
  masks(indexes: readonly number[]): Promise<MaskBatch>;
  /** Pixels and masks together: when streaming, each pair is decoded once rather than once for each. */
  pairs(indexes: readonly number[]): Promise<{ pixels: PixelBatch; masks: MaskBatch }>;
  /** Pixels of each class (then, last, ignored pixels) over these selected examples, at the pipeline's image size. */
  pixelCounts(indexes: readonly number[]): number[];
}

export interface LoadedSegmentationDataset extends Omit<LoadedDataset, 'train' | 'test'> {
  train: SegmentationSplit;
  test?: SegmentationSplit;
  classNames: string[];
  ignoreIndex?: number;
  selection: Selection;
  /** Pixels of each class in each selected split, for class weights and `tlpipe data`; `ignored` per split apart. */
  pixelCounts: Record<keyof Selection, { perClass: number[]; ignored: number }>;
}

/** An image and the mask that goes with it. */
export interface MaskedFile {
  image: string;
  /** Where its mask should be; it may not exist (a bad file then). */
  mask: string;
}

interface PairSource {
  pairs: MaskedFile[];
  /** Paths are taken relative to these in the digest, so moving the dataset does not change it. */
  imageRoot: string;
  maskRoot: string;
}

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const DECODE_CONCURRENCY = 8;
/** Masks are PNG only: a lossy format changes class values at region borders. */
const MASK_EXTENSION = '.png';

async function requireFolder(dir: string, keyPath: (string | number)[], what: string): Promise<void> {
  const info = await stat(dir).catch((error: unknown) => error as Error);
  if (info instanceof Error || !info.isDirectory())
    throw new UserError(
      `${what} ${dir}: ${info instanceof Error ? unreadable(info) : 'not a folder'}`,
      keyPath,
      'segmentationFolder takes a folder of images and a folder of PNG masks with the same file names',
    );
}

/**
 * Every image under `imagesDir`, each paired with `masksDir/<same relative
 * path>.png`. Masks with no image, and masks not in PNG, are ignored and
 * counted; two images that would share a mask (`a.jpg`, `a.png`) are an error.
 */
export async function listMaskedImages(
  imagesDir: string,
  masksDir: string,
  keys: { images: (string | number)[]; masks: (string | number)[] },
): Promise<{ pairs: MaskedFile[]; ignored: SkippedFile[] }> {
  await requireFolder(imagesDir, keys.images, 'image folder');
  await requireFolder(masksDir, keys.masks, 'mask folder');
  const images = await listImageFiles(imagesDir);
  const masks = await listImageFiles(masksDir);
  const stem = (root: string, file: string): string => {
    const relative = path.relative(root, file);
    return relative.slice(0, relative.length - path.extname(relative).length).normalize('NFC');
  };
  const maskByStem = new Map<string, string>();
  const ignored: SkippedFile[] = [...images.ignored, ...masks.ignored];
  for (const mask of masks.files) {
    if (path.extname(mask).toLowerCase() === MASK_EXTENSION) maskByStem.set(stem(masksDir, mask), mask);
    else ignored.push({ file: mask, reason: 'a mask must be a PNG (lossy formats change class values)' });
  }
  const pairs: MaskedFile[] = [];
  const imageByStem = new Map<string, string>();
  for (const image of images.files) {
    const key = stem(imagesDir, image);
    const other = imageByStem.get(key);
    if (other !== undefined)
      throw new UserError(
        `${other} and ${image} would share one mask, ${path.join(masksDir, key + MASK_EXTENSION)}`,
        keys.images,
        'give each image its own base name',
      );
    imageByStem.set(key, image);
    pairs.push({ image, mask: maskByStem.get(key) ?? path.join(masksDir, key + MASK_EXTENSION) });
  }
  for (const [key, mask] of maskByStem)
    if (!imageByStem.has(key)) ignored.push({ file: mask, reason: 'a mask with no image of the same name' });
  if (pairs.length === 0)
    throw new UserError(`image folder ${imagesDir} has no images`, keys.images, 'put the images in it');
  return { pairs, ignored: ignored.sort((a, b) => byCodePoint(a.file, b.file)) };
}

/** The size an image is shown at: its header's, turned by its EXIF orientation as decodeImage turns it. */
async function orientedSize(encoded: Uint8Array): Promise<{ width: number; height: number }> {
  const meta = await sharp(encoded, { limitInputPixels: maxImagePixels() }).metadata();
  const turned = (meta.orientation ?? 1) >= 5;
  return turned ? { width: meta.height!, height: meta.width! } : { width: meta.width!, height: meta.height! };
}

/**
 * A mask file's class indexes at its own size, checked: 8-bit, one value per
 * pixel (gray, or colour with R = G = B), each a class index or `ignoreIndex`.
 */
export async function decodeMaskValues(
  encoded: Uint8Array,
  numClasses: number,
  ignoreIndex: number | undefined,
): Promise<{ values: Uint8Array; width: number; height: number }> {
  if (encoded.length === 0) throw new Error('empty file (0 bytes)');
  const limit = maxImagePixels();
  const input = sharp(encoded, { failOn: 'truncated', limitInputPixels: limit });
  const meta = await input.metadata().catch((error: Error) => {
    throw /pixel limit/i.test(error.message)
      ? new Error(`the mask has more than ${limit} pixels (TLPIPE_MAX_IMAGE_PIXELS)`)
      : error;
  });
  if (meta.format !== 'png') throw new Error(`a ${meta.format ?? 'non-image'} file; a mask must be a PNG`);
  if (meta.depth !== 'uchar') throw new Error('a 16-bit PNG; save masks as 8-bit (one byte per pixel)');
  // libvips stretches 1-, 2- and 4-bit gray to 0–255 (a 1-bit 1 reads 255): undo it, so a bilevel mask reads 0 and 1.
  const bits = meta.isPalette ? 8 : (meta.bitsPerSample ?? 8);
  const stretch = bits < 8 ? 255 / (2 ** bits - 1) : 1;
  const { data, info } = await input.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const pixels = info.width * info.height;
  const values = new Uint8Array(pixels);
  for (let p = 0; p < pixels; p++) {
    const v = Math.round(data[p * info.channels]! / stretch);
    if (
      info.channels >= 3 &&
      (data[p * info.channels + 1] !== data[p * info.channels] ||
        data[p * info.channels + 2] !== data[p * info.channels])
    )
      throw new Error(
        `pixel (${p % info.width}, ${Math.floor(p / info.width)}) is a colour, not a class index; masks hold class indexes as 8-bit gray values (a palette PNG such as VOC's is read by its colours: save its indexes as gray)`,
      );
    if (v >= numClasses && v !== ignoreIndex)
      throw new Error(
        `pixel (${p % info.width}, ${Math.floor(p / info.width)}) is ${v}; expected a class index 0–${numClasses - 1}${ignoreIndex === undefined ? '' : ` or ignoreIndex ${ignoreIndex}`}`,
      );
    values[p] = v;
  }
  return { values, width: info.width, height: info.height };
}

/**
 * Class indexes resized to `size` ([height, width]) with the image's fit and
 * nearest neighbour, so no value is blended into one that is not a class and
 * every mask pixel stays on its image pixel; `contain`'s padding is `pad`.
 */
export async function resizeMask(
  mask: { values: Uint8Array; width: number; height: number },
  size: [number, number],
  fit: FitMode,
  pad: number,
): Promise<Uint8Array> {
  if (mask.height === size[0] && mask.width === size[1]) return mask.values;
  const { data } = await sharp(mask.values, { raw: { width: mask.width, height: mask.height, channels: 1 } })
    .resize({
      height: size[0],
      width: size[1],
      fit,
      position: 'centre',
      kernel: 'nearest',
      background: { r: pad, g: pad, b: pad },
    })
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (data.length !== size[0] * size[1]) throw new Error(`mask resized to ${data.length} bytes`);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export interface MaskDecodeOptions {
  size: [number, number];
  fit: FitMode;
  numClasses: number;
  ignoreIndex?: number;
  onBadFile: 'error' | 'skip';
  cacheBytes: number;
  signal?: AbortSignal;
}

interface DecodedPair {
  pixels: Uint8Array;
  mask: Uint8Array;
  /** Per class, then ignored pixels last. */
  counts: number[];
  digest: string;
}

/**
 * Reads, checks and decodes one pair: the mask must exist, be as large as
 * its image and hold only class indexes. Errors name the file at fault.
 */
async function decodePair(pair: MaskedFile, options: MaskDecodeOptions, keyPath: (string | number)[]) {
  const rawImage = await readRegularFile(pair.image, 'image', keyPath);
  const pixels = await decodeImage(rawImage, options.size, options.fit);
  const rawMask = await readRegularFile(pair.mask, 'image', keyPath).catch((error: Error) => {
    throw new MaskError(pair.mask, /not found/.test(error.message) ? `no mask for ${pair.image}` : error.message);
  });
  const mask = await decodeMaskValues(rawMask, options.numClasses, options.ignoreIndex).catch((error: Error) => {
    throw new MaskError(pair.mask, error.message.split('\n')[0]!);
  });
  const shown = await orientedSize(rawImage);
  if (shown.width !== mask.width || shown.height !== mask.height)
    throw new MaskError(
      pair.mask,
      `the mask is ${mask.width}×${mask.height}, its image ${path.basename(pair.image)} is ${shown.width}×${shown.height}; a mask must be as large as its image`,
    );
  const pad = options.ignoreIndex ?? 0;
  const resized = await resizeMask(mask, options.size, options.fit, pad);
  const counts = new Array<number>(options.numClasses + 1).fill(0);
  for (const v of resized) counts[v < options.numClasses && v !== options.ignoreIndex ? v : options.numClasses]!++;
  const digest = createHash('sha256').update(rawImage).update('\0').update(rawMask).digest('hex');
  return { pixels, mask: resized, counts, digest } satisfies DecodedPair;
}

/** A mask at fault: reported against the mask file rather than its image. */
class MaskError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
  }
}

function pairSplit(
  source: PairSource,
  keep: number[],
  decoded: Map<number, DecodedPair>,
  counts: Map<number, number[]>,
  options: MaskDecodeOptions,
  keyPath: (string | number)[],
): SegmentationSplit {
  const [height, width] = options.size;
  const at = (index: number): number => keep[index]!;
  const read = async (index: number): Promise<DecodedPair> =>
    decoded.get(at(index)) ?? (await decodePair(source.pairs[at(index)]!, options, keyPath));
  const gather = async (indexes: readonly number[], pixels: boolean, masks: boolean) => {
    const pixelData = new Uint8Array(pixels ? indexes.length * height * width * 3 : 0);
    const maskData = new Uint8Array(masks ? indexes.length * height * width : 0);
    await mapConcurrent(indexes, DECODE_CONCURRENCY, async (index, row) => {
      const pair = await read(index);
      if (pixels) pixelData.set(pair.pixels, row * height * width * 3);
      if (masks) maskData.set(pair.mask, row * height * width);
    });
    return {
      pixels: { data: pixelData, count: indexes.length, height, width, channels: 3 as const },
      masks: { data: maskData, count: indexes.length, height, width },
    };
  };
  const countsOf = (index: number): number[] => {
    const counted = counts.get(at(index));
    if (!counted) throw new Error(`example ${index} was not selected, so its pixels were not counted`);
    return counted;
  };
  return {
    count: keep.length,
    labels: new Int32Array(keep.length),
    name: (index) => source.pairs[at(index)]!.image,
    maskName: (index) => source.pairs[at(index)]!.mask,
    pixels: async (indexes) => (await gather(indexes, true, false)).pixels,
    masks: async (indexes) => (await gather(indexes, false, true)).masks,
    pairs: (indexes) => gather(indexes, true, true),
    pixelCounts: (indexes) => sumCounts(indexes.map(countsOf)),
  };
}

const sumCounts = (rows: number[][]): number[] =>
  rows.reduce((sum, row) => sum.map((v, i) => v + row[i]!), rows[0]?.map(() => 0) ?? []);

type SplitName = 'train' | 'test';
type PerSplit<T> = Record<SplitName, T>;

/** What has been read of each split's pairs, by index into the split's listing. */
interface PairReads {
  decoded: PerSplit<Map<number, DecodedPair>>;
  counts: PerSplit<Map<number, number[]>>;
  digests: PerSplit<Map<number, string>>;
}

interface BadPair {
  split: SplitName;
  index: number;
  file: string;
  reason: string;
}

/** The seeded selection over the pairs still kept, and the pairs (by listing index) it uses. */
function selectPairs(
  keep: PerSplit<number[]>,
  hasTest: boolean,
  limit: SegmentationFolderSpec['limit'],
  options: { validation: number | 'test'; testFraction: number; seed: number },
): { selection: Selection; needed: { split: SplitName; index: number }[] } {
  // One group of images: the same seeded shuffle and hold-out as an image folder's, without strata.
  const selection = selectExamples(
    {
      train: { labels: new Int32Array(keep.train.length) },
      ...(hasTest ? { test: { labels: new Int32Array(keep.test.length) } } : {}),
      numClasses: 1,
    },
    { perClass: limit.train, testPerClass: limit.test, ...options },
  );
  const fromTrain = [...selection.train, ...selection.validation, ...(hasTest ? [] : selection.test)];
  return {
    selection,
    needed: [
      ...fromTrain.map((p) => ({ split: 'train' as const, index: keep.train[p]! })),
      ...(hasTest ? selection.test.map((p) => ({ split: 'test' as const, index: keep.test[p]! })) : []),
    ],
  };
}

/** Decodes the needed pairs not read yet; returns those that cannot be used, in listing order. */
async function decodeNeeded(
  needed: { split: SplitName; index: number }[],
  sources: { train: PairSource; test?: PairSource },
  reads: PairReads,
  holdPixels: boolean,
  options: MaskDecodeOptions,
  keyPath: (string | number)[],
): Promise<BadPair[]> {
  const bad: BadPair[] = [];
  await mapConcurrent(
    needed.filter(({ split, index }) => !reads.digests[split].has(index)),
    DECODE_CONCURRENCY,
    async ({ split, index }) => {
      const pair = sources[split]!.pairs[index]!;
      try {
        const read = await decodePair(pair, options, keyPath);
        reads.digests[split].set(index, read.digest);
        reads.counts[split].set(index, read.counts);
        if (holdPixels) reads.decoded[split].set(index, read);
      } catch (error) {
        if ((error as Error).name === 'RunInterrupted') throw error;
        const file = error instanceof MaskError ? error.file : pair.image;
        const reason = (error as Error).message.split('\n')[0]!.replace(`image file ${file}: `, '');
        bad.push({ split, index, file, reason });
      }
    },
    options.signal,
  );
  return bad.sort((a, b) => a.split.localeCompare(b.split) || a.index - b.index);
}

/** sha256 over the kept listing (paths relative to the roots, so moving the dataset keeps it) and the bytes of every pair read. */
function pairsDigest(
  sources: { train: PairSource; test?: PairSource },
  keep: PerSplit<number[]>,
  digests: PerSplit<Map<number, string>>,
): string {
  const hash = createHash('sha256');
  for (const split of ['train', 'test'] as const) {
    const source = sources[split];
    if (!source) continue;
    for (const index of keep[split]) {
      const pair = source.pairs[index]!;
      hash.update(
        `${split}\0${path.relative(source.imageRoot, pair.image)}\0${path.relative(source.maskRoot, pair.mask)}\0${digests[split].get(index) ?? ''}\n`,
      );
    }
  }
  return hash.digest('hex');
}

/**
 * Reads the pairs the selection uses — before any training, so a bad one is
 * found now (an error naming it, or with `onBadFile: skip` left out and
 * counted, and the selection made again without it). Pixels and masks are
 * held in memory when they fit `cacheBytes`, else decoded again per batch.
 */
async function readPairSplits(
  sources: { train: PairSource; test?: PairSource },
  limit: SegmentationFolderSpec['limit'],
  selectionOptions: { validation: number | 'test'; testFraction: number; seed: number },
  options: MaskDecodeOptions,
  keyPath: (string | number)[],
) {
  const excluded = { train: new Set<number>(), test: new Set<number>() };
  const reads: PairReads = {
    decoded: { train: new Map(), test: new Map() },
    counts: { train: new Map(), test: new Map() },
    digests: { train: new Map(), test: new Map() },
  };
  const skipped: SkippedFile[] = [];
  // RGB pixels and a one-byte mask per pixel.
  const bytesPerPair = options.size[0] * options.size[1] * 4;
  const kept = (split: SplitName): number[] =>
    (sources[split]?.pairs ?? []).map((_, i) => i).filter((i) => !excluded[split].has(i));
  for (;;) {
    const keep = { train: kept('train'), test: kept('test') };
    const { selection, needed } = selectPairs(keep, sources.test !== undefined, limit, selectionOptions);
    const holdPixels = needed.length * bytesPerPair <= options.cacheBytes;
    const bad = await decodeNeeded(needed, sources, reads, holdPixels, options, keyPath);
    if (bad.length > 0) {
      if (options.onBadFile === 'error') throw badPairsError(bad, keyPath);
      for (const b of bad) excluded[b.split].add(b.index);
      skipped.push(...bad.map(({ file, reason }) => ({ file, reason })));
      continue;
    }
    if (!holdPixels) for (const map of Object.values(reads.decoded)) map.clear();
    const split = (name: SplitName) =>
      pairSplit(sources[name]!, keep[name], reads.decoded[name], reads.counts[name], options, keyPath);
    return {
      train: split('train'),
      ...(sources.test ? { test: split('test') } : {}),
      selection,
      skipped: skipped.sort((a, b) => byCodePoint(a.file, b.file)),
      digest: pairsDigest(sources, keep, reads.digests),
      storage: holdPixels ? ('memory' as const) : ('streaming' as const),
    };
  }
}

function badPairsError(bad: { file: string; reason: string }[], keyPath: (string | number)[]): UserError {
  const shown = bad
    .slice(0, 5)
    .map((s) => `\n    ${s.file}: ${s.reason}`)
    .join('');
  return new UserError(
    `${bad.length} image or mask file${bad.length === 1 ? '' : 's'} cannot be used:${shown}${bad.length > 5 ? `\n    … and ${bad.length - 5} more` : ''}`,
    keyPath,
    'fix or remove them, or set `onBadFile: skip` to train without them (they are counted in summary.json)',
  );
}

/** The most classes a mask can name: one byte per pixel. */
const MAX_CLASSES = 256;

function checkSpec(spec: SegmentationFolderSpec): void {
  if (spec.classes.length < 2 || spec.classes.length > MAX_CLASSES)
    throw new UserError(
      `${spec.classes.length} classes; segmentation needs 2 to ${MAX_CLASSES} (a mask stores one byte per pixel)`,
      ['dataset', 'classes'],
      'list the background first, then each class in the order of its mask value',
    );
  if (
    spec.ignoreIndex !== undefined &&
    !(Number.isInteger(spec.ignoreIndex) && spec.ignoreIndex >= 0 && spec.ignoreIndex < 256)
  )
    throw new UserError(`ignoreIndex ${spec.ignoreIndex} is not a mask value (0–255)`, ['dataset', 'ignoreIndex']);
  if ((spec.testImages === undefined) !== (spec.testMasks === undefined))
    throw new UserError(
      'testImages and testMasks go together',
      ['dataset', spec.testImages === undefined ? 'testMasks' : 'testImages'],
      'give both folders, or neither to hold out testFraction of the images',
    );
}

/**
 * Reads a segmentation folder and selects its splits: seeded, within the
 * limits, every selected pair read and checked now. The selection is made
 * as for an image folder with every image in one group; `validation: test`
 * is resolved by the caller, as readDataset does for every format.
 */
export async function readSegmentationFolderDataset(
  spec: SegmentationFolderSpec,
  options: { cacheBytes: number; seed: number; signal?: AbortSignal },
): Promise<LoadedSegmentationDataset> {
  checkSpec(spec);
  const listing = await listMaskedImages(spec.images, spec.masks, {
    images: ['dataset', 'images'],
    masks: ['dataset', 'masks'],
  });
  const testListing =
    spec.testImages && spec.testMasks
      ? await listMaskedImages(spec.testImages, spec.testMasks, {
          images: ['dataset', 'testImages'],
          masks: ['dataset', 'testMasks'],
        })
      : undefined;
  const numClasses = spec.classes.length;
  const decode: MaskDecodeOptions = {
    size: spec.image.size,
    fit: spec.image.fit,
    numClasses,
    ...(spec.ignoreIndex !== undefined ? { ignoreIndex: spec.ignoreIndex } : {}),
    onBadFile: spec.onBadFile,
    cacheBytes: options.cacheBytes,
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const read = await readPairSplits(
    {
      train: { pairs: listing.pairs, imageRoot: spec.images, maskRoot: spec.masks },
      ...(testListing
        ? { test: { pairs: testListing.pairs, imageRoot: spec.testImages!, maskRoot: spec.testMasks! } }
        : {}),
    },
    spec.limit,
    { validation: spec.validation, testFraction: testListing ? 0 : spec.testFraction, seed: options.seed },
    decode,
    ['dataset', 'images'],
  );
  const countsOf = (split: SegmentationSplit, indexes: number[]) => {
    const counts = indexes.length > 0 ? split.pixelCounts(indexes) : new Array<number>(numClasses + 1).fill(0);
    return { perClass: counts.slice(0, numClasses), ignored: counts[numClasses]! };
  };
  return {
    input: { kind: 'image' },
    train: read.train,
    ...(read.test ? { test: read.test } : {}),
    numClasses,
    classNames: [...spec.classes],
    ...(spec.ignoreIndex !== undefined ? { ignoreIndex: spec.ignoreIndex } : {}),
    digest: read.digest,
    skipped: read.skipped,
    ignored: [...listing.ignored, ...(testListing?.ignored ?? [])],
    storage: read.storage,
    selection: read.selection,
    pixelCounts: {
      train: countsOf(read.train, read.selection.train),
      validation: countsOf(read.train, read.selection.validation),
      test: countsOf(read.test ?? read.train, read.selection.test),
    },
  };
}
