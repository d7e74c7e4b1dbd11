import type { DatasetSpec } from '../../format/types.js';
import { datasetReader, readDataset, splitSource, type Selection } from './datasets.js';
import type { SkippedFile } from './dataset-types.js';
import type { ColumnSummary, SizeStats } from './example-summary.js';

export type { ColumnSummary, SizeStats } from './example-summary.js';

/** A class is "rare" when the largest class has more than this many times its examples. */
export const IMBALANCE_RATIO = 3;

/** What `tlpipe data` reports: the data as the pipeline will see it, before any training. */
export interface DatasetReport {
  format: DatasetSpec['format'];
  classNames: string[];
  /** counts[split][class] after subsampling and splitting: examples, or for masks (segmentationFolder) pixels. */
  counts: Record<keyof Selection, number[]>;
  /** Tabular rows: each feature column's range and mean over the training split (absent for images). */
  rows?: { columns: ColumnSummary[] };
  /** Source image sizes in pixels (before resizing to image.size); no examples for tabular rows. */
  /** What `counts` counts: images have one class each; a mask's pixels have one each. */
  counted: 'examples' | 'pixels';
  sourceSize: { width: SizeStats; height: SizeStats; examples: number };
  inputSize: [number, number];
  storage: 'memory' | 'streaming';
  skipped: SkippedFile[];
  ignored: SkippedFile[];
  /** Largest over smallest training class; a warning names the rare classes. */
  imbalance: { ratio: number; rareClasses: string[] };
  digest: string;
}

/** The dataset as the pipeline's spec and seed select it: class counts per split, and what its reader says of the examples. */
export async function describeDataset(spec: DatasetSpec, seed: number): Promise<DatasetReport> {
  const dataset = await readDataset(spec, { seed });
  const { selection } = dataset;
  const classNames =
    spec.classNames ?? dataset.classNames ?? Array.from({ length: dataset.numClasses }, (_, i) => String(i));
  const counts = Object.fromEntries(
    (['train', 'validation', 'test'] as const).map((split) => {
      if ('pixelCounts' in dataset)
        return [split, [...(dataset.pixelCounts as Record<typeof split, { perClass: number[] }>)[split].perClass]];
      const perClass = new Array<number>(dataset.numClasses).fill(0);
      const labels = splitSource(dataset, split).labels;
      for (const index of selection[split]) perClass[labels[index]!]! += 1;
      return [split, perClass];
    }),
  ) as DatasetReport['counts'];

  const splits = (['train', 'validation', 'test'] as const).map((split) => ({
    data: splitSource(dataset, split),
    indexes: selection[split],
  }));
  const examples = await datasetReader(spec.format).describe(dataset, splits);

  const train = counts.train;
  const largest = Math.max(...train);
  const smallest = Math.min(...train);
  return {
    format: spec.format,
    classNames,
    counts,
    ...(examples.rows ? { rows: examples.rows } : {}),
    counted: 'pixelCounts' in dataset ? 'pixels' : 'examples',
    sourceSize: examples.sourceSize,
    inputSize: spec.image.size,
    storage: dataset.storage,
    skipped: dataset.skipped,
    ignored: dataset.ignored,
    imbalance: {
      ratio: smallest === 0 ? Number.POSITIVE_INFINITY : largest / smallest,
      rareClasses: classNames.filter((_, c) => train[c]! * IMBALANCE_RATIO < largest),
    },
    digest: dataset.digest,
  };
}
