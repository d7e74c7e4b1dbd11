import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  auroc,
  averagePrecision,
  metricsAtThreshold,
  scoreHistograms,
} from '../../../src/engine/evaluate/anomaly-metrics.js';

const labelled = (scores: number[], labels: number[]) => ({ scores, anomalous: labels.map((l) => l === 1) });
const close = (actual: number | undefined, expected: number, name: string) =>
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-12, `${name}: ${actual} ≠ ${expected}`);

describe('anomaly metrics as scikit-learn 1.2.1 computes them', () => {
  // Expected: sklearn.metrics.roc_auc_score(labels, scores) and
  // sklearn.metrics.average_precision_score(labels, scores), run on these arrays.
  const cases: { name: string; scores: number[]; labels: number[]; auroc: number; ap: number }[] = [
    { name: 'separated', scores: [0.1, 0.2, 0.3, 0.8, 0.9], labels: [0, 0, 0, 1, 1], auroc: 1.0, ap: 1.0 },
    { name: 'reversed', scores: [0.9, 0.8, 0.1, 0.2], labels: [0, 0, 1, 1], auroc: 0.0, ap: 0.41666666666666663 },
    {
      name: 'ties across classes',
      scores: [0.5, 0.5, 0.5, 0.2, 0.9, 0.5],
      labels: [0, 1, 1, 0, 1, 0],
      auroc: 0.7777777777777778,
      ap: 0.7333333333333334,
    },
    { name: 'all tied', scores: [1, 1, 1, 1], labels: [0, 1, 0, 1], auroc: 0.5, ap: 0.5 },
    {
      name: 'mixed',
      scores: [0.35, 0.1, 0.8, 0.4, 0.65, 0.2, 0.9, 0.55],
      labels: [1, 0, 1, 0, 0, 0, 1, 1],
      auroc: 0.8125,
      ap: 0.8541666666666666,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: AUROC and average precision`, () => {
      close(auroc(labelled(c.scores, c.labels)), c.auroc, 'auroc');
      close(averagePrecision(labelled(c.scores, c.labels)), c.ap, 'average precision');
    });
  }

  it('AUROC is undefined with one class only; average precision without anomalies', () => {
    assert.equal(auroc(labelled([0.1, 0.2], [0, 0])), undefined);
    assert.equal(auroc(labelled([0.1, 0.2], [1, 1])), undefined);
    assert.equal(averagePrecision(labelled([0.1, 0.2], [0, 0])), undefined);
  });

  it('refuses scores and labels of different lengths', () => {
    assert.throws(() => auroc(labelled([0.1, 0.2], [0])), RangeError);
  });

  // Expected: sklearn.metrics.precision_recall_fscore_support(labels, [s > t for s in scores],
  // average='binary', zero_division=0) on the `mixed` arrays above.
  const thresholds: { threshold: number; precision: number; recall: number; f1: number }[] = [
    { threshold: 0.5, precision: 0.75, recall: 0.75, f1: 0.75 },
    { threshold: 0.3, precision: 0.6666666666666666, recall: 1.0, f1: 0.8 },
    { threshold: 0.95, precision: 0.0, recall: 0.0, f1: 0.0 },
  ];
  for (const t of thresholds) {
    it(`precision, recall and F1 above ${t.threshold}`, () => {
      const m = metricsAtThreshold(labelled(cases[4]!.scores, cases[4]!.labels), t.threshold);
      close(m.precision, t.precision, 'precision');
      close(m.recall, t.recall, 'recall');
      close(m.f1, t.f1, 'f1');
      assert.equal(m.truePositives + m.falsePositives + m.falseNegatives + m.trueNegatives, 8);
    });
  }

  it('a score equal to the threshold is normal', () => {
    assert.equal(metricsAtThreshold(labelled([0.5], [1]), 0.5).truePositives, 0);
  });
});

describe('score histograms by class', () => {
  // Expected: numpy.histogram(scores, bins) for the edges; per class, the same bins.
  it('shares the range across classes, the last bin closed', () => {
    const h = scoreHistograms([0, 1, 2, 2, 3, 4], ['a', 'a', 'b', 'a', 'b', 'b'], 4);
    assert.deepEqual(h.edges, [0, 1, 2, 3, 4]);
    assert.deepEqual(h.counts, { a: [1, 1, 1, 0], b: [0, 0, 1, 2] });
  });

  it('widens an empty range by one half each side, as numpy', () => {
    const h = scoreHistograms([2, 2, 2], ['n', 'n', 'n'], 2);
    assert.deepEqual(h.edges, [1.5, 2, 2.5]);
    assert.deepEqual(h.counts, { n: [0, 3] });
  });

  it('a class named __proto__ is counted like any other', () => {
    const h = scoreHistograms([1, 2], ['__proto__', 'x'], 1);
    assert.deepEqual(Object.entries(h.counts), [
      ['__proto__', [1]],
      ['x', [1]],
    ]);
  });
});
