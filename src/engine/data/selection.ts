import type { SplitData } from './dataset-types.js';
import { SeededRandom } from '../random.js';

/** Which examples each split uses, as indexes into the source splits. */
export interface Selection {
  train: number[];
  validation: number[];
  /** Indexes into the dataset's test split, or into train when the test split is carved out of it. */
  test: number[];
}

function groupByClass(labels: Int32Array, numClasses: number): number[][] {
  const groups: number[][] = Array.from({ length: numClasses }, () => []);
  labels.forEach((label, index) => groups[label]!.push(index));
  return groups;
}

/** round(n × fraction), but at least one when the fraction is positive, and never all n. */
function heldOut(n: number, fraction: number): number {
  if (fraction <= 0 || n < 2) return 0;
  return Math.min(n - 1, Math.max(1, Math.round(n * fraction)));
}

/**
 * Stratified, seeded subsampling and splits. Each class's indexes are
 * shuffled by a stream forked from the seed, so the result depends only on
 * the seed and the labels in listing order — and listings are sorted, so
 * never on the file system's order.
 */
export function selectExamples(
  dataset: { train: Pick<SplitData, 'labels'>; test?: Pick<SplitData, 'labels'>; numClasses: number },
  options: {
    perClass?: number;
    testPerClass?: number;
    validation: number | 'test';
    testFraction?: number;
    seed: number;
  },
): Selection {
  const random = new SeededRandom(options.seed);
  const trainRandom = random.fork('train-split');
  const train: number[] = [];
  const validation: number[] = [];
  const test: number[] = [];
  const carveTest = !dataset.test && (options.testFraction ?? 0) > 0;
  for (const group of groupByClass(dataset.train.labels, dataset.numClasses)) {
    let pool = trainRandom.shuffle(group);
    if (carveTest) {
      const held = heldOut(pool.length, options.testFraction!);
      test.push(...pool.slice(0, Math.min(held, options.testPerClass ?? held)));
      pool = pool.slice(held);
    }
    const chosen = pool.slice(0, options.perClass ?? pool.length);
    // Validation on the test split holds nothing out: readDataset points validation at the test examples.
    const held = options.validation === 'test' ? 0 : heldOut(chosen.length, options.validation);
    validation.push(...chosen.slice(0, held));
    train.push(...chosen.slice(held));
  }
  if (dataset.test) {
    const testRandom = random.fork('test-subsample');
    for (const group of groupByClass(dataset.test.labels, dataset.numClasses)) {
      test.push(...testRandom.shuffle(group).slice(0, options.testPerClass ?? group.length));
    }
  }
  // Sorted so batches read memory in order; training shuffles per epoch anyway.
  const ascending = (a: number, b: number): number => a - b;
  return { train: train.sort(ascending), validation: validation.sort(ascending), test: test.sort(ascending) };
}
