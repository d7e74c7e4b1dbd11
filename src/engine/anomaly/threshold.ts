import { UserError } from '../../diagnostics/user-error.js';

/**
 * The score above which an image is called anomalous, chosen from normal
 * images only (anomaly detection here has no anomalous examples to tune on;
 * anomalib's adaptive F1 threshold needs them). The default quantile 0.99
 * admits about one false alarm in a hundred normal images; with few
 * validation images it is close to their maximum. `max` (quantile 1) calls
 * no validation image anomalous.
 */
export interface AnomalyThreshold {
  value: number;
  /** The quantile of the normal validation scores it was taken at, in [0, 1]. */
  quantile: number;
  /** Normal validation images it was taken from. */
  from: number;
}

export const DEFAULT_THRESHOLD_QUANTILE = 0.99;

/** The q-quantile by linear interpolation between order statistics (numpy's default, `linear`). */
export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values).sort();
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}

/** The threshold at quantile `q` of the normal validation scores. */
export function thresholdFromNormalScores(
  scores: ArrayLike<number>,
  q: number = DEFAULT_THRESHOLD_QUANTILE,
): AnomalyThreshold {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`a quantile is between 0 and 1, not ${q}`);
  if (scores.length === 0)
    throw new UserError(
      'the anomaly threshold is taken from normal validation images, and there are none',
      ['dataset', 'validation'],
      'hold out a validation fraction of the normal images (e.g. `validation: 0.1`)',
    );
  for (let i = 0; i < scores.length; i++)
    if (!Number.isFinite(scores[i]!)) throw new RangeError(`validation score ${i} is ${scores[i]}`);
  return { value: quantile(scores, q), quantile: q, from: scores.length };
}

/** Above the threshold is anomalous; at it is not, so with `max` every validation image is normal. */
export function isAnomalous(score: number, threshold: Pick<AnomalyThreshold, 'value'>): boolean {
  return score > threshold.value;
}
