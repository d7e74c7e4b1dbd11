import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { measureShift, pooledFeatures } from '../../../src/engine/adapt/measure-shift.js';
import { seededSample as sample, type TargetSource as ImageSource } from '../../../src/engine/data/target-images.js';
import { selectBackend } from '../../../src/engine/kernels/backend.js';
import { SeededRandom } from '../../../src/engine/random.js';

/** A small real convolutional base: 8×8×3 images in, a 4×4×6 map out (seeded weights). */
function tinyBase(): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3] });
  const output = tf.layers
    .conv2d({
      filters: 6,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }),
    })
    .apply(input) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output });
}

/** `count` images of seeded noise, brightened by `offset`, kept as one array so two sources can share them. */
function noiseImages(count: number, seed: number, offset = 0): Float32Array {
  const random = new SeededRandom(seed);
  return Float32Array.from({ length: count * 8 * 8 * 3 }, () => random.next() + offset);
}

function source(pixels: Float32Array): ImageSource {
  const size = 8 * 8 * 3;
  return {
    count: pixels.length / size,
    batch: async (positions) => {
      const data = new Float32Array(positions.length * size);
      positions.forEach((p, i) => data.set(pixels.subarray(p * size, (p + 1) * size), i * size));
      return tf.tensor4d(data, [positions.length, 8, 8, 3]);
    },
  };
}

const OPTIONS = { seed: 3, limit: 500, batchSize: 16, layer: 'conv' };

describe('measureShift: a domain classifier on pooled base features', () => {
  before(async () => {
    await selectBackend('cpu');
  });

  const training = noiseImages(60, 1);
  for (const { name, target, check } of [
    {
      // Out of fold, each image's twin teaches the opposite label (about 0.28): below chance is reported as chance.
      name: 'the very same images on both sides: indistinguishable',
      target: training,
      check: (auroc: number) => assert.equal(auroc, 0.5),
    },
    {
      name: 'other draws of the same noise: indistinguishable',
      target: noiseImages(60, 2),
      check: (auroc: number) => assert.ok(Math.abs(auroc - 0.5) <= 0.15, `AUROC ${auroc}`),
    },
    {
      name: 'brightened images: two domains',
      target: noiseImages(60, 2, 0.5),
      check: (auroc: number) => assert.ok(auroc > 0.95, `AUROC ${auroc}`),
    },
  ])
    it(name, async () => {
      const base = tinyBase();
      try {
        const measured = await measureShift(base, source(training), source(target), OPTIONS);
        assert.ok(measured);
        assert.deepEqual([measured.train, measured.target, measured.features], [60, 60, 'conv pooled']);
        check(measured.auroc);
        // Seeded: the same inputs measure the same number.
        const again = await measureShift(base, source(training), source(target), OPTIONS);
        assert.equal(again!.auroc, measured.auroc);
      } finally {
        base.dispose();
      }
    });

  it('fewer than 10 images of a domain: not measured', async () => {
    const base = tinyBase();
    try {
      assert.equal(await measureShift(base, source(training), source(noiseImages(9, 4)), OPTIONS), undefined);
    } finally {
      base.dispose();
    }
  });

  it('each row is the base output averaged over its spatial positions, one per channel', async () => {
    const base = tinyBase();
    try {
      const images = source(noiseImages(5, 5));
      const rows = await pooledFeatures(base, images, [0, 2, 4], 2);
      assert.deepEqual([rows.count, rows.width], [3, 6]);
      const x = await images.batch([0, 2, 4]);
      const expected = tf.tidy(() => (base.predict(x) as tf.Tensor).mean([1, 2]).dataSync());
      x.dispose();
      rows.data.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-5, `value ${i}: ${v} vs ${expected[i]}`));
    } finally {
      base.dispose();
    }
  });
});

describe('sample: the images measured of each domain', () => {
  for (const { name, count, limit, seed, expect } of [
    {
      name: 'no more than the limit: all of them',
      count: 5,
      limit: 5,
      seed: 1,
      expect: (s: number[]) => assert.deepEqual(s, [0, 1, 2, 3, 4]),
    },
    {
      name: 'more: `limit` distinct positions, ascending',
      count: 100,
      limit: 10,
      seed: 1,
      expect: (s: number[]) => {
        assert.equal(new Set(s).size, 10);
        assert.deepEqual(
          s,
          [...s].sort((a, b) => a - b),
        );
        assert.ok(s.every((p) => p >= 0 && p < 100));
      },
    },
  ])
    it(name, () => expect(sample(count, limit, seed)));

  it('seeded: the same seed the same sample, another seed another', () => {
    assert.deepEqual(sample(1000, 20, 3), sample(1000, 20, 3));
    assert.notDeepEqual(sample(1000, 20, 3), sample(1000, 20, 4));
  });
});
