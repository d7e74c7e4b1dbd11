import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { readDataset, selectExamples, type SplitData } from '../../../src/engine/data/datasets.js';
import { encodeIdx, parseIdx } from '../../../src/engine/data/idx-file.js';

describe('parseIdx', () => {
  const images = encodeIdx([2, 2, 3], Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
  const cases: { name: string; bytes: Uint8Array; expect: RegExp | number[] }[] = [
    { name: 'plain rank-3 file', bytes: images, expect: [2, 2, 3] },
    { name: 'gzipped file', bytes: new Uint8Array(gzipSync(images)), expect: [2, 2, 3] },
    { name: 'truncated data', bytes: images.subarray(0, images.length - 1), expect: /the file has 11 \(truncated\?\)/ },
    {
      name: 'trailing bytes',
      bytes: Uint8Array.from([...images, 0]),
      expect: /header says 2×2×3 = 12 bytes of data, the file has 13/,
    },
    { name: 'not IDX at all', bytes: new TextEncoder().encode('hello world'), expect: /first two bytes must be zero/ },
    {
      name: 'float elements',
      bytes: Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 0]),
      expect: /element type 0xd is not supported/,
    },
    { name: 'header cut short', bytes: Uint8Array.from([0, 0, 8, 3, 0, 0]), expect: /needs 16 bytes/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (Array.isArray(c.expect)) assert.deepEqual(parseIdx(c.bytes).shape, c.expect);
      else assert.throws(() => parseIdx(c.bytes), c.expect);
    });
  }
});

describe('selectExamples', () => {
  // 3 classes, 10 examples each, interleaved.
  const labels = Int32Array.from({ length: 30 }, (_, i) => i % 3);
  const split: SplitData = {
    labels,
    count: 30,
    name: (i) => String(i),
    pixels: async () => ({ data: new Uint8Array(0), count: 0, height: 1, width: 1, channels: 1 }),
  };
  const dataset = { train: split, test: split, numClasses: 3 };
  const countBy = (indexes: number[]) => [0, 1, 2].map((c) => indexes.filter((i) => labels[i] === c).length);

  const cases: {
    name: string;
    options: Parameters<typeof selectExamples>[1];
    train: number[];
    validation: number[];
    test: number[];
  }[] = [
    {
      name: 'everything, 20% validation',
      options: { validation: 0.2, seed: 1 },
      train: [8, 8, 8],
      validation: [2, 2, 2],
      test: [10, 10, 10],
    },
    {
      name: 'perClass and testPerClass',
      options: { perClass: 5, testPerClass: 2, validation: 0.2, seed: 1 },
      train: [4, 4, 4],
      validation: [1, 1, 1],
      test: [2, 2, 2],
    },
    {
      name: 'no validation',
      options: { perClass: 3, validation: 0, seed: 1 },
      train: [3, 3, 3],
      validation: [0, 0, 0],
      test: [10, 10, 10],
    },
    {
      name: 'a tiny class keeps one training example',
      options: { perClass: 2, validation: 0.9, seed: 1 },
      train: [1, 1, 1],
      validation: [1, 1, 1],
      test: [10, 10, 10],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = selectExamples(dataset, c.options);
      assert.deepEqual(countBy(s.train), c.train);
      assert.deepEqual(countBy(s.validation), c.validation);
      assert.deepEqual(countBy(s.test), c.test);
      assert.equal(
        new Set([...s.train, ...s.validation]).size,
        s.train.length + s.validation.length,
        'train and validation overlap',
      );
    });
  }

  it('carves a stratified test split out of train when there is no separate one', () => {
    const s = selectExamples(
      { train: split, numClasses: 3 },
      { testFraction: 0.2, testPerClass: 1, validation: 0.25, seed: 3 },
    );
    assert.deepEqual(countBy(s.test), [1, 1, 1]);
    assert.deepEqual(countBy(s.validation), [2, 2, 2]);
    assert.deepEqual(countBy(s.train), [6, 6, 6]);
    const used = [...s.train, ...s.validation, ...s.test];
    assert.equal(new Set(used).size, used.length, 'splits overlap');
  });

  it('is reproducible for a seed and differs across seeds', () => {
    const options = { perClass: 5, validation: 0.2, seed: 7 };
    assert.deepEqual(selectExamples(dataset, options), selectExamples(dataset, options));
    assert.notDeepEqual(selectExamples(dataset, options).train, selectExamples(dataset, { ...options, seed: 8 }).train);
  });
});

describe('readDataset on the real MNIST files', () => {
  it('finds 60 000 + 10 000 28×28 digits in 10 classes', async () => {
    const d = await readDataset({
      format: 'mnist',
      limit: {},
      validation: 0.1,
      image: { size: [32, 32], channels: 3, fit: 'fill' },
    });
    assert.equal(d.train.count, 60000);
    assert.equal(d.test?.count, 10000);
    const pixels = await d.train.pixels([0, 1]);
    assert.deepEqual(
      [pixels.count, pixels.height, pixels.width, pixels.channels, pixels.data.length],
      [2, 28, 28, 1, 2 * 28 * 28],
    );
    assert.equal(d.numClasses, 10);
    assert.match(d.digest, /^[0-9a-f]{64}$/);
  });
});
