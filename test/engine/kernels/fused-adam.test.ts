import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { selectBackend } from '../../../src/engine/kernels/backend.js';
import { FusedAdamOptimizer } from '../../../src/engine/kernels/fused-adam.js';
import { values as uniform } from './deterministic-values.js';

/** Deterministic values, every third tiny (moments near zero, denormal squares). */
function values(n: number, seed: number): Float32Array {
  return uniform(n, seed).map((v, i) => (i % 3 === 0 ? v * 1e-6 : v));
}

/** Sizes with and without a remainder of 4 (the SIMD pass takes groups of four, the rest goes element by element). */
const SHAPES = [[37, 19], [64], [7], [3, 3, 1, 5], [2]];

let run = 0;
/** Variables after `steps` updates by `optimizer` with fixed gradients, and the optimizer's moments; the rate changes halfway, as a schedule does. */
async function train(
  optimizer: tf.Optimizer,
  steps: number,
): Promise<{ values: Float32Array[]; moments: Float32Array[] }> {
  run++;
  const variables = SHAPES.map((shape, i) =>
    tf.variable(
      tf.tensor(
        values(
          shape.reduce((a, b) => a * b, 1),
          i + 1,
        ),
        shape,
      ),
      true,
      `fused-adam-${run}-${i}`,
    ),
  );
  for (let step = 0; step < steps; step++) {
    if (step === Math.floor(steps / 2)) (optimizer as unknown as { learningRate: number }).learningRate = 3e-4;
    const grads = Object.fromEntries(
      variables.map((v, i) => [v.name, tf.tensor(values(v.size, 100 * step + i + 7), v.shape)]),
    );
    optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));
  }
  const weights = await optimizer.getWeights();
  const result = {
    values: variables.map((v) => v.dataSync() as Float32Array),
    moments: weights.slice(1).map((w) => w.tensor.dataSync() as Float32Array),
  };
  tf.dispose(variables);
  optimizer.dispose();
  return result;
}

const bits = (arrays: Float32Array[]): Buffer[] => arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));

describe("the fused Adam gives tf.train.adam's weights to the bit", () => {
  for (const backend of ['wasm', 'cpu'] as const) {
    it(`on ${backend}: weights and both moments after 6 steps, a rate change included`, async () => {
      await selectBackend(backend);
      const want = await train(tf.train.adam(1e-3), 6);
      const actual = await train(new FusedAdamOptimizer(1e-3), 6);
      assert.deepEqual(bits(actual.values), bits(want.values), 'weights');
      assert.equal(actual.moments.length, 2 * SHAPES.length);
      assert.deepEqual(bits(actual.moments), bits(want.moments), 'moments');
    });
  }

  it('on wasm the update is one pass per variable: none of tfjs’s elementwise kernels run, and nothing leaks', async () => {
    await selectBackend('wasm');
    const optimizer: tf.Optimizer = new FusedAdamOptimizer(1e-3);
    const v = tf.variable(tf.tensor(values(40, 1), [8, 5]));
    const grads = (): tf.NamedTensorMap => ({ [v.name]: tf.tensor(values(40, 2), [8, 5]) });
    const first = grads();
    optimizer.applyGradients(first); // creates the moments
    tf.dispose(first);
    const before = tf.memory().numTensors;
    const g = grads();
    const profile = await tf.profile(() => optimizer.applyGradients(g));
    tf.dispose(g);
    const kernels = new Set(profile.kernelNames);
    for (const name of ['Sqrt', 'RealDiv', 'Square']) assert.ok(!kernels.has(name), `${name} ran`);
    assert.equal(tf.memory().numTensors, before);
    v.dispose();
    optimizer.dispose();
  });
});
