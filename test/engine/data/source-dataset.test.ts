import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { UserError } from '../../../src/diagnostics/user-error.js';
import type { PixelBatch, SplitData } from '../../../src/engine/data/dataset-types.js';
import { joinedSplit, mapSourceLabels } from '../../../src/engine/data/source-dataset.js';
import { selectBackend } from '../../../src/engine/kernels/backend.js';

before(async () => {
  await selectBackend('cpu');
});

const DIGITS = ['0', '1', '2', '3'];

describe("a source's classes map onto the pipeline's by labelMap, then equal names", () => {
  const cases: {
    name: string;
    source: string[];
    pipeline: string[];
    labelMap?: Record<string, string>;
    to: number[];
    dropped: string[];
  }[] = [
    { name: 'equal names, in any order', source: ['b', 'a'], pipeline: ['a', 'b', 'c'], to: [1, 0], dropped: [] },
    {
      name: 'labelMap renames; a class neither mapped nor named is left out',
      source: ['zero', 'one', 'seven'],
      pipeline: DIGITS,
      labelMap: { zero: '0', one: '1' },
      to: [0, 1, -1],
      dropped: ['seven'],
    },
    {
      name: 'labelMap comes before an equal name',
      source: ['a', 'b'],
      pipeline: ['a', 'b'],
      labelMap: { a: 'b' },
      to: [1, 1],
      dropped: [],
    },
    {
      name: 'no names on either side: label numbers, the extra source labels left out',
      source: ['0', '1', '2', '3', '4', '5'],
      pipeline: DIGITS,
      to: [0, 1, 2, 3, -1, -1],
      dropped: ['4', '5'],
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const mapping = mapSourceLabels(c.source, c.pipeline, c.labelMap);
      assert.deepEqual([...mapping.to], c.to);
      assert.deepEqual(mapping.dropped, c.dropped);
      assert.deepEqual(
        mapping.mapped.map((m) => m.from),
        c.source.filter((_, s) => c.to[s]! >= 0),
      );
    });

  const errors: {
    name: string;
    source: string[];
    labelMap?: Record<string, string>;
    path: (string | number)[];
    says: RegExp;
  }[] = [
    {
      name: 'nothing maps: an error at dataset.source with a hint',
      source: ['cat', 'dog'],
      path: ['dataset', 'source'],
      says: /none of the source's classes \(cat, dog\) is one of the pipeline's/,
    },
    {
      name: 'a labelMap target that is not a pipeline class',
      source: ['zero'],
      labelMap: { zero: 'nought' },
      path: ['dataset', 'source', 'labelMap', 'zero'],
      says: /`nought`, which is not one of the pipeline's classes/,
    },
    {
      name: 'a labelMap key that is not a source class',
      source: ['zero'],
      labelMap: { zer: '0' },
      path: ['dataset', 'source', 'labelMap', 'zer'],
      says: /`zer`, which is not one of the source's classes/,
    },
  ];
  for (const c of errors)
    it(c.name, () =>
      assert.throws(
        () => mapSourceLabels(c.source, DIGITS, c.labelMap),
        (error: unknown) =>
          error instanceof UserError && c.says.test(error.message) && error.path.join('.') === c.path.join('.'),
      ),
    );
});

/** A split of `count` one-pixel images whose value is 10 × (index + 1) + base, at size × size with `channels`. */
function split(count: number, base: number, size: number, channels: 1 | 3): SplitData {
  return {
    count,
    labels: Int32Array.from({ length: count }, (_, i) => i % 2),
    name: (i) => `${base}:${i}`,
    pixels: async (indexes): Promise<PixelBatch> => {
      const per = size * size * channels;
      const data = new Uint8Array(indexes.length * per);
      indexes.forEach((index, row) => data.fill(base + 10 * (index + 1), row * per, (row + 1) * per));
      return { data, count: indexes.length, height: size, width: size, channels };
    },
  };
}

describe("the training split joined with the source's examples", () => {
  it('reads each index from its part, in the order asked, and names it by its part', async () => {
    const joined = joinedSplit(split(3, 0, 2, 3), split(2, 100, 2, 3), [2, 2]);
    assert.equal(joined.count, 5);
    assert.deepEqual([...joined.labels], [0, 1, 0, 0, 1]);
    assert.equal(joined.name(4), '100:1');
    const batch = await joined.pixels([4, 0, 3, 2]);
    assert.deepEqual(
      [0, 1, 2, 3].map((row) => batch.data[row * 12]),
      [120, 10, 110, 30],
    );
  });

  it('brings gray arrays at another size to the pipeline size and colour when mixed with image files', async () => {
    const joined = joinedSplit(split(2, 0, 3, 1), split(2, 100, 4, 3), [4, 4]);
    const batch = await joined.pixels([2, 1]);
    assert.deepEqual([batch.height, batch.width, batch.channels, batch.count], [4, 4, 3, 2]);
    assert.deepEqual([batch.data[0], batch.data[48], batch.data[48 + 47]], [110, 20, 20]);
  });
});
