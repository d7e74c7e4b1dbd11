/**
 * Class imbalance and classes that are hard to tell apart, from the given
 * labels and the out-of-fold predictions. Pure.
 */

/** Above this ratio of the largest class to the smallest, the audit warns. */
export const IMBALANCE_WARNING_RATIO = 3;
/** A pair of classes is reported when this share of one's examples is predicted as the other (out of fold). */
export const CONFUSED_SHARE = 0.1;
/** Pairs reported at most: the worst first. */
const CONFUSED_SHOWN = 10;

export interface ClassBalance {
  counts: number[];
  /** Largest count over smallest (Infinity when a class has none). */
  ratio: number;
  warn: boolean;
}

export interface ConfusedPair {
  actual: number;
  predicted: number;
  /** Share of the examples labelled `actual` predicted as `predicted`, out of fold. */
  share: number;
  count: number;
}

export function classBalance(labels: ArrayLike<number>, classes: number): ClassBalance {
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]!]!++;
  const largest = Math.max(...counts);
  const smallest = Math.min(...counts);
  const ratio = smallest === 0 ? (largest === 0 ? 1 : Number.POSITIVE_INFINITY) : largest / smallest;
  return { counts, ratio, warn: ratio > IMBALANCE_WARNING_RATIO };
}

/** The out-of-fold confusion matrix: rows are the given labels, columns the argmax predictions. */
export function confusionOf(
  probabilities: readonly ArrayLike<number>[],
  labels: ArrayLike<number>,
  classes: number,
): number[][] {
  const matrix = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  probabilities.forEach((p, i) => {
    let best = 0;
    for (let j = 1; j < classes; j++) if (p[j]! > p[best]!) best = j;
    matrix[labels[i]!]![best]!++;
  });
  return matrix;
}

/** Off-diagonal cells holding at least CONFUSED_SHARE of their row, largest share first. */
export function confusedPairs(confusion: readonly (readonly number[])[], share = CONFUSED_SHARE): ConfusedPair[] {
  const pairs: ConfusedPair[] = [];
  confusion.forEach((row, actual) => {
    const total = row.reduce((a, b) => a + b, 0);
    if (total === 0) return;
    row.forEach((count, predicted) => {
      // Two examples at least: one confused example of a small class is not a pattern.
      if (predicted !== actual && count >= 2 && count / total >= share)
        pairs.push({ actual, predicted, share: count / total, count });
    });
  });
  return pairs.sort((a, b) => b.share - a.share || b.count - a.count).slice(0, CONFUSED_SHOWN);
}
