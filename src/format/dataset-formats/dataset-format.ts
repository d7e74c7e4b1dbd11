import type { TSchema } from '@sinclair/typebox';
import type { DatasetCommon, DatasetSpec } from '../types.js';

/** A dataset format's name, as `dataset.format` says it. */
export type FormatName = DatasetSpec['format'];

/** The dataset keys every format may read as written, after the schema's defaults are filled in. */
export interface WrittenDatasetKeys {
  dir?: string;
  testDir?: string;
  file?: string;
  labelColumn: string;
  imageColumn: string;
  featureColumns?: string[];
  train?: { images: string; labels: string };
  test?: number | { images: string; labels: string };
  onBadFile: 'error' | 'skip';
  images?: string;
  masks?: string;
  testImages?: string;
  testMasks?: string;
  classes?: string[];
  ignoreIndex?: number;
}

/**
 * One dataset format, declared in one module: the schema of the keys only
 * it reads, which dataset keys it reads at all, and how the keys as written
 * become its resolved spec. The engine's reader for it is registered beside
 * the others in engine/data/datasets.ts.
 */
export interface DatasetFormat<F extends FormatName> {
  /** Its sentence in the `format` key's description: "<name>: …." */
  summary: string;
  /** Schemas of the dataset keys only this format reads, in the order the schema lists them. */
  properties: Readonly<Record<string, TSchema>>;
  /** Every dataset key it reads (its own and shared ones such as `test`): a key of another format is flagged. */
  keys: readonly string[];
  /** What it reads, said when a key it does not read is given. */
  keysHint: string;
  /** The keys as written to its resolved spec; paths are made absolute against the pipeline file's folder. */
  resolve(written: WrittenDatasetKeys, common: DatasetCommon, dir: string): Extract<DatasetSpec, { format: F }>;
}
