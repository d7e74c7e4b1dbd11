import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { selectBackend } from '../../../src/engine/kernels/backend.js';
import { values } from './deterministic-values.js';

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

interface PoolCase {
  name: string;
  x: [number, number, number, number];
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same';
  /** Inputs after a ReLU: many windows of zeros only, whose ties the first zero wins. */
  relu?: boolean;
  /** Inputs rounded to tenths: ties between positive values. */
  coarse?: boolean;
  /** Some inputs NaN or −∞. */
  special?: boolean;
  /** Inputs in (0.5, 1.5) without ties, where wasm's own kernel is right too: compared with it as well. */
  positive?: boolean;
  /** Inputs turned negative (with `relu`: ≤ 0). */
  negate?: boolean;
}

const POOL: PoolCase[] = [
  { name: '2×2, stride 2, valid (the seed CNN)', x: [2, 26, 26, 8], filterSize: 2, strides: 2, pad: 'valid' },
  { name: 'after a ReLU: windows of zeros', x: [3, 10, 10, 4], filterSize: 2, strides: 2, pad: 'valid', relu: true },
  { name: 'ties between positive values', x: [2, 8, 8, 3], filterSize: 2, strides: 2, pad: 'valid', coarse: true },
  { name: 'odd size: the last row and column unused', x: [2, 7, 9, 3], filterSize: 2, strides: 2, pad: 'valid' },
  { name: '3×3, stride 2, same: overlapping windows', x: [2, 9, 9, 5], filterSize: 3, strides: 2, pad: 'same' },
  {
    name: '3×3, stride 1, same, overlapping ties',
    x: [1, 6, 7, 2],
    filterSize: 3,
    strides: 1,
    pad: 'same',
    coarse: true,
  },
  { name: '2×3 filter, strides 1×2, valid', x: [2, 7, 8, 3], filterSize: [2, 3], strides: [1, 2], pad: 'valid' },
  { name: 'NaN and −∞ among the inputs', x: [2, 6, 6, 2], filterSize: 2, strides: 2, pad: 'valid', special: true },
  { name: 'negative inputs only', x: [2, 6, 6, 3], filterSize: 2, strides: 2, pad: 'valid', relu: true, negate: true },
  { name: 'positive inputs, no ties', x: [2, 12, 12, 4], filterSize: 2, strides: 2, pad: 'valid', positive: true },
];

function poolInput(c: PoolCase): Float32Array {
  const x = values(size(c.x), 11, c.positive ? 0.5 : -1, c.positive ? 1.5 : 1);
  for (let i = 0; i < x.length; i++) {
    if (c.relu) x[i] = Math.max(0, x[i]! - 0.3);
    if (c.coarse) x[i] = Math.round(x[i]! * 3) / 3;
    if (c.negate) x[i] = -x[i]!;
    if (c.special && i % 7 === 0) x[i] = i % 14 === 0 ? Number.NaN : Number.NEGATIVE_INFINITY;
  }
  if (c.special) x.fill(Number.NaN, 0, 2 * 6 * 2); // whole windows of NaN
  return x;
}

/** dx of a weighted sum of max pooling's output. */
function maxPoolGradient(c: PoolCase): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(poolInput(c), c.x);
    const outShape = tf.maxPool(x, c.filterSize, c.strides, c.pad).shape;
    const weights = tf.tensor(values(size(outShape), 3), outShape);
    const dx = tf.grad((xx: tf.Tensor) =>
      tf.sum(tf.mul(tf.maxPool(xx as tf.Tensor4D, c.filterSize, c.strides, c.pad), weights)),
    )(x);
    return dx.dataSync() as Float32Array;
  });
}

describe("wasm's heap kernels equal the cpu backend's", () => {
  const cpu = new Map<string, Float32Array>();
  const wasmNative = new Map<string, Float32Array>();
  let cpuKernel: tf.KernelFunc;
  let wasmKernel: tf.KernelFunc;
  before(async () => {
    // wasm's own kernel first: the backend starts once, registering tlpipe's kernels, so take it before that.
    await import('@tensorflow/tfjs-backend-wasm');
    wasmKernel = tf.getKernel('MaxPoolGrad', 'wasm')!.kernelFunc;
    await selectBackend('cpu');
    cpuKernel = tf.getKernel('MaxPoolGrad', 'cpu')!.kernelFunc;
    for (const c of POOL) cpu.set(c.name, maxPoolGradient(c));
    await selectBackend('wasm');
    const ours = tf.getKernel('MaxPoolGrad', 'wasm')!;
    tf.unregisterKernel('MaxPoolGrad', 'wasm');
    tf.registerKernel({ ...ours, kernelFunc: wasmKernel });
    try {
      for (const c of POOL) wasmNative.set(c.name, maxPoolGradient(c));
    } finally {
      tf.unregisterKernel('MaxPoolGrad', 'wasm');
      tf.registerKernel(ours);
    }
  });

  for (const c of POOL) {
    it(`max pooling's gradient, bit for bit: ${c.name}`, () => {
      const actual = maxPoolGradient(c);
      // Exactly: each dx is 0 or the sum of its windows' dy, added in their order in double precision as the cpu backend adds them.
      assert.deepEqual(actual, cpu.get(c.name), 'against the cpu backend');
      // wasm's own kernel keeps the last of tied maxima and drops windows without a positive value; elsewhere it agrees.
      if (c.positive) assert.deepEqual(actual, wasmNative.get(c.name), "against wasm's own kernel");
      assert.ok(
        actual.some((v) => v !== 0),
        'some gradient arrives',
      );
    });
  }

  it('leaves no tensors or buffers behind', () => {
    maxPoolGradient(POOL[0]!);
    const before = tf.memory();
    for (const c of POOL) maxPoolGradient(c);
    const after = tf.memory();
    assert.equal(after.numTensors, before.numTensors);
    assert.equal(after.numDataBuffers, before.numDataBuffers);
    assert.equal(after.numBytes, before.numBytes);
  });

  it('is registered for wasm alone: the cpu backend keeps its own kernel', () => {
    assert.notEqual(tf.getKernel('MaxPoolGrad', 'wasm')!.kernelFunc, wasmKernel, 'replaced on wasm');
    assert.equal(tf.getKernel('MaxPoolGrad', 'cpu')!.kernelFunc, cpuKernel, 'unchanged on cpu');
  });
});
