import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accuracyOf, confusionMatrix, perClassMetrics } from '../../src/engine/metrics.js';

describe('test metrics', () => {
  // actual:    a a a b b c
  // predicted: a a b b c c
  const matrix = confusionMatrix([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2], 3);

  it('confusion matrix is [actual][predicted]', () => {
    assert.deepEqual(matrix, [[2, 1, 0], [0, 1, 1], [0, 0, 1]]);
  });

  it('accuracy is the diagonal over the total', () => {
    assert.equal(accuracyOf(matrix), 4 / 6);
  });

  const cases: { cls: string; precision: number; recall: number; support: number }[] = [
    { cls: 'a', precision: 1, recall: 2 / 3, support: 3 },
    { cls: 'b', precision: 1 / 2, recall: 1 / 2, support: 2 },
    { cls: 'c', precision: 1 / 2, recall: 1, support: 1 },
  ];
  const metrics = perClassMetrics(matrix, ['a', 'b', 'c']);
  for (const c of cases) {
    it(`per-class ${c.cls}`, () => {
      const m = metrics[c.cls]!;
      assert.equal(m.precision, c.precision);
      assert.equal(m.recall, c.recall);
      assert.equal(m.support, c.support);
      assert.equal(m.f1, (2 * c.precision * c.recall) / (c.precision + c.recall));
    });
  }

  it('a class never predicted has precision 0, not NaN', () => {
    const m = perClassMetrics(confusionMatrix([0, 1], [0, 0], 2), ['x', 'y']);
    assert.deepEqual(m['y'], { precision: 0, recall: 0, f1: 0, support: 1 });
  });
});
