import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { GradCam } from '../../../src/engine/evaluate/grad-cam.js';

/** A small conv base and softmax head, seeded. */
function model(): tf.LayersModel {
  const input = tf.input({ shape: [12, 12, 3] });
  const seed = (s: number): ReturnType<typeof tf.initializers.glorotUniform> =>
    tf.initializers.glorotUniform({ seed: s });
  let x = tf.layers
    .conv2d({ filters: 6, kernelSize: 3, activation: 'relu', kernelInitializer: seed(1), name: 'conv1' })
    .apply(input) as tf.SymbolicTensor;
  x = tf.layers
    .conv2d({ filters: 8, kernelSize: 3, activation: 'relu', kernelInitializer: seed(2), name: 'conv2' })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const output = tf.layers
    .dense({ units: 4, activation: 'softmax', kernelInitializer: seed(3) })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output });
}

describe('Grad-CAM maps of several class lists over the same images', () => {
  const cases: { name: string; lists: number[][] }[] = [
    { name: 'one list', lists: [[0, 1, 2]] },
    {
      name: "two lists (the gallery's predicted and actual)",
      lists: [
        [0, 1, 2],
        [3, 3, 0],
      ],
    },
    {
      name: 'three lists',
      lists: [
        [1, 1, 1],
        [2, 0, 3],
        [0, 0, 0],
      ],
    },
  ];
  for (const c of cases)
    it(`${c.name}: the same maps, bit for bit, as the lists' images stacked and mapped in one call, and from the layer's activations given`, () => {
      const m = model();
      const cam = new GradCam(m, 'conv2');
      const x = tf.randomUniform([3, 12, 12, 3], -1, 1, 'float32', 7) as tf.Tensor4D;
      const stacked = tf.concat(c.lists.map(() => x)) as tf.Tensor4D;
      try {
        const separately = cam.maps(stacked, c.lists.flat());
        const together = cam.mapsPerClassList(x, c.lists).flat();
        // The layer's activations as the stage cache gives them back: the prefix's output on x, as a new tensor.
        const kept = tf.tensor(
          (cam.prefix.predict(x) as tf.Tensor).dataSync(),
          cam.prefix.outputs[0]!.shape.map((d) => d ?? 3),
        );
        const fromKept = cam.mapsPerClassList(x, c.lists, kept).flat();
        kept.dispose();
        assert.equal(together.length, separately.length);
        assert.equal(fromKept.length, separately.length);
        together.forEach((map, i) => {
          assert.equal(map.classIndex, separately[i]!.classIndex);
          assert.deepEqual(Buffer.from(map.values.buffer), Buffer.from(separately[i]!.values.buffer));
          assert.equal(fromKept[i]!.classIndex, separately[i]!.classIndex);
          assert.deepEqual(Buffer.from(fromKept[i]!.values.buffer), Buffer.from(separately[i]!.values.buffer));
        });
        assert.ok(
          together.some((map) => map.values.some((v) => v > 0)),
          'some map shows evidence',
        );
      } finally {
        tf.dispose([x, stacked]);
        m.dispose();
      }
    });
});
