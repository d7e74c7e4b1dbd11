import { isArrayFormat } from '../../format/resolve-pipeline.js';
import type { DatasetSpec } from '../../format/types.js';
import { readDataset, splitSource, type Selection } from './datasets.js';
import type { SkippedFile } from './dataset-types.js';
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
  /** counts[split][class] after subsampling and splitting: examples, or for masks (segmentationFolder) pixels. */
  counts: Record<keyof Selection, number[]>;
  /** What `counts` counts: images have one class each; a mask's pixels have one each. */
  counted: 'examples' | 'pixels';
  /** Source image sizes in pixels (before resizing to image.size). */
  sourceSize: { width: SizeStats; height: SizeStats; examples: number };
  inputSize: [number, number];
  storage: 'memory' | 'streaming';
  skipped: SkippedFile[];
  ignored: SkippedFile[];
  /** Largest over smallest training class; a warning names the rare classes. */
  imbalance: { ratio: number; rareClasses: string[] };
  digest: string;
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
      if ('pixelCounts' in dataset) return [split, [...(dataset.pixelCounts as Record<typeof split, { perClass: number[] }>)[split].perClass]];
      const perClass = new Array<number>(dataset.numClasses).fill(0);
      const labels = splitSource(dataset, split).labels;
      for (const index of selection[split]) perClass[labels[index]!]! += 1;
      return [split, perClass];
    }),
  ) as DatasetReport['counts'];

  const widths: number[] = [];
  const heights: number[] = [];
  for (const split of ['train', 'validation', 'test'] as const) {
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
    counted: 'pixelCounts' in dataset ? 'pixels' : 'examples',
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
