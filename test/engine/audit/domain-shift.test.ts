import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { domainShift } from '../../../src/engine/audit/domain-shift.js';
import type { Rows } from '../../../src/engine/audit/logistic-regression.js';

/** `count` rows of `width` values drawn around `centre` (a seeded generator: the same rows each time). */
function cloud(count: number, width: number, centre: number, seed: number): Rows {
  let state = seed;
  const random = (): number => ((state = (state * 48271) % 2147483647) / 2147483647) * 2 - 1;
  return { data: Float32Array.from({ length: count * width }, () => centre + random()), count, width };
}

describe('domain shift: a classifier telling train from test, its out-of-fold AUROC', () => {
  const cases: { name: string; train: Rows; test: Rows; auroc: [number, number]; warn: boolean }[] = [
    {
      name: 'separable sets: AUROC near 1, a shift',
      train: cloud(60, 4, 0, 1),
      test: cloud(40, 4, 3, 2),
      auroc: [0.95, 1],
      warn: true,
    },
    {
      name: 'the same distribution: AUROC near 0.5, no shift',
      train: cloud(80, 4, 0, 3),
      test: cloud(80, 4, 0, 4),
      auroc: [0.35, 0.65],
      warn: false,
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const shift = domainShift(c.train, c.test, 5)!;
      assert.ok(shift.auroc >= c.auroc[0] && shift.auroc <= c.auroc[1], `AUROC ${shift.auroc}`);
      assert.equal(shift.warn, c.warn);
      assert.equal(shift.train, c.train.count);
      assert.equal(shift.test, c.test.count);
    });

  it('is not measured with fewer than 10 examples on a side', () => {
    assert.equal(domainShift(cloud(50, 2, 0, 5), cloud(9, 2, 0, 6), 5), undefined);
  });
});
