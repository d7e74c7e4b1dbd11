import type { SplitData, VectorBatch } from './dataset-types.js';
import { imageDimensions } from './image-folder.js';

export interface SizeStats {
  min: number;
  median: number;
  max: number;
}

/** One feature column of the training rows. */
export interface ColumnSummary {
  name: string;
  min: number;
  mean: number;
  max: number;
}

/** What `tlpipe data` says of the selected examples beyond their counts. */
export interface ExampleSummary {
  /** Tabular rows: each feature column's range and mean over the training split (absent for images). */
  rows?: { columns: ColumnSummary[] };
  /** Source image sizes in pixels (before resizing to image.size); no examples for tabular rows. */
  sourceSize: { width: SizeStats; height: SizeStats; examples: number };
}

/** The examples of each split a summary covers: the split's data and the selected indexes into it. */
export type SelectedSplits = readonly { data: SplitData; indexes: readonly number[] }[];

function stats(values: number[]): SizeStats {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    min: sorted[0] ?? 0,
    median: sorted[Math.floor(sorted.length / 2)] ?? 0,
    max: sorted[sorted.length - 1] ?? 0,
  };
}

const sizes = (widths: number[], heights: number[]): ExampleSummary['sourceSize'] => ({
  width: stats(widths),
  height: stats(heights),
  examples: widths.length,
});

/** Image files: each selected file's own size, read from its header. */
export async function imageFileSummary(splits: SelectedSplits): Promise<ExampleSummary> {
  const widths: number[] = [];
  const heights: number[] = [];
  for (const { data, indexes } of splits) {
    for (const index of indexes) {
      const size = await imageDimensions(data.name(index));
      if (size) {
        widths.push(size.width);
        heights.push(size.height);
      }
    }
  }
  return { sourceSize: sizes(widths, heights) };
}

/** Image arrays (IDX): every example has the arrays' size. */
export async function imageArraySummary(splits: SelectedSplits): Promise<ExampleSummary> {
  const widths: number[] = [];
  const heights: number[] = [];
  for (const { data, indexes } of splits) {
    if (indexes.length === 0) continue;
    const { width, height } = await data.pixels([indexes[0]!]);
    for (let i = 0; i < indexes.length; i++) {
      widths.push(width);
      heights.push(height);
    }
  }
  return { sourceSize: sizes(widths, heights) };
}

/** Tabular rows: each feature column over the training rows (the first split given). */
export async function rowSummary(columns: string[], splits: SelectedSplits): Promise<ExampleSummary> {
  const train = splits[0];
  const rows = train ? await train.data.vectors!(train.indexes) : { data: new Float32Array(0), count: 0, width: 0 };
  return { rows: { columns: summariseColumns(columns, rows) }, sourceSize: sizes([], []) };
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
