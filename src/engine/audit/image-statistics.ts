/**
 * Per-class image statistics — mean brightness and contrast — and the
 * classes that stand out: a class shot brighter or flatter than the others
 * is a shortcut a model can learn instead of the objects. Pure.
 */

/** A class is flagged when its mean is this many within-class standard deviations from the median of the other classes. */
export const OUTLIER_SPREADS = 3;

/** One image's statistics over all its pixels and channels, 0–255. */
export interface ImageStatistic {
  brightness: number;
  contrast: number;
}

export interface ClassStatistics {
  brightness: number;
  contrast: number;
  count: number;
}

export interface StatisticOutlier {
  class: number;
  statistic: 'brightness' | 'contrast';
  direction: 'higher' | 'lower';
  value: number;
  /** The median of the other classes' means. */
  others: number;
  /** (value − others) / the pooled within-class standard deviation. */
  spreads: number;
}

/** Mean and standard deviation of `pixels` (bytes), one image. */
export function imageStatistic(pixels: ArrayLike<number>): ImageStatistic {
  let sum = 0;
  let squares = 0;
  for (let i = 0; i < pixels.length; i++) {
    sum += pixels[i]!;
    squares += pixels[i]! * pixels[i]!;
  }
  const n = Math.max(1, pixels.length);
  const mean = sum / n;
  return { brightness: mean, contrast: Math.sqrt(Math.max(0, squares / n - mean * mean)) };
}

/** Each class's mean brightness and contrast. */
export function classStatistics(
  stats: readonly ImageStatistic[],
  labels: ArrayLike<number>,
  classes: number,
): ClassStatistics[] {
  const out = Array.from({ length: classes }, () => ({ brightness: 0, contrast: 0, count: 0 }));
  stats.forEach((s, i) => {
    const c = out[labels[i]!]!;
    c.brightness += s.brightness;
    c.contrast += s.contrast;
    c.count++;
  });
  return out.map((c) =>
    c.count > 0
      ? { ...c, brightness: c.brightness / c.count, contrast: c.contrast / c.count }
      : { ...c, brightness: Number.NaN, contrast: Number.NaN },
  );
}

/**
 * Classes whose mean brightness or contrast lies more than OUTLIER_SPREADS
 * pooled within-class standard deviations from the median of the other
 * classes' means. Measured against the spread within classes, not between
 * them: with two or three classes there is no spread between them to
 * speak of, and a difference that large separates the classes by itself.
 */
export function statisticOutliers(
  stats: readonly ImageStatistic[],
  labels: ArrayLike<number>,
  classes: number,
): StatisticOutlier[] {
  const perClass = classStatistics(stats, labels, classes);
  const outliers: StatisticOutlier[] = [];
  for (const statistic of ['brightness', 'contrast'] as const) {
    const spread = pooledSpread(stats, labels, perClass, statistic);
    if (!(spread > 0)) continue;
    perClass.forEach((c, k) => {
      if (c.count === 0) return;
      const others = median(perClass.filter((o, j) => j !== k && o.count > 0).map((o) => o[statistic]));
      if (others === undefined) return;
      const spreads = (c[statistic] - others) / spread;
      if (Math.abs(spreads) >= OUTLIER_SPREADS)
        outliers.push({
          class: k,
          statistic,
          direction: spreads > 0 ? 'higher' : 'lower',
          value: c[statistic],
          others,
          spreads,
        });
    });
  }
  return outliers.sort((a, b) => Math.abs(b.spreads) - Math.abs(a.spreads));
}

/** The within-class standard deviation of a statistic, pooled over classes. */
function pooledSpread(
  stats: readonly ImageStatistic[],
  labels: ArrayLike<number>,
  perClass: readonly ClassStatistics[],
  statistic: 'brightness' | 'contrast',
): number {
  let squares = 0;
  stats.forEach((s, i) => {
    const d = s[statistic] - perClass[labels[i]!]![statistic];
    squares += d * d;
  });
  const groups = perClass.filter((c) => c.count > 0).length;
  return Math.sqrt(squares / Math.max(1, stats.length - groups));
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
