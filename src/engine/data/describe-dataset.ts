import { isArrayFormat } from '../../format/resolve-pipeline.js';
import type { DatasetSpec } from '../../format/types.js';
import { readDataset, splitSource, type Selection } from './datasets.js';
import type { SkippedFile, VectorBatch } from './dataset-types.js';
import { imageDimensions } from './image-folder.js';

/** A class is "rare" when the largest class has more than this many times its examples. */
export const IMBALANCE_RATIO = 3;

export interface SizeStats {
  min: number;
  median: number;
  max: number;
}

/** What `tlpipe data` reports: the data as the pipeline will see it, before any training. */
export interface DatasetReport {
  format: DatasetSpec['format'];
  classNames: string[];
  /** counts[split][class] after subsampling and splitting. */
  counts: Record<keyof Selection, number[]>;
  /** Tabular rows: each feature column's range and mean over the training split (absent for images). */
  rows?: { columns: ColumnSummary[] };
  /** Source image sizes in pixels (before resizing to image.size); no examples for tabular rows. */
  sourceSize: { width: SizeStats; height: SizeStats; examples: number };
  inputSize: [number, number];
  storage: 'memory' | 'streaming';
  skipped: SkippedFile[];
  ignored: SkippedFile[];
  /** Largest over smallest training class; a warning names the rare classes. */
  imbalance: { ratio: number; rareClasses: string[] };
  digest: string;
}

/** One feature column of the training rows. */
export interface ColumnSummary {
  name: string;
  min: number;
  mean: number;
  max: number;
}

function stats(values: number[]): SizeStats {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    min: sorted[0] ?? 0,
    median: sorted[Math.floor(sorted.length / 2)] ?? 0,
    max: sorted[sorted.length - 1] ?? 0,
  };
}

export async function describeDataset(spec: DatasetSpec, seed: number): Promise<DatasetReport> {
  const dataset = await readDataset(spec, { seed });
  const { selection } = dataset;
  const classNames =
    spec.classNames ?? dataset.classNames ?? Array.from({ length: dataset.numClasses }, (_, i) => String(i));
  const counts = Object.fromEntries(
    (['train', 'validation', 'test'] as const).map((split) => {
      const perClass = new Array<number>(dataset.numClasses).fill(0);
      const labels = splitSource(dataset, split).labels;
      for (const index of selection[split]) perClass[labels[index]!]! += 1;
      return [split, perClass];
    }),
  ) as DatasetReport['counts'];

  const { input } = dataset;
  const widths: number[] = [];
  const heights: number[] = [];
  // Rows have no source size: their columns are summarised instead.
  for (const split of input.kind === 'image' ? (['train', 'validation', 'test'] as const) : []) {
    const source = splitSource(dataset, split);
    if (!isArrayFormat(spec.format)) {
      for (const index of selection[split]) {
        const size = await imageDimensions(source.name(index));
        if (size) {
          widths.push(size.width);
          heights.push(size.height);
        }
      }
    } else if (selection[split].length > 0) {
      const { width, height } = await source.pixels([selection[split][0]!]);
      for (let i = 0; i < selection[split].length; i++) {
        widths.push(width);
        heights.push(height);
      }
    }
  }

  const train = counts.train;
  const largest = Math.max(...train);
  const smallest = Math.min(...train);
  return {
    format: spec.format,
    classNames,
    counts,
    ...(input.kind === 'rows'
      ? { rows: { columns: summariseColumns(input.columns, await dataset.train.vectors!(selection.train)) } }
      : {}),
    sourceSize: { width: stats(widths), height: stats(heights), examples: widths.length },
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

function summariseColumns(columns: string[], rows: VectorBatch): ColumnSummary[] {
  return columns.map((name, c) => {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    let sum = 0;
    for (let r = 0; r < rows.count; r++) {
      const value = rows.data[r * rows.width + c]!;
      min = Math.min(min, value);
      max = Math.max(max, value);
      sum += value;
    }
    return rows.count === 0 ? { name, min: 0, mean: 0, max: 0 } : { name, min, mean: sum / rows.count, max };
  });
}
