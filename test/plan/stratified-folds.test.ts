import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { foldMembers, stratifiedFolds } from '../../src/plan/stratified-folds.js';

/** Labels with `counts[c]` examples of class c, interleaved as a real listing would hold them. */
function labelsWithCounts(counts: number[]): number[] {
  const labels: number[] = [];
  const left = [...counts];
  while (left.some((n) => n > 0))
    left.forEach((n, c) => {
      if (n > 0) {
        labels.push(c);
        left[c] = n - 1;
      }
    });
  return labels;
}

const classCountsPerFold = (labels: number[], folds: number[], k: number): Map<number, number[]> => {
  const counts = new Map<number, number[]>();
  labels.forEach((label, i) => {
    const row = counts.get(label) ?? new Array<number>(k).fill(0);
    row[folds[i]!]!++;
    counts.set(label, row);
  });
  return counts;
};

const spread = (values: number[]): number => Math.max(...values) - Math.min(...values);

const cases: { name: string; counts: number[]; k: number; seed: number }[] = [
  { name: 'balanced, divisible', counts: [6, 6, 6], k: 3, seed: 1 },
  { name: 'balanced, not divisible', counts: [7, 7, 7, 7], k: 3, seed: 2 },
  { name: 'imbalanced', counts: [50, 9, 3], k: 5, seed: 3 },
  { name: 'a class smaller than k', counts: [10, 2, 1], k: 4, seed: 4 },
  { name: 'two classes, k = 2', counts: [11, 5], k: 2, seed: 5 },
  { name: 'many folds', counts: [40, 40], k: 20, seed: 6 },
  { name: 'one class', counts: [13], k: 5, seed: 7 },
];

describe('stratifiedFolds', () => {
  for (const c of cases) {
    it(`${c.name}: every example in one fold; each fold's class counts and sizes within 1`, () => {
      const labels = labelsWithCounts(c.counts);
      const folds = stratifiedFolds(labels, c.k, c.seed);
      assert.equal(folds.length, labels.length);
      assert.ok(folds.every((f) => Number.isInteger(f) && f >= 0 && f < c.k));
      const members = foldMembers(folds, c.k);
      // Disjoint and covering: the members of all folds are exactly 0..n-1 once each.
      assert.deepEqual(
        members.flat().sort((a, b) => a - b),
        labels.map((_, i) => i),
      );
      for (const [label, perFold] of classCountsPerFold(labels, folds, c.k)) {
        assert.ok(spread(perFold) <= 1, `class ${label} per fold: ${perFold.join(', ')}`);
        assert.equal(
          perFold.reduce((a, b) => a + b, 0),
          c.counts[label],
        );
      }
      assert.ok(spread(members.map((m) => m.length)) <= 1, `fold sizes ${members.map((m) => m.length).join(', ')}`);
    });
  }

  it('the same labels, k and seed give the same folds; another seed gives others', () => {
    const labels = labelsWithCounts([30, 30, 30]);
    assert.deepEqual(stratifiedFolds(labels, 3, 42), stratifiedFolds(labels, 3, 42));
    assert.notDeepEqual(stratifiedFolds(labels, 3, 42), stratifiedFolds(labels, 3, 43));
  });

  it('the folds are shuffled within a class, not the listing order cut into runs', () => {
    const labels = new Array<number>(30).fill(0);
    const folds = stratifiedFolds(labels, 3, 42);
    const inOrder = labels.map((_, i) => i % 3);
    const inRuns = labels.map((_, i) => Math.floor(i / 10));
    assert.notDeepEqual(folds, inOrder);
    assert.notDeepEqual(folds, inRuns);
  });

  it('pinned: these labels, k = 3 and seed 42 give exactly these folds (a change to the dealing shows here)', () => {
    assert.deepEqual(
      stratifiedFolds([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2], 3, 42),
      [2, 2, 2, 0, 1, 1, 1, 1, 0, 0, 0, 2],
    );
  });

  const bad: { name: string; k: number }[] = [
    { name: 'k = 1', k: 1 },
    { name: 'k = 0', k: 0 },
    { name: 'k not an integer', k: 2.5 },
  ];
  for (const b of bad)
    it(`${b.name} is refused`, () => {
      assert.throws(() => stratifiedFolds([0, 1, 0, 1], b.k, 1), RangeError);
    });

  it('no examples: no folds to assign', () => {
    assert.deepEqual(stratifiedFolds([], 3, 1), []);
    assert.deepEqual(foldMembers([], 3), [[], [], []]);
  });
});
