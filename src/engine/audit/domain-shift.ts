import { auroc } from '../evaluate/anomaly-metrics.js';
import { FIT_DEFAULTS, outOfFold, type FitOptions, type Rows } from './logistic-regression.js';

/** Fewer examples than this in either split: too few to tell a shift from chance. */
export const SHIFT_MIN_EXAMPLES = 10;
/** An AUROC at least this far from 0.5 is reported as a shift. */
export const SHIFT_WARNING = 0.15;

export interface DomainShift {
  /** AUROC of a classifier telling test examples from training ones, out of fold: 0.5 is no shift, 1 is two domains. */
  auroc: number;
  warn: boolean;
  train: number;
  test: number;
}

/**
 * Whether the test split looks like the training split: a logistic
 * regression told which split each example's features come from,
 * cross-validated, and its AUROC over held-out examples. Undefined when
 * either side has fewer than SHIFT_MIN_EXAMPLES.
 */
export function domainShift(
  train: Rows,
  test: Rows,
  folds: number,
  options: FitOptions = FIT_DEFAULTS,
): DomainShift | undefined {
  if (train.count < SHIFT_MIN_EXAMPLES || test.count < SHIFT_MIN_EXAMPLES) return undefined;
  if (train.width !== test.width)
    throw new RangeError(`train rows of ${train.width} values, test rows of ${test.width}`);
  const data = new Float32Array((train.count + test.count) * train.width);
  data.set(train.data.subarray(0, train.count * train.width));
  data.set(test.data.subarray(0, test.count * test.width), train.count * train.width);
  const labels = Array.from({ length: train.count + test.count }, (_, i) => (i < train.count ? 0 : 1));
  const k = Math.min(folds, train.count, test.count);
  // Two classes, and only a ranking is needed: fewer steps than the label audit's.
  const probabilities = outOfFold({ data, count: labels.length, width: train.width }, labels, 2, k, {
    ...options,
    steps: Math.min(options.steps, 80),
  });
  const value = auroc({ scores: probabilities.map((p) => p[1]!), anomalous: labels.map((l) => l === 1) })!;
  return { auroc: value, warn: Math.abs(value - 0.5) >= SHIFT_WARNING, train: train.count, test: test.count };
}
