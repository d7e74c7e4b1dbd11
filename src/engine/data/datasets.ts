import { assertNever } from '../../format/dataset-formats/input.js';
import type { FormatName } from '../../format/dataset-formats/index.js';
import type { DatasetSpec } from '../../format/types.js';
import { readCsvDataset } from './csv-dataset.js';
import type { LoadedDataset, SplitData } from './dataset-types.js';
import { mnistFiles, readIdxDataset } from './idx-dataset.js';
import { decodedCacheBytes, readImageFolderDataset } from './image-folder.js';
import { readSegmentationFolderDataset } from './segmentation-folder.js';
import { selectExamples, type Selection } from './selection.js';
import {
  imageArraySummary,
  imageFileSummary,
  rowSummary,
  type ExampleSummary,
  type SelectedSplits,
} from './example-summary.js';

export type { LoadedDataset, PixelBatch, SkippedFile, SplitData, VectorBatch } from './dataset-types.js';
export { selectExamples, type Selection } from './selection.js';
export { mnistFiles };

export interface ReadOptions {
  /** The pipeline's seed: which examples the limits and splits select. */
  seed?: number;
  /** Decoded pixels kept in memory up to this many bytes; beyond it they are decoded per batch. */
  cacheBytes?: number;
  /** Stops reading between files once aborted (a Ctrl-C during decoding). */
  signal?: AbortSignal;
}

/** The split that `selection[split]` indexes into. */
export function splitSource(dataset: LoadedDataset, split: keyof Selection): SplitData {
  const reads = split === 'validation' && dataset.validationFrom === 'test' ? 'test' : split;
  return reads === 'test' ? (dataset.test ?? dataset.train) : dataset.train;
}

/**
 * Reads a dataset and selects the pipeline's splits of it: stratified, seeded,
 * within the limits. Image files are read and decoded only when selected, so
 * `limit.perClass: 10` on a folder of 20 000 images reads 10 per class.
 */
export async function readDataset(
  spec: DatasetSpec,
  options: ReadOptions = {},
): Promise<LoadedDataset & { selection: Selection }> {
  const read = await readSelected(spec, options);
  // Selected with nothing held out (so no training file is read for it), then pointed at the test examples.
  return spec.validation === 'test'
    ? { ...read, validationFrom: 'test', selection: { ...read.selection, validation: read.selection.test } }
    : read;
}

/** What a reader gets besides its format's spec. */
export interface ReadContext {
  cacheBytes: number;
  /** The pipeline's seed, for a reader that selects its examples itself (segmentationFolder counts images, not classes). */
  seed: number;
  /** Selects the pipeline's splits (limits, validation, test fraction, seed) from the labels read. */
  select: (labels: { train: Int32Array; test?: Int32Array }, numClasses: number) => Selection;
  signal?: AbortSignal;
}

/**
 * The engine's side of one dataset format: how its files are read and
 * split, and what `tlpipe data` says of its examples (image sizes, or each
 * feature column). One entry per format in DATASET_READERS.
 */
export interface DatasetReader<F extends FormatName> {
  read(
    spec: Extract<DatasetSpec, { format: F }>,
    context: ReadContext,
  ): Promise<LoadedDataset & { selection: Selection }>;
  describe(dataset: LoadedDataset, splits: SelectedSplits): Promise<ExampleSummary>;
}

/** Arrays read whole, then split: the selection is made from their labels. */
const selected = async (
  read: Promise<LoadedDataset>,
  context: ReadContext,
): Promise<LoadedDataset & { selection: Selection }> => {
  const dataset = await read;
  return {
    ...dataset,
    selection: context.select(
      { train: dataset.train.labels, ...(dataset.test ? { test: dataset.test.labels } : {}) },
      dataset.numClasses,
    ),
  };
};

/** Images, or rows: what a CSV holds decides how its examples are described. */
function describeByInput(dataset: LoadedDataset, splits: SelectedSplits): Promise<ExampleSummary> {
  const { input } = dataset;
  switch (input.kind) {
    case 'image':
      return imageFileSummary(splits);
    case 'rows':
      return rowSummary(input.columns, splits);
    default:
      return assertNever(input);
  }
}

/**
 * Every format's reader; a format of DatasetSpec without one does not
 * compile. Adding a format is its module and one line here.
 */
export const DATASET_READERS: { readonly [F in FormatName]: DatasetReader<F> } = {
  mnist: {
    read: (_spec, context) => selected(readIdxDataset(mnistFiles()), context),
    describe: (_d, s) => imageArraySummary(s),
  },
  idx: {
    read: (spec, context) =>
      selected(readIdxDataset({ train: spec.train, ...(spec.test ? { test: spec.test } : {}) }), context),
    describe: (_d, s) => imageArraySummary(s),
  },
  imageFolder: { read: readImageFolderDataset, describe: (_d, s) => imageFileSummary(s) },
  csv: { read: readCsvDataset, describe: describeByInput },
  segmentationFolder: {
    read: (spec, context) => readSegmentationFolderDataset(spec, context),
    describe: (_d, s) => imageFileSummary(s),
  },
};

/** The reader of a format, typed by its name. */
export const datasetReader = <F extends FormatName>(format: F): DatasetReader<F> =>
  DATASET_READERS[format] as unknown as DatasetReader<F>;

async function readSelected(
  spec: DatasetSpec,
  options: ReadOptions,
): Promise<LoadedDataset & { selection: Selection }> {
  const select = (labels: { train: Int32Array; test?: Int32Array }, numClasses: number): Selection =>
    selectExamples(
      { train: { labels: labels.train }, ...(labels.test ? { test: { labels: labels.test } } : {}), numClasses },
      {
        ...spec.limit,
        validation: spec.validation,
        testFraction: 'testFraction' in spec ? spec.testFraction : 0,
        seed: options.seed ?? 42,
      },
    );
  return datasetReader(spec.format).read(spec, {
    cacheBytes: options.cacheBytes ?? decodedCacheBytes(),
    seed: options.seed ?? 42,
    select,
    ...(options.signal ? { signal: options.signal } : {}),
  });
}
