import type { DatasetSpec } from '../../format/types.js';
import { readCsvDataset } from './csv-dataset.js';
import type { LoadedDataset, SplitData } from './dataset-types.js';
import { mnistFiles, readIdxDataset } from './idx-dataset.js';
import { decodedCacheBytes, readImageFolderDataset } from './image-folder.js';
import { selectExamples, type Selection } from './selection.js';
import { readSegmentationFolderDataset } from './segmentation-folder.js';

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
  const selected = (dataset: LoadedDataset): LoadedDataset & { selection: Selection } => ({
    ...dataset,
    selection: select(
      { train: dataset.train.labels, ...(dataset.test ? { test: dataset.test.labels } : {}) },
      dataset.numClasses,
    ),
  });
  const read = {
    cacheBytes: options.cacheBytes ?? decodedCacheBytes(),
    select,
    ...(options.signal ? { signal: options.signal } : {}),
  };
  switch (spec.format) {
    case 'mnist':
      return selected(await readIdxDataset(mnistFiles()));
    case 'idx':
      return selected(await readIdxDataset({ train: spec.train, ...(spec.test ? { test: spec.test } : {}) }));
    case 'imageFolder':
      return readImageFolderDataset(spec, read);
    case 'csv':
      return readCsvDataset(spec, read);
    case 'segmentationFolder':
      return readSegmentationFolderDataset(spec, { ...read, seed: options.seed ?? 42 });
  }
}
