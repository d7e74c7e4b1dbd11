import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../../../src/diagnostics/user-error.js';
import { isAnomalous, quantile, thresholdFromNormalScores } from '../../../src/engine/anomaly/threshold.js';

describe('the anomaly threshold from normal validation scores', () => {
  // Expected: numpy.quantile([3, 1, 2, 10, 4], q) (linear interpolation).
  const cases: { q: number; expected: number }[] = [
    { q: 0.5, expected: 3 },
    { q: 0.9, expected: 7.6000000000000005 },
    { q: 0.99, expected: 9.76 },
    { q: 1, expected: 10 },
    { q: 0, expected: 1 },
  ];
  for (const c of cases) {
    it(`quantile ${c.q} as numpy's`, () => {
      assert.ok(Math.abs(quantile([3, 1, 2, 10, 4], c.q) - c.expected) < 1e-12);
    });
  }

  it('records the quantile and how many scores it came from', () => {
    assert.deepEqual(thresholdFromNormalScores([3, 1, 2, 10, 4], 1), { value: 10, quantile: 1, from: 5 });
    assert.equal(thresholdFromNormalScores([5]).value, 5);
  });

  it('at max, no validation image is anomalous', () => {
    const scores = [0.2, 0.7, 0.4];
    const threshold = thresholdFromNormalScores(scores, 1);
    assert.deepEqual(
      scores.map((s) => isAnomalous(s, threshold)),
      [false, false, false],
    );
    assert.equal(isAnomalous(0.71, threshold), true);
  });

  it('without validation scores, a user error that says to hold some out', () => {
    assert.throws(
      () => thresholdFromNormalScores([]),
      (error: unknown) => error instanceof UserError && /validation/.test(error.hint ?? ''),
    );
  });

  it('refuses a quantile outside [0, 1] and a score that is not finite', () => {
    assert.throws(() => thresholdFromNormalScores([1], 1.5), RangeError);
    assert.throws(() => thresholdFromNormalScores([1, Number.NaN]), RangeError);
  });
});
