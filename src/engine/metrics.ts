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
  examples: number;
  perClass: Record<string, ClassMetrics>;
  /** confusionMatrix[actual][predicted], in class order. */
  confusionMatrix: number[][];
}

export function confusionMatrix(actual: ArrayLike<number>, predicted: ArrayLike<number>, numClasses: number): number[][] {
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
