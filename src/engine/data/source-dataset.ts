import { createHash } from 'node:crypto';
import tf from '../tfjs.cjs';
import path from 'node:path';
import { UserError } from '../../diagnostics/user-error.js';
import type { SourceSpec } from '../../format/adaptation-keys.js';
import { readRegularFile } from '../read-file.js';
import { CsvFormatError, parseCsvBytes } from './csv.js';
import type { LoadedDataset, PixelBatch, SkippedFile, SplitData, VectorBatch } from './dataset-types.js';
import { readDataset, type Selection } from './datasets.js';
import { pixelsTensor } from './preprocess.js';

/**
 * `dataset.source` as training examples: the source's selected examples
 * whose class maps onto one of the pipeline's, each with its loss weight.
 */
export interface SourceExamples {
  /** The source's kept examples, labelled with the pipeline's class indexes. */
  split: SplitData;
  /** Each kept example's loss weight before decay: `weight` × its weightColumn value. */
  weights: Float32Array;
  /** Per-epoch factor on the weights (epoch e weighs decay^(e−1)). */
  decay: number;
  /** The source's `weight` as written. */
  weight: number;
  /** Kept examples per pipeline class. */
  perClass: number[];
  /** Source class → pipeline class, for every class that maps. */
  mapped: { from: string; to: string }[];
  /** Source classes that map to none of the pipeline's: their examples are left out. */
  dropped: string[];
  /** sha256 over the source's files. */
  digest: string;
  /** sha256 over the kept examples' weights (with a weightColumn, what the column gave). */
  weightsDigest: string;
  skipped: SkippedFile[];
  /** A tabular source's feature columns. */
  columns?: string[];
}

/** The largest finite float32, the type example weights train in. */
const FLOAT32_MAX = 3.4028234663852886e38;

/** How a source's labels become the pipeline's. */
export interface LabelMapping {
  /** Source label → pipeline label, or −1 when the source class is left out. */
  to: Int32Array;
  mapped: { from: string; to: string }[];
  dropped: string[];
}

/**
 * Maps the source's classes onto the pipeline's by name: `labelMap` first,
 * then equal names. A side whose data names no classes (IDX, MNIST) is named
 * by its label numbers, so two unnamed sides match label for label. A
 * `labelMap` entry naming no pipeline class is an error at its key; no class
 * mapping at all is an error at `dataset.source`.
 */
export function mapSourceLabels(
  source: readonly string[],
  pipeline: readonly string[],
  labelMap: Readonly<Record<string, string>> = {},
): LabelMapping {
  for (const [from, to] of Object.entries(labelMap)) {
    if (!pipeline.includes(to))
      throw new UserError(
        `labelMap maps \`${from}\` to \`${to}\`, which is not one of the pipeline's classes (${pipeline.join(', ')})`,
        ['dataset', 'source', 'labelMap', from],
        "map source classes to the pipeline's class names",
      );
    if (!source.includes(from))
      throw new UserError(
        `labelMap names \`${from}\`, which is not one of the source's classes (${source.join(', ')})`,
        ['dataset', 'source', 'labelMap', from],
        "the keys of labelMap are the source's class names",
      );
  }
  const to = Int32Array.from(source, (name) => {
    const target = Object.hasOwn(labelMap, name) ? labelMap[name]! : name;
    return pipeline.indexOf(target);
  });
  const mapped = source.flatMap((name, s) => (to[s]! >= 0 ? [{ from: name, to: pipeline[to[s]!]! }] : []));
  if (mapped.length === 0)
    throw new UserError(
      `none of the source's classes (${source.join(', ')}) is one of the pipeline's (${pipeline.join(', ')})`,
      ['dataset', 'source'],
      "name the source's classes as the pipeline's, or map them with `labelMap: { <source class>: <pipeline class> }`",
    );
  return { to, mapped, dropped: source.filter((_, s) => to[s]! < 0) };
}

/** A dataset's class names: those it was given, those its data defines, else its label numbers. */
export function classNamesOf(
  given: readonly string[] | undefined,
  dataset: Pick<LoadedDataset, 'classNames' | 'numClasses'>,
): string[] {
  return [...(given ?? dataset.classNames ?? Array.from({ length: dataset.numClasses }, (_, i) => String(i)))];
}

/**
 * Reads `dataset.source` with its own format's reader (the pipeline's seed;
 * every selected example trains, within `limit.perClass`), maps its labels
 * onto the pipeline's classes and weighs each example. Examples weighing 0
 * and those of classes that map to nothing are left out. Problems are
 * UserErrors at `dataset.source.…`.
 */
export async function readSource(
  source: SourceSpec,
  pipelineClasses: readonly string[],
  options: { seed: number; signal?: AbortSignal },
): Promise<SourceExamples> {
  const spec = 'testFraction' in source.dataset ? { ...source.dataset, testFraction: 0 } : source.dataset;
  const read = await atSourceKeys(() =>
    readDataset(spec, { seed: options.seed, ...(options.signal ? { signal: options.signal } : {}) }),
  );
  const mapping = mapSourceLabels(classNamesOf(spec.classNames, read), pipelineClasses, source.labelMap);
  const column = source.weightColumn !== undefined ? await columnWeights(source, read) : undefined;
  const chosen = everyTrainingExample(read.selection);
  const kept: number[] = [];
  const weights: number[] = [];
  for (const index of chosen) {
    const weight = source.weight * (column ? column.of(read.train.name(index)) : 1);
    if (mapping.to[read.train.labels[index]!]! < 0 || weight === 0) continue;
    kept.push(index);
    weights.push(weight);
  }
  const labels = Int32Array.from(kept, (index) => mapping.to[read.train.labels[index]!]!);
  const perClass = new Array<number>(pipelineClasses.length).fill(0);
  for (const label of labels) perClass[label]! += 1;
  const weightArray = Float32Array.from(weights);
  return {
    split: subset(read.train, kept, labels),
    weights: weightArray,
    decay: source.decay,
    weight: source.weight,
    perClass,
    mapped: mapping.mapped,
    dropped: mapping.dropped,
    digest: read.digest,
    weightsDigest: createHash('sha256').update(new Uint8Array(weightArray.buffer)).digest('hex'),
    skipped: [...read.skipped, ...(column?.skipped ?? [])],
    ...(read.input.kind === 'rows' ? { columns: read.input.columns } : {}),
  };
}

/** A source's reader errors point at `dataset.source.…`, where the user wrote its keys. */
async function atSourceKeys<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof UserError && error.path[0] === 'dataset' && error.path[1] !== 'source')
      throw new UserError(`source: ${error.message}`, ['dataset', 'source', ...error.path.slice(1)], error.hint);
    throw error;
  }
}

/** The source's selected examples: it has no validation or test of its own, but a reader may have held some out. */
function everyTrainingExample(selection: Selection): number[] {
  return [...selection.train, ...selection.validation].sort((a, b) => a - b);
}

/**
 * A csv source's weightColumn, by example name (an image's path, or a
 * tabular row's `file:line`). A value that is not a finite number ≥ 0, or
 * whose product with `weight` float32 cannot hold (above 3.4e38), makes the
 * row bad: an error, or with `onBadFile: skip` a row left out (weight 0).
 */
async function columnWeights(
  source: SourceSpec,
  read: Pick<LoadedDataset, 'input'>,
): Promise<{ of: (name: string) => number; skipped: SkippedFile[] }> {
  const spec = source.dataset;
  if (spec.format !== 'csv') throw new Error('weightColumn needs a csv source');
  const column = source.weightColumn!;
  const bytes = await readRegularFile(spec.file, 'csv', ['dataset', 'source', 'file']);
  let records;
  try {
    records = parseCsvBytes(bytes);
  } catch (error) {
    if (error instanceof CsvFormatError)
      throw new UserError(`${spec.file}:${error.line}: ${error.message}`, ['dataset', 'source', 'file']);
    throw error;
  }
  const [header, ...rows] = records;
  const at = header?.fields.indexOf(column) ?? -1;
  if (!header || at < 0)
    throw new UserError(
      `${spec.file}: no column named \`${column}\`; the header has ${(header?.fields ?? []).map((f) => `\`${f}\``).join(', ')}`,
      ['dataset', 'source', 'weightColumn'],
    );
  const imageAt = read.input.kind === 'image' ? header.fields.indexOf(spec.imageColumn) : -1;
  const root = path.dirname(spec.file);
  const byName = new Map<string, number>();
  const bad: SkippedFile[] = [];
  // Weights train as float32: a larger product would be Infinity there, and the loss NaN.
  const largest = FLOAT32_MAX / Math.max(source.weight, 1);
  for (const row of rows) {
    const where = `${spec.file}:${row.line}`;
    const text = row.fields[at]?.trim() ?? '';
    const value = text === '' ? Number.NaN : Number(text);
    const name = imageAt >= 0 ? path.resolve(root, row.fields[imageAt]?.trim() ?? '') : where;
    const problem =
      !Number.isFinite(value) || value < 0
        ? `is not a number ≥ 0: ${JSON.stringify(text.slice(0, 30))}`
        : value > largest
          ? `is too large: ${text.slice(0, 30)} × weight ${source.weight} is above ${FLOAT32_MAX.toPrecision(2)}, the largest weight float32 holds`
          : undefined;
    if (problem) {
      bad.push({ file: where, reason: `weight column \`${column}\` ${problem}` });
      byName.set(name, 0);
    } else byName.set(name, Math.min(byName.get(name) ?? value, value));
  }
  if (bad.length > 0 && spec.onBadFile === 'error')
    throw new UserError(
      `${bad.length} source row${bad.length === 1 ? '' : 's'} with a bad weight:${bad
        .slice(0, 5)
        .map((b) => `\n    ${b.file}: ${b.reason}`)
        .join('')}${bad.length > 5 ? `\n    … and ${bad.length - 5} more` : ''}`,
      ['dataset', 'source', 'weightColumn'],
      'fix the rows, or set `onBadFile: skip` to train without them',
    );
  return { of: (name) => byName.get(name) ?? 0, skipped: bad };
}

/** `split`'s examples at `indexes`, as a split of their own with new labels. */
function subset(split: SplitData, indexes: readonly number[], labels: Int32Array): SplitData {
  const at = (i: number): number => indexes[i]!;
  return {
    count: indexes.length,
    labels,
    name: (i) => split.name(at(i)),
    pixels: (positions) => split.pixels(positions.map(at)),
    ...(split.vectors ? { vectors: (positions: readonly number[]) => split.vectors!(positions.map(at)) } : {}),
  };
}

/**
 * The pipeline's training split followed by the source's examples: index
 * i < own.count is the pipeline's own example i, the rest the source's. A
 * selection of it reads each part from its own split, in the order asked.
 * Source pixels come in the shape the pipeline's own do (IDX arrays at
 * their size and gray, image files at the pipeline's size in colour), so
 * every batch of the split has one shape, whatever it holds.
 */
export function joinedSplit(own: SplitData, source: SplitData): SplitData {
  const labels = new Int32Array(own.count + source.count);
  labels.set(own.labels);
  labels.set(source.labels, own.count);
  const parts = (indexes: readonly number[]): { own: number[]; source: number[] } => ({
    own: indexes.filter((i) => i < own.count),
    source: indexes.filter((i) => i >= own.count).map((i) => i - own.count),
  });
  let shape: Promise<Pick<PixelBatch, 'height' | 'width' | 'channels'>> | undefined;
  const ownShape = (): Promise<Pick<PixelBatch, 'height' | 'width' | 'channels'>> =>
    (shape ??= own.pixels([0]).then(({ height, width, channels }) => ({ height, width, channels })));
  const sourcePixels = async (indexes: number[]): Promise<PixelBatch> =>
    inShape(await source.pixels(indexes), await ownShape());
  return {
    count: labels.length,
    labels,
    name: (i) => (i < own.count ? own.name(i) : source.name(i - own.count)),
    pixels: async (indexes) => {
      const { own: mine, source: theirs } = parts(indexes);
      if (theirs.length === 0) return own.pixels(indexes);
      if (mine.length === 0) return sourcePixels(theirs);
      const [a, b] = await Promise.all([own.pixels(mine), sourcePixels(theirs)]);
      return interleaved(indexes, own.count, a, b);
    },
    ...(own.vectors && source.vectors
      ? {
          vectors: async (indexes: readonly number[]) => {
            const { own: mine, source: theirs } = parts(indexes);
            if (theirs.length === 0) return own.vectors!(indexes);
            const [a, b] = await Promise.all([own.vectors!(mine), source.vectors!(theirs)]);
            return interleaved(indexes, own.count, a, b);
          },
        }
      : {}),
  };
}

/** A pixel batch brought to another size (bilinear, as preprocessing resizes arrays) and channel count, when it differs. */
function inShape(batch: PixelBatch, shape: Pick<PixelBatch, 'height' | 'width' | 'channels'>): PixelBatch {
  if (batch.height === shape.height && batch.width === shape.width && batch.channels === shape.channels) return batch;
  const data = tf.tidy(() =>
    tf.clipByValue(tf.round(pixelsTensor(batch, [shape.height, shape.width], shape.channels)), 0, 255).dataSync(),
  );
  return { data: Uint8Array.from(data), count: batch.count, ...shape };
}

/** Rows of `a` (indexes below `boundary`) and `b` (the rest) put back in the order of `indexes`. */
function interleaved<T extends PixelBatch | VectorBatch>(indexes: readonly number[], boundary: number, a: T, b: T): T {
  const row = a.data.length / Math.max(a.count, 1);
  const data = new (a.data.constructor as { new (n: number): T['data'] })(indexes.length * row);
  let ia = 0;
  let ib = 0;
  indexes.forEach((index, i) => {
    const [from, r] = index < boundary ? [a, ia++] : [b, ib++];
    data.set(from.data.subarray(r * row, (r + 1) * row) as never, i * row);
  });
  return { ...a, data, count: indexes.length };
}
