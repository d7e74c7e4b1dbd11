import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { imageBatch, preprocessingFor } from '../../../src/engine/data/preprocess.js';

const pixel = (values: number[], channels: 1 | 3) => ({
  data: Uint8Array.from(values),
  count: 1,
  height: 1,
  width: 1,
  channels,
});

describe('images reach the model with the channels it takes', () => {
  const unit = {
    mean: [0, 0, 0] as [number, number, number],
    std: [1, 1, 1] as [number, number, number],
    description: 'unit',
  };
  const imagenet = {
    mean: [0.485, 0.456, 0.406] as [number, number, number],
    std: [0.229, 0.224, 0.225] as [number, number, number],
    description: 'imagenet',
  };
  const cases: {
    name: string;
    source: number[];
    sourceChannels: 1 | 3;
    channels: 1 | 3;
    normalize: typeof unit;
    want: number[];
  }[] = [
    {
      name: 'gray repeated into RGB',
      source: [51],
      sourceChannels: 1,
      channels: 3,
      normalize: unit,
      want: [0.2, 0.2, 0.2],
    },
    { name: 'RGB kept', source: [255, 0, 51], sourceChannels: 3, channels: 3, normalize: unit, want: [1, 0, 0.2] },
    { name: 'gray kept gray', source: [255], sourceChannels: 1, channels: 1, normalize: unit, want: [1] },
    {
      name: "colour turned gray with tf.image.rgb_to_grayscale's weights",
      source: [255, 0, 0],
      sourceChannels: 3,
      channels: 1,
      normalize: unit,
      want: [0.2989],
    },
    {
      name: 'gray normalised with the mean of the three means and stds',
      source: [255],
      sourceChannels: 1,
      channels: 1,
      normalize: imagenet,
      want: [(1 - (0.485 + 0.456 + 0.406) / 3) / ((0.229 + 0.224 + 0.225) / 3)],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const pre = preprocessingFor(c.normalize, { size: [1, 1], channels: c.channels, fit: 'fill' });
      assert.equal(pre.scale.length, c.channels);
      const x = imageBatch(pixel(c.source, c.sourceChannels), pre);
      assert.deepEqual(x.shape, [1, 1, 1, c.channels]);
      const got = Array.from(x.dataSync());
      x.dispose();
      got.forEach((v, i) => assert.ok(Math.abs(v - c.want[i]!) < 1e-5, `${v} ≠ ${c.want[i]}`));
    });
  }
  it('leaves no tensors behind', () => {
    const before = tf.memory().numTensors;
    imageBatch(pixel([1, 2, 3], 3), preprocessingFor(unit, { size: [2, 2], channels: 1, fit: 'fill' })).dispose();
    assert.equal(tf.memory().numTensors, before);
  });
});
