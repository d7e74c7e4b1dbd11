import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classThresholds, confidentLearning } from '../../../src/engine/audit/confident-learning.js';

/**
 * Tables of out-of-fold probabilities built by hand: thresholds are each
 * class's mean probability over its own examples; the calibrated
 * confident joint says how many labelled i are j, and that many with the
 * largest margin p_j - p_i are flagged.
 */
const cases: {
  name: string;
  probabilities: number[][];
  labels: number[];
  thresholds: number[];
  flagged: { index: number; suggested: number }[];
  joint?: number[][];
}[] = [
  {
    name: 'one example of class 0 that is confidently class 1',
    probabilities: [
      [0.9, 0.1],
      [0.8, 0.2],
      [0.1, 0.9], // labelled 0
      [0.2, 0.8],
      [0.1, 0.9],
    ],
    labels: [0, 0, 0, 1, 1],
    thresholds: [0.6, 0.85],
    flagged: [{ index: 2, suggested: 1 }],
    joint: [
      [2, 1],
      [0, 1],
    ],
  },
  {
    name: 'the calibrated joint says two labelled 0 are 1: the two largest margins p1 - p0 are flagged, one of them below class 1 threshold',
    probabilities: [
      [0.9, 0.1],
      [0.1, 0.9], // labelled 0, confidently 1: margin 0.8
      [0.3, 0.7], // labelled 0, p1 below t1 = 0.85 (the joint does not count it) but margin 0.4: flagged
      [0.35, 0.65], // labelled 0, margin 0.3: the third largest, not flagged
      [0.2, 0.8],
      [0.1, 0.9],
    ],
    labels: [0, 0, 0, 0, 1, 1],
    thresholds: [(0.9 + 0.1 + 0.3 + 0.35) / 4, 0.85],
    flagged: [
      { index: 1, suggested: 1 },
      { index: 2, suggested: 1 },
    ],
    joint: [
      [1, 1],
      [0, 1], // [0.2, 0.8] misses t1: uncounted
    ],
  },
  {
    name: 'no issue when every example is likeliest its own class',
    probabilities: [
      [0.7, 0.3],
      [0.9, 0.1],
      [0.4, 0.6],
      [0.2, 0.8],
    ],
    labels: [0, 0, 1, 1],
    thresholds: [0.8, 0.7],
    flagged: [],
  },
  {
    name: 'below its threshold but no other class reaches its own: not flagged',
    probabilities: [
      [0.9, 0.05, 0.05],
      [0.5, 0.3, 0.2], // labelled 0, below t0 = 0.7, p1 0.3 < t1, p2 0.2 < t2
      [0.05, 0.9, 0.05],
      [0.05, 0.05, 0.9],
    ],
    labels: [0, 0, 1, 2],
    thresholds: [0.7, 0.9, 0.9],
    flagged: [],
  },
  {
    name: 'two issues, the surer (larger margin) first; the suggestion is the likeliest class above threshold',
    probabilities: [
      [0.95, 0.03, 0.02],
      [0.9, 0.05, 0.05],
      [0.2, 0.5, 0.3], // labelled 0: margin 0.3, class 1 above t1
      [0.02, 0.96, 0.02], // labelled 0: margin 0.94
      [0.1, 0.45, 0.45], // class 1's only example: t1 = 0.45
      [0.1, 0.1, 0.8],
      [0.05, 0.05, 0.9],
    ],
    labels: [0, 0, 0, 0, 1, 2, 2],
    thresholds: [(0.95 + 0.9 + 0.2 + 0.02) / 4, 0.45, 0.85],
    flagged: [
      { index: 3, suggested: 1 },
      { index: 2, suggested: 1 },
    ],
  },
  {
    name: 'below its threshold, another class above its own, but the label still the likeliest: not flagged',
    probabilities: [
      [0.95, 0.05],
      [0.95, 0.05],
      [0.6, 0.4], // labelled 0: p0 0.6 < t0, p1 0.4 >= t1 = 0.35, yet 0 is likelier
      [0.7, 0.3],
      [0.6, 0.4],
    ],
    labels: [0, 0, 0, 1, 1],
    thresholds: [(0.95 + 0.95 + 0.6) / 3, 0.35],
    flagged: [],
  },
  {
    name: 'a class no example is labelled with has no threshold and never confidently attracts',
    probabilities: [
      [0.6, 0.1, 0.3],
      [0.7, 0.1, 0.2],
      [0.1, 0.8, 0.1],
    ],
    labels: [0, 0, 1],
    thresholds: [0.65, 0.8, Number.NaN],
    flagged: [],
  },
];

describe('confident learning', () => {
  for (const c of cases)
    it(c.name, () => {
      const found = confidentLearning(c.probabilities, c.labels, c.thresholds.length);
      found.thresholds.forEach((t, j) =>
        Number.isNaN(c.thresholds[j]!)
          ? assert.ok(Number.isNaN(t))
          : assert.ok(Math.abs(t - c.thresholds[j]!) < 1e-9, `t${j} = ${t}`),
      );
      assert.deepEqual(
        found.issues.map((i) => ({ index: i.index, suggested: i.suggested })),
        c.flagged,
      );
      for (const issue of found.issues) {
        assert.equal(issue.given, c.labels[issue.index]);
        assert.ok(issue.margin > 0 && issue.margin <= 1);
      }
      if (c.joint) assert.deepEqual(found.confidentJoint, c.joint);
    });

  it('refuses a table whose rows do not match the labels', () => {
    assert.throws(() => confidentLearning([[1, 0]], [0, 1], 2), /1 rows of probabilities for 2 labels/);
  });

  it('thresholds are means over the examples labelled with each class', () => {
    assert.deepEqual(
      classThresholds(
        [
          [0.5, 0.5],
          [0.7, 0.3],
          [0.2, 0.8],
        ],
        [0, 0, 1],
        2,
      ),
      [0.6, 0.8],
    );
  });
});
