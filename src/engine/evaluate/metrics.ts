import type { TtaTransform } from '../../format/evaluation-keys.js';
import { auroc, averagePrecision } from './anomaly-metrics.js';
import { classCurves, type ClassCurves } from './curves.js';
import type { DecisionMetrics } from './decision-metrics.js';

/** Per-class precision, recall and F1, as in scikit-learn's classification report. */
export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/**
 * A class against the rest, ranked by its probability: the area under its
 * ROC curve and its average precision, as scikit-learn's `roc_auc_score`
 * and `average_precision_score` give them one-vs-rest. Null where the test
 * split has no example of the class (or only examples of it): undefined there.
 */
export interface ClassRanking {
  auroc: number | null;
  averagePrecision: number | null;
}

/**
 * How well the top class's probability says how often it is right: the
 * examples in `bins` equal-width bins of that probability, each with its
 * mean probability and its accuracy, and the expected calibration error
 * (their gap, weighted by how many examples each bin holds).
 */
export interface Calibration {
  ece: number;
  bins: { lower: number; upper: number; count: number; confidence: number | null; accuracy: number | null }[];
}

export interface TestMetrics {
  loss: number;
  accuracy: number;
  /** Fraction of examples whose class is among the k most probable, for k = 1…min(5, classes). */
  topK: Record<string, number>;
  examples: number;
  perClass: Record<string, ClassMetrics & ClassRanking>;
  calibration: Calibration;
  /** Each class's one-vs-rest ROC and precision-recall curves (null where undefined); absent beyond CURVE_CLASS_LIMIT classes. */
  curves?: Record<string, ClassCurves | null>;
  /** confusionMatrix[actual][predicted], in class order. */
  confusionMatrix: number[][];
  /** `evaluate.tta` (or `tlpipe evaluate --tta`): the same split with test-time augmentation. */
  tta?: TtaMetrics;
  /** `evaluate: calibrate / threshold / abstain`: the rule fitted on validation, and what it changes on this split. */
  decision?: DecisionMetrics;
  /** The misclassified examples given the lowest probability for their true class, worst first. */
  worst: {
    example: string;
    actual: string;
    predicted: string;
    probabilityOfActual: number;
    probabilityOfPredicted: number;
  }[];
}

/**
 * The test split's metrics with test-time augmentation: each example's
 * probabilities averaged over `views` (deterministic transforms of it, see
 * test-time-augmentation.ts), its loss the cross-entropy of that average.
 */
export interface TtaMetrics extends Omit<TestMetrics, 'worst' | 'curves' | 'tta'> {
  transforms: TtaTransform[];
  /** The transforms averaged over, by name (`identity`, `mirror`, `crop-top-left`, …). */
  views: string[];
}

/** The index of the largest value (the first, on ties): the predicted class of a row of probabilities. */
export const argMax = (values: readonly number[]): number =>
  values.reduce((best, v, i) => (v > values[best]! ? i : best), 0);

/** Every test metric from the true classes and the predicted probabilities. */
export function testMetrics(
  actual: number[],
  probabilities: number[][],
  loss: number,
  classNames: string[],
  exampleNames: string[],
  worstCount: number,
): TestMetrics {
  const predicted = probabilities.map(argMax);
  const matrix = confusionMatrix(actual, predicted, classNames.length);
  const topK: Record<string, number> = {};
  for (let k = 1; k <= Math.min(5, classNames.length); k++) {
    const hits = probabilities.filter((p, i) => p.filter((v) => v > p[actual[i]!]!).length < k).length;
    topK[`top${k}`] = actual.length === 0 ? 0 : hits / actual.length;
  }
  const worst = hardestFirst(actual, probabilities)
    .filter((i) => predicted[i] !== actual[i])
    .slice(0, worstCount)
    .map((i) => ({ i, a: actual[i]!, p: probabilities[i]! }))
    .map(({ i, a, p }) => ({
      example: exampleNames[i] ?? String(i),
      actual: classNames[a] ?? String(a),
      predicted: classNames[predicted[i]!] ?? String(predicted[i]),
      probabilityOfActual: p[a]!,
      probabilityOfPredicted: p[predicted[i]!]!,
    }));
  return {
    loss,
    accuracy: accuracyOf(matrix),
    topK,
    examples: actual.length,
    perClass: withRankings(perClassMetrics(matrix, classNames), actual, probabilities),
    calibration: calibrationOf(actual, probabilities),
    ...withCurves(classCurves(actual, probabilities, classNames)),
    confusionMatrix: matrix,
    worst,
  };
}

const withCurves = (curves: TestMetrics['curves']): Pick<TestMetrics, 'curves'> => (curves ? { curves } : {});

/** Positions of the examples from the lowest probability of their true class to the highest (ties by position). */
export function hardestFirst(actual: readonly number[], probabilities: readonly number[][]): number[] {
  return actual
    .map((_, i) => i)
    .sort((x, y) => probabilities[x]![actual[x]!]! - probabilities[y]![actual[y]!]! || x - y);
}

/**
 * Which test examples a report shows as images: the `worst` misclassified
 * (lowest probability of their class first), and for each class its
 * `perClass` hardest examples, right or wrong, so every class is seen where
 * the model finds it hardest.
 */
export function galleryPositions(
  actual: readonly number[],
  probabilities: readonly number[][],
  numClasses: number,
  worst: number,
  perClass: number,
): { worst: number[]; perClass: number[][] } {
  const order = hardestFirst(actual, probabilities);
  const predicted = probabilities.map(argMax);
  return {
    worst: order.filter((i) => predicted[i] !== actual[i]).slice(0, worst),
    perClass: Array.from({ length: numClasses }, (_, c) => order.filter((i) => actual[i] === c).slice(0, perClass)),
  };
}

export function confusionMatrix(
  actual: ArrayLike<number>,
  predicted: ArrayLike<number>,
  numClasses: number,
): number[][] {
  const matrix = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < actual.length; i++) matrix[actual[i]!]![predicted[i]!]! += 1;
  return matrix;
}

/** Precision and recall of a class with no predictions / no examples are 0, as scikit-learn's zero_division=0. */
export function perClassMetrics(matrix: number[][], classNames: string[]): Record<string, ClassMetrics> {
  const out: Record<string, ClassMetrics> = {};
  matrix.forEach((row, c) => {
    const truePositives = row[c]!;
    const support = row.reduce((a, b) => a + b, 0);
    const predicted = matrix.reduce((sum, r) => sum + r[c]!, 0);
    const precision = predicted === 0 ? 0 : truePositives / predicted;
    const recall = support === 0 ? 0 : truePositives / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    out[classNames[c] ?? String(c)] = { precision, recall, f1, support };
  });
  return out;
}

/** Each class's metrics with its one-vs-rest AUROC and average precision. */
function withRankings(
  perClass: Record<string, ClassMetrics>,
  actual: readonly number[],
  probabilities: readonly number[][],
): Record<string, ClassMetrics & ClassRanking> {
  return Object.fromEntries(
    Object.entries(perClass).map(([name, metrics], c) => {
      // The class is the positive side ("anomalous" in these functions' words); its probability the score.
      const labelled = { scores: probabilities.map((p) => p[c]!), anomalous: actual.map((a) => a === c) };
      // A model that diverged (NaN) ranks nothing: undefined, as for a class without examples.
      const ranks = labelled.scores.every(Number.isFinite);
      return [
        name,
        {
          ...metrics,
          auroc: ranks ? (auroc(labelled) ?? null) : null,
          averagePrecision: ranks ? (averagePrecision(labelled) ?? null) : null,
        },
      ];
    }),
  );
}

const CALIBRATION_BINS = 10;

/** The top class's probability against how often it is right, in equal-width bins (see Calibration). */
export function calibrationOf(
  actual: readonly number[],
  probabilities: readonly number[][],
  bins = CALIBRATION_BINS,
): Calibration {
  const sums = Array.from({ length: bins }, () => ({ count: 0, confidence: 0, correct: 0 }));
  let total = 0;
  probabilities.forEach((p, i) => {
    const predicted = argMax(p);
    const confidence = p[predicted]!;
    // A model that diverged gives NaN: not a probability, in no bin (and not counted), never an index.
    if (!(confidence >= 0 && confidence <= 1)) return;
    total++;
    // [0, 1/bins), …, [1 − 1/bins, 1]: a probability of exactly 1 is in the last bin.
    const bin = sums[Math.min(bins - 1, Math.floor(confidence * bins))]!;
    bin.count++;
    bin.confidence += confidence;
    if (predicted === actual[i]) bin.correct++;
  });
  const ece =
    total === 0
      ? 0
      : sums.reduce(
          (sum, b) =>
            sum + (b.count === 0 ? 0 : (b.count / total) * Math.abs(b.correct / b.count - b.confidence / b.count)),
          0,
        );
  return {
    ece,
    bins: sums.map((b, k) => ({
      lower: k / bins,
      upper: (k + 1) / bins,
      count: b.count,
      confidence: b.count === 0 ? null : b.confidence / b.count,
      accuracy: b.count === 0 ? null : b.correct / b.count,
    })),
  };
}

export function accuracyOf(matrix: number[][]): number {
  let correct = 0;
  let total = 0;
  matrix.forEach((row, c) => {
    correct += row[c]!;
    total += row.reduce((a, b) => a + b, 0);
  });
  return total === 0 ? 0 : correct / total;
}
