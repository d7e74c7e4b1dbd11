import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blend, nearestVote } from '../../../src/engine/audit/nearest-vote.js';

/** Two tight groups of feature rows on a plane; one row of the first group is labelled as the second. */
const rows = (points: number[][]): { data: Float32Array; count: number; width: number } => ({
  data: Float32Array.from(points.flat()),
  count: points.length,
  width: points[0]!.length,
});
const GROUPS = [
  [1, 0.1],
  [1, 0.2],
  [1, 0.15],
  [1.1, 0.12], // labelled 1, yet in group 0
  [0.1, 1],
  [0.2, 1],
  [0.15, 1.1],
  [0.12, 1.05],
];
const LABELS = [0, 0, 0, 1, 1, 1, 1, 1];

const cases: { name: string; neighbours: number; index: number; likeliest: number }[] = [
  { name: 'a row labelled 1 among 0s: its neighbours vote 0', neighbours: 3, index: 3, likeliest: 0 },
  {
    name: 'a row of group 0 votes 0 even with the mislabelled row among its neighbours',
    neighbours: 3,
    index: 0,
    likeliest: 0,
  },
  { name: 'a row of group 1 votes 1', neighbours: 3, index: 5, likeliest: 1 },
];

describe('nearest-neighbour vote', () => {
  for (const c of cases)
    it(c.name, () => {
      const p = nearestVote(rows(GROUPS), LABELS, 2, c.neighbours)[c.index]!;
      assert.equal(p.indexOf(Math.max(...p)), c.likeliest);
      assert.ok(Math.abs(p[0]! + p[1]! - 1) < 1e-6, `sums to 1: ${Array.from(p).join(', ')}`);
      assert.ok(p[0]! > 0 && p[1]! > 0, 'smoothed: no class exactly 0');
    });

  it('never counts the row itself: a single other row decides', () => {
    const p = nearestVote(
      rows([
        [1, 0],
        [1, 0.1],
      ]),
      [0, 1],
      2,
      5,
    );
    assert.ok(p[0]![1]! > p[0]![0]!, `row 0 takes row 1's label: ${Array.from(p[0]!).join(', ')}`);
    assert.ok(p[1]![0]! > p[1]![1]!, `row 1 takes row 0's label: ${Array.from(p[1]!).join(', ')}`);
  });

  it('blends row by row with the given weight', () => {
    const out = blend([Float32Array.from([1, 0])], [Float32Array.from([0, 1])], 0.25);
    assert.deepEqual(Array.from(out[0]!), [0.25, 0.75]);
  });
});
