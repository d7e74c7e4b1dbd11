import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { foldTestMetrics, type FoldTestRead } from '../../src/api/fold-test-metrics.js';

const split = (accuracy: number, loss: number, ece: number): FoldTestRead => ({
  accuracy,
  loss,
  perClass: {
    a: { precision: 1, recall: 0.5, f1: 2 / 3, auroc: 0.9, averagePrecision: 0.8 },
    b: { precision: 0.5, recall: 1, f1: 2 / 3, auroc: 0.7, averagePrecision: 0.6 },
  },
  calibration: { ece },
});
const binary = { accuracy: 0.8, precision: 0.75, recall: 0.9, f1: 0.82, balancedAccuracy: 0.79 };

const cases: { name: string; test: FoldTestRead; has: Record<string, number>; lacks: string[] }[] = [
  {
    name: 'the plain evaluation: test_* only',
    test: { ...split(0.75, 0.5, 0.1), topK: { top1: 0.75, top2: 1 } },
    has: { test_accuracy: 0.75, test_loss: 0.5, test_top2: 1, test_macro_auroc: 0.8, test_ece: 0.1 },
    lacks: ['test_top1', 'test_tta_accuracy', 'test_calibrated_ece', 'test_threshold_f1', 'test_abstain_coverage'],
  },
  {
    name: 'with TTA: its accuracy, loss, macro metrics and ECE as test_tta_*',
    test: { ...split(0.75, 0.5, 0.1), tta: split(0.8, 0.4, 0.05) },
    has: {
      test_accuracy: 0.75,
      test_tta_accuracy: 0.8,
      test_tta_loss: 0.4,
      test_tta_ece: 0.05,
      test_tta_macro_f1: 2 / 3,
    },
    lacks: ['test_calibrated_ece'],
  },
  {
    name: 'with a decision rule: ECE after calibration, the tuned threshold, abstention',
    test: {
      ...split(0.75, 0.5, 0.1),
      decision: {
        calibration: { temperature: 1.7, after: { ece: 0.03, nll: 0.45 } },
        threshold: { value: 0.3, tuned: binary },
        abstain: { coverage: 0.6, accuracyAnswered: 0.95 },
      },
    },
    has: {
      test_ece: 0.1,
      test_calibrated_ece: 0.03,
      test_calibrated_nll: 0.45,
      calibration_temperature: 1.7,
      threshold_value: 0.3,
      test_threshold_f1: 0.82,
      test_threshold_balanced_accuracy: 0.79,
      test_abstain_coverage: 0.6,
      test_abstain_accuracy_answered: 0.95,
    },
    lacks: ['test_tta_accuracy'],
  },
  {
    name: 'undefined values (null) are left out, not averaged as numbers',
    test: {
      ...split(0.75, 0.5, 0.1),
      decision: { abstain: { coverage: 0, accuracyAnswered: null } },
    },
    has: { test_abstain_coverage: 0 },
    lacks: ['test_abstain_accuracy_answered'],
  },
];

describe('foldTestMetrics: what each fold contributes to the k-fold mean ± std', () => {
  for (const c of cases)
    it(c.name, () => {
      const metrics = foldTestMetrics(c.test);
      for (const [name, value] of Object.entries(c.has)) assert.equal(metrics[name], value, name);
      for (const name of c.lacks) assert.equal(name in metrics, false, `${name} is absent`);
    });
});
