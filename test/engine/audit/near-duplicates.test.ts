import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  exactPairs,
  l2Normalised,
  nearestNeighbours,
  similarPairs,
} from '../../../src/engine/audit/near-duplicates.js';
import type { Rows } from '../../../src/engine/audit/logistic-regression.js';

const rows = (values: number[][]): Rows => ({
  data: Float32Array.from(values.flat()),
  count: values.length,
  width: values[0]!.length,
});

describe('near-duplicate pairs of feature vectors', () => {
  const cases: { name: string; a: number[][]; b?: number[][]; threshold: number; pairs: [number, number][] }[] = [
    {
      name: 'across sets: a scaled copy is similarity 1, an orthogonal vector is not paired',
      a: [
        [1, 0, 0],
        [0, 1, 0],
      ],
      b: [
        [0, 0, 1],
        [2, 0, 0],
        [0, 0.99, 0.1],
      ],
      threshold: 0.95,
      pairs: [
        [0, 1],
        [1, 2],
      ],
    },
    {
      name: 'within one set: each pair once, never a row with itself',
      a: [
        [1, 1],
        [1, 0],
        [1.01, 1],
        [2, 2],
      ],
      threshold: 0.999,
      pairs: [
        [0, 3],
        [0, 2],
        [2, 3],
      ],
    },
    { name: 'nothing above the threshold', a: [[1, 0]], b: [[0, 1]], threshold: 0.5, pairs: [] },
  ];
  for (const c of cases)
    it(c.name, () => {
      const found = similarPairs(l2Normalised(rows(c.a)), c.b && l2Normalised(rows(c.b)), c.threshold);
      assert.deepEqual(found.map((p) => [p.a, p.b]).sort(), [...c.pairs].sort());
      for (const p of found) assert.ok(p.similarity >= c.threshold && p.similarity <= 1);
    });

  it('tiles larger than one block find every pair, most similar first, bounded by the cap', () => {
    // 1500 random directions, with rows 3, 700 and 1400 copied (scaled) at the end: beyond a 1024-row tile.
    let seed = 7;
    const random = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const base = Array.from({ length: 1500 }, () => Array.from({ length: 16 }, random));
    const copies = [3, 700, 1400].map((i) => base[i]!.map((v) => v * 3));
    const all = l2Normalised(rows([...base, ...copies]));
    const pairs = similarPairs(all, undefined, 0.9999);
    assert.deepEqual(
      pairs.map((p) => [p.a, p.b]),
      [
        [3, 1500],
        [700, 1501],
        [1400, 1502],
      ].filter((pair) => pairs.some((p) => p.a === pair[0] && p.b === pair[1])),
    );
    assert.equal(pairs.length, 3);
    assert.equal(similarPairs(all, undefined, 0.9999, 2).length, 2);
  });

  it('nearest neighbours: each row its k most similar of the other set (of its own set, without itself)', () => {
    const a = l2Normalised(
      rows([
        [1, 0],
        [0, 1],
      ]),
    );
    const b = l2Normalised(
      rows([
        [0.9, 0.1],
        [0.1, 0.9],
        [1, 1],
      ]),
    );
    assert.deepEqual(
      nearestNeighbours(a, b, 1).map((p) => [p.a, p.b]),
      [
        [0, 0],
        [1, 1],
      ],
    );
    const within = nearestNeighbours(b, undefined, 2);
    assert.ok(within.every((p) => p.a !== p.b));
    assert.equal(within.length, 6);
  });
});

describe('exact pairs by pixel digest', () => {
  const cases: { name: string; a: string[]; b?: string[]; pairs: { a: number; b: number }[] }[] = [
    {
      name: 'every copy in b of something in a, even several of one',
      a: ['x', 'y', 'z'],
      b: ['y', 'q', 'y', 'x'],
      pairs: [
        { a: 1, b: 0 },
        { a: 1, b: 2 },
        { a: 0, b: 3 },
      ],
    },
    {
      name: 'within a set: each later copy with the first of its group',
      a: ['x', 'x', 'y', 'x', 'y'],
      pairs: [
        { a: 0, b: 1 },
        { a: 0, b: 3 },
        { a: 2, b: 4 },
      ],
    },
    { name: 'no copies', a: ['x'], b: ['y'], pairs: [] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(exactPairs(c.a, c.b), c.pairs));
});
