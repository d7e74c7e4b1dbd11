/**
 * What a k-fold cross-validation reports of each metric: its value in every
 * fold, and their mean and standard deviation. Pure, so the numbers in
 * summary.json and report.html are computed once, the same way.
 */

/** One metric over the folds. */
export interface MetricOverFolds {
  /** Fold 1's value first; null where a fold has no finite value of it. */
  folds: (number | null)[];
  /** Over the folds that have it. */
  mean: number | null;
  /** The sample standard deviation (n − 1) over the folds that have it; 0 for one fold. */
  std: number | null;
  /** How many folds have it. */
  n: number;
}

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Every metric that any fold has, in the order they first appear (fold 1's
 * first), each with its per-fold values, mean and sample standard deviation.
 */
export function metricsOverFolds(
  folds: readonly Readonly<Record<string, number | undefined>>[],
): Record<string, MetricOverFolds> {
  const names = [...new Set(folds.flatMap((f) => Object.keys(f)))];
  const out: Record<string, MetricOverFolds> = {};
  for (const name of names) {
    const values = folds.map((f) => (isFiniteNumber(f[name]) ? f[name] : null));
    const present = values.filter(isFiniteNumber);
    const n = present.length;
    const mean = n === 0 ? null : present.reduce((a, b) => a + b, 0) / n;
    const std =
      mean === null ? null : n < 2 ? 0 : Math.sqrt(present.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
    out[name] = { folds: values, mean, std, n };
  }
  return out;
}

/** `0.9123 ± 0.0123`, or – when no fold has the metric. */
export function meanPlusMinus(metric: Pick<MetricOverFolds, 'mean' | 'std'>, digits = 4): string {
  if (metric.mean === null) return '–';
  return `${metric.mean.toFixed(digits)} ± ${(metric.std ?? 0).toFixed(digits)}`;
}
