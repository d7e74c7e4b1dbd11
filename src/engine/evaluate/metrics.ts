/** Per-class precision, recall and F1, as in scikit-learn's classification report. */
export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface TestMetrics {
  loss: number;
  accuracy: number;
  /** Fraction of examples whose class is among the k most probable, for k = 1…min(5, classes). */
  topK: Record<string, number>;
  examples: number;
  perClass: Record<string, ClassMetrics>;
  /** confusionMatrix[actual][predicted], in class order. */
  confusionMatrix: number[][];
  /** The misclassified examples given the lowest probability for their true class, worst first. */
  worst: {
    example: string;
    actual: string;
    predicted: string;
    probabilityOfActual: number;
    probabilityOfPredicted: number;
  }[];
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
    perClass: perClassMetrics(matrix, classNames),
    confusionMatrix: matrix,
    worst,
  };
}

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

export function accuracyOf(matrix: number[][]): number {
  let correct = 0;
  let total = 0;
  matrix.forEach((row, c) => {
    correct += row[c]!;
    total += row.reduce((a, b) => a + b, 0);
  });
  return total === 0 ? 0 : correct / total;
}
