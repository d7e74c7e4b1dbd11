import type { DatasetFormat, FormatName } from './dataset-format.js';
import { csv } from './csv.js';
import { idx } from './idx.js';
import { imageFolder } from './image-folder.js';
import { mnist } from './mnist.js';
import { segmentationFolder } from './segmentation-folder.js';

export type { DatasetFormat, FormatName, WrittenDatasetKeys } from './dataset-format.js';

/**
 * Every dataset format, one module each; adding one is its module and one
 * line here (the compiler refuses a format of DatasetSpec that has no entry,
 * and an entry that lacks a part). The order is the `format` key's.
 */
export const DATASET_FORMATS = {
  mnist,
  idx,
  imageFolder,
  csv,
  segmentationFolder,
} as const satisfies { [F in FormatName]: DatasetFormat<F> };

export const FORMAT_NAMES = Object.keys(DATASET_FORMATS) as FormatName[];

/** The entry of a format, typed by its name. */
export const datasetFormat = <F extends FormatName>(name: F): DatasetFormat<F> =>
  DATASET_FORMATS[name] as unknown as DatasetFormat<F>;
