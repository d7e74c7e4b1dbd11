/**
 * Metrics of an anomaly detector on a labelled test split, pure: anomalous
 * is the positive class, and a higher score means more anomalous. Defined
 * as scikit-learn defines them, so numbers compare with anomalib's and with
 * a user's own notebook.
 */

/** Scores with, for each, whether the example is anomalous (true) or normal (false). */
export interface LabelledScores {
  scores: ArrayLike<number>;
  anomalous: ArrayLike<boolean>;
}

function checkLengths({ scores, anomalous }: LabelledScores): void {
  if (scores.length !== anomalous.length)
    throw new RangeError(`${scores.length} scores for ${anomalous.length} labels`);
}

function counts({ anomalous }: LabelledScores): { positives: number; negatives: number } {
  let positives = 0;
  for (let i = 0; i < anomalous.length; i++) if (anomalous[i]) positives++;
  return { positives, negatives: anomalous.length - positives };
}

/**
 * Area under the ROC curve, as `sklearn.metrics.roc_auc_score`: tied scores
 * form one step of the curve, drawn as a diagonal, which is the
 * Mann–Whitney statistic with ties counted one half — computed that way,
 * from average ranks. Undefined when the split lacks either class
 * (scikit-learn raises).
 */
export function auroc(labelled: LabelledScores): number | undefined {
  checkLengths(labelled);
  const { positives, negatives } = counts(labelled);
  if (positives === 0 || negatives === 0) return undefined;
  const order = Array.from({ length: labelled.scores.length }, (_, i) => i).sort(
    (a, b) => labelled.scores[a]! - labelled.scores[b]!,
  );
  let positiveRankSum = 0;
  for (let start = 0; start < order.length;) {
    let end = start;
    while (end + 1 < order.length && labelled.scores[order[end + 1]!] === labelled.scores[order[start]!]) end++;
    const averageRank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) if (labelled.anomalous[order[k]!]) positiveRankSum += averageRank;
    start = end + 1;
  }
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * Average precision, as `sklearn.metrics.average_precision_score`: the sum
 * over distinct score thresholds, highest first, of the recall gained
 * times the precision there (a step function, no interpolation). Undefined
 * without anomalous examples.
 */
export function averagePrecision(labelled: LabelledScores): number | undefined {
  checkLengths(labelled);
  const { positives } = counts(labelled);
  if (positives === 0) return undefined;
  const order = Array.from({ length: labelled.scores.length }, (_, i) => i).sort(
    (a, b) => labelled.scores[b]! - labelled.scores[a]!,
  );
  let truePositives = 0;
  let previousRecall = 0;
  let sum = 0;
  for (let start = 0; start < order.length;) {
    let end = start;
    while (end + 1 < order.length && labelled.scores[order[end + 1]!] === labelled.scores[order[start]!]) end++;
    for (let k = start; k <= end; k++) if (labelled.anomalous[order[k]!]) truePositives++;
    const recall = truePositives / positives;
    sum += (recall - previousRecall) * (truePositives / (end + 1));
    previousRecall = recall;
    start = end + 1;
  }
  return sum;
}

export interface ThresholdMetrics {
  threshold: number;
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  trueNegatives: number;
  /** 0 when nothing is called anomalous (scikit-learn's zero_division result). */
  precision: number;
  recall: number;
  f1: number;
}

/** Precision, recall and F1 of "anomalous when the score is above `threshold`" (threshold.ts's rule). */
export function metricsAtThreshold(labelled: LabelledScores, threshold: number): ThresholdMetrics {
  checkLengths(labelled);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < labelled.scores.length; i++) {
    const called = labelled.scores[i]! > threshold;
    if (labelled.anomalous[i]) {
      if (called) tp++;
      else fn++;
    } else if (called) fp++;
    else tn++;
  }
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return {
    threshold,
    truePositives: tp,
    falsePositives: fp,
    falseNegatives: fn,
    trueNegatives: tn,
    precision,
    recall,
    f1,
  };
}

export interface ScoreHistograms {
  /** bins + 1 edges, lowest first; the last bin includes its upper edge (as numpy.histogram). */
  edges: number[];
  /** Per class name, the count of its scores in each bin. */
  counts: Record<string, number[]>;
}

/**
 * Histograms of the scores by class over one shared range (the smallest to
 * the largest score), so a report can draw them over each other and the
 * threshold between them.
 */
export function scoreHistograms(scores: ArrayLike<number>, classes: readonly string[], bins = 30): ScoreHistograms {
  if (scores.length !== classes.length) throw new RangeError(`${scores.length} scores for ${classes.length} classes`);
  if (!(Number.isInteger(bins) && bins >= 1)) throw new RangeError(`bins must be a positive whole number, not ${bins}`);
  let low = Infinity;
  let high = -Infinity;
  for (let i = 0; i < scores.length; i++) {
    low = Math.min(low, scores[i]!);
    high = Math.max(high, scores[i]!);
  }
  if (scores.length === 0) [low, high] = [0, 1];
  // numpy widens an empty range by 0.5 on each side.
  if (low === high) [low, high] = [low - 0.5, high + 0.5];
  const width = (high - low) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? high : low + i * width));
  // A Map, not an object, while counting: a class may be named `__proto__`.
  const counts = new Map<string, number[]>();
  for (const name of classes) if (!counts.has(name)) counts.set(name, new Array<number>(bins).fill(0));
  for (let i = 0; i < scores.length; i++) {
    const bin = Math.min(bins - 1, Math.floor((scores[i]! - low) / width));
    counts.get(classes[i]!)![bin]!++;
  }
  return { edges, counts: Object.fromEntries(counts) };
}
