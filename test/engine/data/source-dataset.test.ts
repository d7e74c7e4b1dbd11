import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadInput } from '../../../src/api/pipeline-input.js';
import { UserError } from '../../../src/diagnostics/user-error.js';
import type { PixelBatch, SplitData } from '../../../src/engine/data/dataset-types.js';
import {
  joinedSplit,
  mapSourceLabels,
  readSource,
  type SourceExamples,
} from '../../../src/engine/data/source-dataset.js';
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
    const joined = joinedSplit(split(3, 0, 2, 3), split(2, 100, 2, 3));
    assert.equal(joined.count, 5);
    assert.deepEqual([...joined.labels], [0, 1, 0, 0, 1]);
    assert.equal(joined.name(4), '100:1');
    const batch = await joined.pixels([4, 0, 3, 2]);
    assert.deepEqual(
      [0, 1, 2, 3].map((row) => batch.data[row * 12]),
      [120, 10, 110, 30],
    );
  });

  it("brings the source's pixels to the shape of the pipeline's own, in every batch", async () => {
    // The pipeline's own: gray 3×3 arrays (IDX); the source's: 4×4 colour images (files).
    const joined = joinedSplit(split(2, 0, 3, 1), split(2, 100, 4, 3));
    for (const indexes of [
      [2, 1],
      [3, 2],
    ]) {
      const batch = await joined.pixels(indexes);
      assert.deepEqual([batch.height, batch.width, batch.channels, batch.count, batch.data.length], [3, 3, 1, 2, 18]);
    }
    const mixed = await joined.pixels([2, 1]);
    assert.deepEqual([mixed.data[0], mixed.data[8], mixed.data[9], mixed.data[17]], [110, 110, 20, 20]);
  });
});

describe('a csv source weighs each row by weight × its weightColumn', () => {
  let dir: string;
  const pipeline = (source: string, weight: number): string => `name: tab
backend: cpu
dataset:
  format: csv
  file: own.csv
  featureColumns: [a, b]
  source: { format: csv, featureColumns: [a, b], weight: ${weight}, weightColumn: w, ${source} }
base: { model: none }
head:
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { epochs: 1 }
`;
  const read = async (source: string, weight = 0.5): Promise<SourceExamples> => {
    const loaded = loadInput({ yaml: pipeline(source, weight), path: path.join(dir, 'p.yaml') });
    assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.diagnostics));
    return readSource(loaded.value.spec.source!, ['x', 'y'], { seed: 1 });
  };
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'tlpipe-source-csv-'));
    writeFileSync(path.join(dir, 'own.csv'), 'label,a,b\nx,1,2\ny,3,4\nx,5,6\ny,7,8\n');
    // Row weights 1, 0.5, 0 (left out), 2; class z is none of the pipeline's.
    writeFileSync(path.join(dir, 'source.csv'), 'label,a,b,w\nx,1,2,1\ny,3,4,0.5\nx,5,6,0\ny,7,8,2\nz,9,9,1\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('rows weighing 0 and classes that map to nothing are left out', async () => {
    const source = await read('file: source.csv');
    assert.deepEqual([...source.weights], [0.5, 0.25, 1]);
    assert.deepEqual([...source.split.labels], [0, 1, 1]);
    assert.deepEqual(source.dropped, ['z']);
    assert.deepEqual(source.perClass, [1, 2]);
    assert.deepEqual([...(await source.split.vectors!([2, 0])).data], [7, 8, 1, 2]);
  });

  const badWeights: { name: string; value: string; weight?: number; reason: RegExp }[] = [
    { name: 'negative', value: '-1', reason: /is not a number ≥ 0: "-1"/ },
    { name: 'not a number', value: 'abc', reason: /is not a number ≥ 0: "abc"/ },
    { name: 'empty', value: '', reason: /is not a number ≥ 0: ""/ },
    {
      name: 'beyond float32 (Infinity there)',
      value: '1e39',
      reason: /is too large: 1e39 × weight 0\.5 is above 3\.4e\+38/,
    },
    {
      name: 'within float32, but not times weight',
      value: '3e38',
      weight: 2,
      reason: /is too large: 3e38 × weight 2 is above 3\.4e\+38/,
    },
  ];
  for (const c of badWeights)
    it(`a weight ${c.name} is a bad row: an error at weightColumn, or with onBadFile: skip left out`, async () => {
      const file = `bad-${badWeights.indexOf(c)}.csv`;
      writeFileSync(path.join(dir, file), `label,a,b,w\nx,1,2,${c.value}\ny,3,4,1\nx,5,6,1\n`);
      await assert.rejects(
        read(`file: ${file}`, c.weight),
        (error: unknown) =>
          error instanceof UserError &&
          error.path.join('.') === 'dataset.source.weightColumn' &&
          /1 source row with a bad weight:\n.*bad-\d\.csv:2: weight column `w` /.test(error.message) &&
          c.reason.test(error.message),
      );
      const skipped = await read(`file: ${file}, onBadFile: skip`, c.weight);
      assert.equal(skipped.split.count, 2);
      assert.ok(
        [...skipped.weights].every((w) => Number.isFinite(w)),
        'every weight kept is finite in float32',
      );
      assert.equal(skipped.skipped.length, 1);
    });
});
