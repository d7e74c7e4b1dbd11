import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { meanPlusMinus, metricsOverFolds } from '../../src/plan/fold-metrics.js';

describe('metricsOverFolds', () => {
  const cases: {
    name: string;
    folds: Record<string, number | undefined>[];
    expected: Record<string, { folds: (number | null)[]; mean: number | null; std: number | null; n: number }>;
  }[] = [
    {
      name: 'mean and sample standard deviation (n − 1) per metric',
      folds: [{ acc: 0.8 }, { acc: 0.9 }, { acc: 1.0 }],
      expected: { acc: { folds: [0.8, 0.9, 1.0], mean: 0.9, std: 0.1, n: 3 } },
    },
    {
      name: 'equal folds: no spread',
      folds: [{ loss: 2 }, { loss: 2 }],
      expected: { loss: { folds: [2, 2], mean: 2, std: 0, n: 2 } },
    },
    {
      name: 'a fold without the metric (failed, or a NaN) is null and left out of the mean',
      folds: [{ acc: 0.5 }, {}, { acc: Number.NaN }, { acc: 0.7 }],
      expected: { acc: { folds: [0.5, null, null, 0.7], mean: 0.6, std: Math.sqrt(0.02), n: 2 } },
    },
    {
      name: 'one fold has it: its value, no spread',
      folds: [{ auroc: 0.75 }, {}],
      expected: { auroc: { folds: [0.75, null], mean: 0.75, std: 0, n: 1 } },
    },
    {
      name: 'metrics in the order they first appear',
      folds: [{ b: 1, a: 2 }, { c: 3 }],
      expected: {
        b: { folds: [1, null], mean: 1, std: 0, n: 1 },
        a: { folds: [2, null], mean: 2, std: 0, n: 1 },
        c: { folds: [null, 3], mean: 3, std: 0, n: 1 },
      },
    },
    { name: 'no folds: no metrics', folds: [], expected: {} },
  ];
  for (const c of cases)
    it(c.name, () => {
      const got = metricsOverFolds(c.folds);
      assert.deepEqual(Object.keys(got), Object.keys(c.expected));
      for (const [name, want] of Object.entries(c.expected)) {
        const m = got[name]!;
        assert.deepEqual(m.folds, want.folds, name);
        assert.equal(m.n, want.n, name);
        for (const key of ['mean', 'std'] as const) {
          if (want[key] === null) assert.equal(m[key], null);
          else assert.ok(Math.abs(m[key]! - want[key]!) < 1e-12, `${name}.${key}: ${m[key]} ≠ ${want[key]}`);
        }
      }
    });
});

describe('meanPlusMinus', () => {
  const cases: [Parameters<typeof meanPlusMinus>[0], string][] = [
    [{ mean: 0.9, std: 0.1 }, '0.9000 ± 0.1000'],
    [{ mean: 1, std: 0 }, '1.0000 ± 0.0000'],
    [{ mean: null, std: null }, '–'],
  ];
  for (const [metric, text] of cases) it(text, () => assert.equal(meanPlusMinus(metric), text));
});
