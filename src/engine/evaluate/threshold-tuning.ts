/**
 * A two-class decision threshold on the positive class's probability,
 * tuned on the validation split: the positive class is answered when its
 * probability reaches the threshold.
 */
import type { ThresholdMetric } from '../../format/evaluation-keys.js';

/** Two-class metrics of a decision, the positive class's side (precision, recall, F1) and both (accuracy, balanced accuracy). */
export interface BinaryMetrics {
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  balancedAccuracy: number;
}

/** The metrics of answering positive where `positive[i]` is true, against `truth[i]`; a ratio with nothing to count is 0 (scikit-learn's zero_division=0). */
export function binaryMetrics(truth: readonly boolean[], positive: readonly boolean[]): BinaryMetrics {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  truth.forEach((t, i) => {
    if (positive[i]) {
      if (t) tp++;
      else fp++;
    } else if (t) fn++;
    else tn++;
  });
  const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);
  const precision = ratio(tp, tp + fp);
  const recall = ratio(tp, tp + fn);
  const specificity = ratio(tn, tn + fp);
  return {
    accuracy: ratio(tp + tn, truth.length),
    precision,
    recall,
    f1: ratio(2 * precision * recall, precision + recall),
    balancedAccuracy: (recall + specificity) / 2,
  };
}

export interface ThresholdGoal {
  metric: ThresholdMetric;
  /** precisionAtRecall: the recall the threshold must keep. */
  recall?: number;
}

export interface TunedThreshold {
  value: number;
  /** The validation metrics at that threshold. */
  validation: BinaryMetrics;
}

/**
 * The threshold that maximises the goal on validation scores (the positive
 * class's probability of each example) and whether each is truly positive.
 * Every threshold between two neighbouring distinct scores decides the same,
 * so each such interval is one candidate, represented by 0.5 when it holds
 * 0.5 and else by its midpoint (never a score itself, so an example at the
 * boundary is not decided by rounding). Ties go to the candidate nearest
 * 0.5, the argmax rule's own threshold. A last candidate, 0, answers
 * every example positive. precisionAtRecall keeps only the candidates whose
 * recall reaches the goal's; 0 has recall 1, so one always does. Undefined when the scores cannot tune
 * anything: no example, or no positive or no negative example.
 */
export function tuneThreshold(
  scores: readonly number[],
  truth: readonly boolean[],
  goal: ThresholdGoal,
): TunedThreshold | undefined {
  if (!truth.some((t) => t) || !truth.some((t) => !t)) return undefined;
  const distinct = [...new Set(scores.filter(Number.isFinite))].sort((a, b) => a - b);
  const bounds = [0, ...distinct.filter((s) => s > 0 && s < 1), 1];
  // 0 answers every example positive: the one candidate that reaches recall 1 when a positive example's
  // probability underflowed to exactly 0 (an overconfident float32 softmax), which no interval above 0 counts.
  const candidates = [
    0,
    ...bounds.slice(1).map((upper, i) => {
      const lower = bounds[i]!;
      return lower < 0.5 && 0.5 <= upper ? 0.5 : (lower + upper) / 2;
    }),
  ];
  let best: { value: number; score: number; validation: BinaryMetrics } | undefined;
  for (const value of candidates) {
    const validation = binaryMetrics(
      truth,
      scores.map((s) => s >= value),
    );
    const score = goalScore(validation, goal);
    if (score === undefined) continue;
    const better =
      !best || score > best.score || (score === best.score && Math.abs(value - 0.5) < Math.abs(best.value - 0.5));
    if (better) best = { value, score, validation };
  }
  return best && { value: best.value, validation: best.validation };
}

/** What the goal maximises at one threshold; undefined where precisionAtRecall's recall is not kept. */
function goalScore(metrics: BinaryMetrics, goal: ThresholdGoal): number | undefined {
  switch (goal.metric) {
    case 'f1':
      return metrics.f1;
    case 'balancedAccuracy':
      return metrics.balancedAccuracy;
    case 'precisionAtRecall':
      return metrics.recall >= (goal.recall ?? 0) ? metrics.precision : undefined;
  }
}
