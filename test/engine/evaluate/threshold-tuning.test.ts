import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { binaryMetrics, tuneThreshold, type ThresholdGoal } from '../../../src/engine/evaluate/threshold-tuning.js';

const T = true;
const F = false;

describe('binaryMetrics as scikit-learn gives them (zero_division=0)', () => {
  const cases: { name: string; truth: boolean[]; positive: boolean[]; expected: ReturnType<typeof binaryMetrics> }[] = [
    {
      name: 'mixed',
      // sklearn: precision 2/3, recall 2/3, f1 2/3, accuracy 4/6, balanced_accuracy (2/3 + 2/3) / 2
      truth: [T, T, T, F, F, F],
      positive: [T, T, F, T, F, F],
      expected: { accuracy: 4 / 6, precision: 2 / 3, recall: 2 / 3, f1: 2 / 3, balancedAccuracy: 2 / 3 },
    },
    {
      name: 'nothing answered positive',
      truth: [T, F, F, F],
      positive: [F, F, F, F],
      expected: { accuracy: 0.75, precision: 0, recall: 0, f1: 0, balancedAccuracy: 0.5 },
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const actual = binaryMetrics(c.truth, c.positive);
      for (const [key, value] of Object.entries(c.expected))
        assert.ok(
          Math.abs(actual[key as keyof typeof actual] - value) < 1e-12,
          `${key}: ${actual[key as keyof typeof actual]}`,
        );
    });
});

describe('tuneThreshold: the best threshold on validation, ties to the one nearest 0.5', () => {
  const cases: {
    name: string;
    scores: number[];
    truth: boolean[];
    goal: ThresholdGoal;
    value: number | undefined;
    achieved?: Partial<ReturnType<typeof binaryMetrics>>;
  }[] = [
    {
      name: 'separable below 0.5: between the last negative and the first positive',
      scores: [0.1, 0.2, 0.3, 0.35, 0.6, 0.7],
      truth: [F, F, F, T, T, T],
      goal: { metric: 'f1' },
      value: 0.325,
      achieved: { f1: 1 },
    },
    {
      name: 'a positive at exactly 0 (a float32 softmax underflow): only 0 keeps recall 1',
      scores: [0, 0.3, 0.7, 0.9],
      truth: [T, F, T, F],
      goal: { metric: 'precisionAtRecall', recall: 1 },
      value: 0,
      achieved: { recall: 1, precision: 0.5 },
    },
    {
      name: 'separable around 0.5: 0.5 itself',
      scores: [0.1, 0.9],
      truth: [F, T],
      goal: { metric: 'f1' },
      value: 0.5,
    },
    {
      name: 'balanced accuracy weighs the rare class up: a lower threshold catches it',
      // Nothing positive (above 0.45): 0.5. Between 0.2 and 0.3: both positives and two negatives (0.4, 0.45)
      // answered positive, recall 1 and specificity 4/6: 5/6, the best (accuracy would rather answer nothing).
      scores: [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.45, 0.3],
      truth: [F, F, F, F, T, F, F, T],
      goal: { metric: 'balancedAccuracy' },
      value: 0.25,
      achieved: { balancedAccuracy: 5 / 6, recall: 1 },
    },
    {
      name: 'precision at recall ≥ 1: every positive kept',
      scores: [0.2, 0.4, 0.6, 0.8],
      truth: [T, F, T, T],
      goal: { metric: 'precisionAtRecall', recall: 1 },
      value: 0.1,
      achieved: { precision: 0.75, recall: 1 },
    },
    {
      name: 'precision at recall ≥ 0.6: the negative left out',
      scores: [0.2, 0.4, 0.6, 0.8],
      truth: [T, F, T, T],
      goal: { metric: 'precisionAtRecall', recall: 0.6 },
      value: 0.5,
      achieved: { precision: 1, recall: 2 / 3 },
    },
    {
      name: 'one class only: nothing to tune',
      scores: [0.2, 0.7],
      truth: [T, T],
      goal: { metric: 'f1' },
      value: undefined,
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const tuned = tuneThreshold(c.scores, c.truth, c.goal);
      if (c.value === undefined) return assert.equal(tuned, undefined);
      assert.ok(tuned && Math.abs(tuned.value - c.value) < 1e-12, `threshold ${tuned?.value}`);
      for (const [key, value] of Object.entries(c.achieved ?? {}))
        assert.ok(
          Math.abs(tuned.validation[key as keyof typeof tuned.validation] - value) < 1e-12,
          `${key}: ${tuned.validation[key as keyof typeof tuned.validation]}`,
        );
    });
});
