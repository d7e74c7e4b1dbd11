import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { auroc, averagePrecision } from '../../../src/engine/evaluate/anomaly-metrics.js';
import {
  classCurves,
  CURVE_CLASS_LIMIT,
  CURVE_POINTS,
  precisionRecallCurve,
  rocCurve,
  simplifyPolyline,
  type CurvePoints,
} from '../../../src/engine/evaluate/curves.js';

const labelled = (scores: number[], labels: number[]) => ({ scores, anomalous: labels.map((l) => l === 1) });

/** A seeded stream of numbers in [0, 1) (mulberry32), so the "random" cases are the same every run. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Area under a polyline by trapezoids: the ROC curve's is its AUC. */
const trapezoids = ({ x, y }: CurvePoints): number =>
  x.slice(1).reduce((sum, xi, i) => sum + (xi - x[i]!) * ((y[i + 1]! + y[i]!) / 2), 0);

const nonDecreasing = (values: number[]): boolean => values.every((v, i) => i === 0 || v >= values[i - 1]!);

describe('ROC and precision-recall curve points', () => {
  const cases: {
    name: string;
    scores: number[];
    labels: number[];
    roc: CurvePoints;
    pr: CurvePoints;
  }[] = [
    {
      name: 'a perfect ranking: straight up, then across',
      scores: [0.1, 0.2, 0.3, 0.8, 0.9],
      labels: [0, 0, 0, 1, 1],
      roc: { x: [0, 0, 1], y: [0, 1, 1] },
      pr: { x: [0, 1], y: [1, 1] },
    },
    {
      name: 'a reversed ranking: across, then up',
      scores: [0.9, 0.8, 0.1, 0.2],
      labels: [0, 0, 1, 1],
      roc: { x: [0, 1, 1], y: [0, 0, 1] },
      // Precision 0 at the two negatives, then 1/3 and 1/2 as the positives come.
      pr: { x: [0, 0, 0, 0.5, 0.5, 1], y: [1, 0, 0.3333, 0.3333, 0.5, 0.5] },
    },
    {
      name: 'every score tied: one diagonal step',
      scores: [1, 1, 1, 1],
      labels: [0, 1, 0, 1],
      roc: { x: [0, 1], y: [0, 1] },
      pr: { x: [0, 0, 1], y: [1, 0.5, 0.5] },
    },
    {
      // Hand-worked: thresholds 0.9 (1 positive), 0.5 (2 positives, 2 negatives), 0.2 (1 negative).
      name: 'ties across classes: the tied group is one diagonal step',
      scores: [0.5, 0.5, 0.5, 0.2, 0.9, 0.5],
      labels: [0, 1, 1, 0, 1, 0],
      roc: { x: [0, 0, 0.6667, 1], y: [0, 0.3333, 1, 1] },
      pr: { x: [0, 0.3333, 0.3333, 1], y: [1, 1, 0.6, 0.6] },
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      assert.deepEqual(rocCurve(labelled(c.scores, c.labels)), c.roc);
      assert.deepEqual(precisionRecallCurve(labelled(c.scores, c.labels)), c.pr);
    });

  it('undefined without positives (both) or without negatives (ROC)', () => {
    assert.equal(rocCurve(labelled([0.1, 0.2], [0, 0])), undefined);
    assert.equal(precisionRecallCurve(labelled([0.1, 0.2], [0, 0])), undefined);
    assert.equal(rocCurve(labelled([0.1, 0.2], [1, 1])), undefined);
    assert.deepEqual(precisionRecallCurve(labelled([0.1, 0.2], [1, 1])), { x: [0, 1], y: [1, 1] });
  });

  const random = (count: number, seed: number, separation: number) => {
    const next = seeded(seed);
    const labels = Array.from({ length: count }, () => (next() < 0.3 ? 1 : 0));
    // Scores rounded to 2 decimals: many ties, as a model's saturated probabilities have.
    const scores = labels.map((l) => Math.round((next() + separation * l) * 100) / 100);
    return labelled(scores, labels);
  };
  const randomCases = [
    { name: 'a random ranking of 5000', count: 5000, seed: 1, separation: 0 },
    { name: 'a good ranking of 5000', count: 5000, seed: 2, separation: 0.6 },
    { name: 'a random ranking of 60 (few enough to keep every corner)', count: 60, seed: 3, separation: 0 },
  ];
  for (const c of randomCases)
    it(`${c.name}: bounded, monotone, from corner to corner, faithful to AUC and AP`, () => {
      const data = random(c.count, c.seed, c.separation);
      const roc = rocCurve(data)!;
      const pr = precisionRecallCurve(data)!;
      for (const curve of [roc, pr]) {
        assert.ok(curve.x.length <= CURVE_POINTS, `${curve.x.length} points`);
        assert.equal(curve.x.length, curve.y.length);
      }
      assert.ok(nonDecreasing(roc.x) && nonDecreasing(roc.y), 'the ROC curve never turns back');
      assert.ok(nonDecreasing(pr.x), 'recall never decreases');
      assert.deepEqual([roc.x[0], roc.y[0], roc.x.at(-1), roc.y.at(-1)], [0, 0, 1, 1]);
      assert.deepEqual([pr.x[0], pr.y[0], pr.x.at(-1)], [0, 1, 1]);
      // The drawn curve's area is the AUC within what 100 points and 4 decimals can lose.
      assert.ok(Math.abs(trapezoids(roc) - auroc(data)!) < 0.005, `${trapezoids(roc)} vs ${auroc(data)}`);
      // Unsimplified, the stepped precision-recall curve's area is the average precision exactly (to the rounding).
      const full = precisionRecallCurve(data, Number.MAX_SAFE_INTEGER)!;
      assert.ok(Math.abs(trapezoids(full) - averagePrecision(data)!) < 1e-3, `${trapezoids(full)}`);
      assert.ok(Math.abs(trapezoids(pr) - averagePrecision(data)!) < 0.01, `${trapezoids(pr)}`);
      if (c.count <= 60) assert.deepEqual(rocCurve(data, Number.MAX_SAFE_INTEGER), roc, 'few points: all kept');
    });
});

describe('simplifyPolyline', () => {
  const cases: { name: string; points: [number, number][]; max: number; expected: [number, number][] }[] = [
    {
      name: 'collinear points go even with budget to spare',
      points: [
        [0, 0],
        [0.25, 0.25],
        [0.5, 0.5],
        [1, 1],
      ],
      max: 100,
      expected: [
        [0, 0],
        [1, 1],
      ],
    },
    {
      name: 'a corner is kept',
      points: [
        [0, 0],
        [0, 0.5],
        [0, 1],
        [0.5, 1],
        [1, 1],
      ],
      max: 100,
      expected: [
        [0, 0],
        [0, 1],
        [1, 1],
      ],
    },
    {
      name: 'the budget keeps the farthest corner first',
      points: [
        [0, 0],
        [0.1, 0.2],
        [0.2, 0.9],
        [0.6, 0.95],
        [1, 1],
      ],
      max: 3,
      expected: [
        [0, 0],
        [0.2, 0.9],
        [1, 1],
      ],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(simplifyPolyline(c.points, c.max), c.expected));
});

describe('classCurves', () => {
  it('one per class, null where a class has no example, none beyond the class limit', () => {
    const probabilities = [
      [0.7, 0.2, 0.1],
      [0.2, 0.7, 0.1],
      [0.6, 0.3, 0.1],
    ];
    const curves = classCurves([0, 1, 0], probabilities, ['a', 'b', 'c'])!;
    assert.deepEqual(Object.keys(curves), ['a', 'b', 'c']);
    assert.deepEqual(curves['a']!.roc, { x: [0, 0, 1], y: [0, 1, 1] });
    assert.equal(curves['c'], null);
    const many = Array.from({ length: CURVE_CLASS_LIMIT + 1 }, (_, i) => `class ${i}`);
    assert.equal(classCurves([0], [many.map(() => 1 / many.length)], many), undefined);
  });
  it('null for a class whose scores are not numbers (a model that diverged)', () => {
    const curves = classCurves(
      [0, 1],
      [
        [NaN, NaN],
        [NaN, NaN],
      ],
      ['a', 'b'],
    )!;
    assert.deepEqual(curves, { a: null, b: null });
  });
});
