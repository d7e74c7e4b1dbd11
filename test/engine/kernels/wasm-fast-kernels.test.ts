import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { selectBackend } from '../../../src/engine/kernels/backend.js';
import { values } from './deterministic-values.js';

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);
const worst = (a: Float32Array, b: Float32Array): number =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!) / Math.max(1, Math.abs(b[i]!))), 0);

interface BatchNormCase {
  name: string;
  x: number[];
  /** Which of γ and β the layer has (Keras: center and scale). */
  scale: boolean;
  offset: boolean;
  epsilon: number;
  /** The per-channel mean far from zero, relative to the spread: the multiply-add form's worst case. */
  meanAt?: number;
}

/** y = batchNorm(x) and the gradients of a weighted sum of y with respect to x, γ, β, μ and σ². */
function batchNorm(c: BatchNormCase): Record<string, Float32Array> {
  return tf.tidy(() => {
    const channels = c.x[c.x.length - 1]!;
    const shift = c.meanAt ?? 0;
    const x = tf.tensor(values(size(c.x), 1, shift - 2, shift + 2), c.x);
    const mean = tf.tensor1d(values(channels, 2, shift - 0.5, shift + 0.5));
    const variance = tf.tensor1d(values(channels, 3, 0.2, 3));
    const gamma = tf.tensor1d(values(channels, 4, 0.5, 1.5));
    const beta = tf.tensor1d(values(channels, 5));
    const weights = tf.tensor(values(size(c.x), 6), c.x);
    const f = (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor, m: tf.Tensor, v: tf.Tensor): tf.Tensor =>
      tf.batchNorm(
        xx,
        m as tf.Tensor1D,
        v as tf.Tensor1D,
        c.offset ? (b as tf.Tensor1D) : undefined,
        c.scale ? (g as tf.Tensor1D) : undefined,
        c.epsilon,
      );
    const y = f(x, gamma, beta, mean, variance);
    // tfjs cannot take the gradient of a batch norm without γ or β on any backend (its tape saves the missing input): forward only.
    if (!c.scale || !c.offset) return { y: y.dataSync() as Float32Array };
    const [dx, dGamma, dBeta, dMean, dVariance] = tf.grads(
      (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor, m: tf.Tensor, v: tf.Tensor) =>
        tf.sum(tf.mul(f(xx, g, b, m, v), weights)),
    )([x, gamma, beta, mean, variance]);
    const out: Record<string, Float32Array> = { y: y.dataSync() as Float32Array };
    for (const [key, t] of Object.entries({ dx, dGamma, dBeta, dMean, dVariance }))
      out[key] = t!.dataSync() as Float32Array;
    return out;
  });
}

const BATCH_NORM: BatchNormCase[] = [
  { name: 'NHWC, γ and β (every MobileNetV2 layer)', x: [2, 5, 5, 8], scale: true, offset: true, epsilon: 1e-3 },
  { name: 'one image, one pixel, many channels', x: [1, 1, 1, 96], scale: true, offset: true, epsilon: 1e-3 },
  { name: 'odd sizes', x: [3, 7, 5, 3], scale: true, offset: true, epsilon: 1e-5 },
  { name: 'no γ (scale: false)', x: [2, 4, 4, 6], scale: false, offset: true, epsilon: 1e-3 },
  { name: 'no β (center: false)', x: [2, 4, 4, 6], scale: true, offset: false, epsilon: 1e-3 },
  { name: 'neither γ nor β', x: [2, 3, 3, 4], scale: false, offset: false, epsilon: 1e-3 },
  { name: 'rank 2 (after a dense layer)', x: [16, 10], scale: true, offset: true, epsilon: 1e-3 },
  {
    name: 'the mean far from zero (cancellation)',
    x: [2, 4, 4, 5],
    scale: true,
    offset: true,
    epsilon: 1e-3,
    meanAt: 50,
  },
];

const SUM: { name: string; shape: number[]; axis: number[]; keepDims?: boolean; tolerance?: number }[] = [
  { name: 'a bias gradient: over the batch', shape: [64, 128], axis: [0] },
  { name: 'a conv bias gradient: over batch, height and width', shape: [8, 13, 11, 16], axis: [0, 1, 2] },
  { name: 'kept dimensions', shape: [4, 5, 6], axis: [0, 1], keepDims: true },
  { name: 'axes given out of order and negative', shape: [4, 5, 6], axis: [-2, 0] },
  { name: 'over a size-1 axis only (a reshape)', shape: [3, 4, 1], axis: [2] },
  { name: 'size-1 axes among the leading ones', shape: [1, 7, 1, 5], axis: [0, 1, 2] },
  // float32 sums of this many terms differ in the 5th digit by order: wasm's own Sum is 6e-5 from the exact sum here, the cpu backend's 3e-8.
  { name: 'a large sum (73 728 terms per channel)', shape: [32, 48, 48, 4], axis: [0, 1, 2], tolerance: 3e-5 },
  { name: 'trailing axes (the native kernel)', shape: [4, 5, 6], axis: [1, 2] },
  { name: 'every axis (the native kernel)', shape: [4, 5], axis: [0, 1] },
  { name: 'int32 (the native kernel)', shape: [6, 3], axis: [0] },
];
const sumOf = (c: (typeof SUM)[number]): Float32Array =>
  tf.tidy(() => {
    const x = tf.tensor(values(size(c.shape), 9, -1, 3), c.shape);
    return tf
      .sum(c.name.startsWith('int32') ? tf.cast(tf.mul(x, 10), 'int32') : x, c.axis, c.keepDims)
      .dataSync() as Float32Array;
  });

const CLIP: { name: string; x: number[]; min: number; max: number }[] = [
  {
    name: 'relu6 (MobileNet): values at both ends count as inside',
    x: [-1, 0, 0.5, 3, 6, 6.5, -0, 5.999999],
    min: 0,
    max: 6,
  },
  { name: 'a symmetric range', x: [-3, -2, -1.5, 0, 1.5, 2, 2.0000002, 9], min: -2, max: 2 },
];
/** d/dx of Σ w·clip(x). */
const clipGradientOf = (c: (typeof CLIP)[number]): Float32Array =>
  tf.tidy(() => {
    const w = tf.tensor1d(values(c.x.length, 11));
    return tf
      .grad((x: tf.Tensor) => tf.sum(tf.mul(tf.clipByValue(x, c.min, c.max), w)))(tf.tensor1d(c.x))
      .dataSync() as Float32Array;
  });

const REVERSE: { name: string; shape: number[]; dims: number[] }[] = [
  { name: 'a 1×1 filter turned 180° (size-1 axes only)', shape: [1, 1, 8, 16], dims: [0, 1] },
  { name: 'a 3×3 filter turned 180°', shape: [3, 3, 4, 5], dims: [0, 1] },
  { name: 'a 1×3 filter: one axis of size 1, one not', shape: [1, 3, 2, 3], dims: [0, 1] },
  { name: 'a vector', shape: [7], dims: [0] },
  { name: 'negative axis', shape: [2, 3, 4], dims: [-1] },
];

describe("wasm's faster kernels equal the cpu backend's", () => {
  const expected = new Map<string, Record<string, Float32Array>>();
  const REPLACED = ['Identity', 'FusedBatchNorm', 'Reverse', 'Sum', 'Conv2DBackpropInput', 'BatchMatMul'];
  const kernelsBefore = new Map<string, tf.KernelFunc>();
  const GRADIENTS = ['FusedBatchNorm', 'ClipByValue'];
  const gradientsBefore = new Map<string, unknown>();
  before(async () => {
    await selectBackend('cpu');
    for (const name of REPLACED)
      for (const backend of ['cpu', 'wasm'])
        kernelsBefore.set(`${name}/${backend}`, tf.getKernel(name, backend)!.kernelFunc);
    for (const name of GRADIENTS) gradientsBefore.set(name, tf.getGradient(name)!.gradFunc);
    for (const c of BATCH_NORM) expected.set(`bn ${c.name}`, batchNorm(c));
    for (const c of SUM) expected.set(`sum ${c.name}`, { y: sumOf(c) });
    for (const c of CLIP) expected.set(`clip ${c.name}`, { dx: clipGradientOf(c) });
    for (const c of REVERSE)
      expected.set(`reverse ${c.name}`, {
        y: tf.tidy(() => tf.reverse(tf.tensor(values(size(c.shape), 7), c.shape), c.dims).dataSync() as Float32Array),
      });
    await selectBackend('wasm');
  });

  for (const c of BATCH_NORM) {
    it(`batch norm and its gradients: ${c.name}`, () => {
      const actual = batchNorm(c);
      const want = expected.get(`bn ${c.name}`)!;
      assert.deepEqual(Object.keys(actual).sort(), Object.keys(want).sort());
      for (const key of Object.keys(want)) {
        assert.equal(actual[key]!.length, want[key]!.length, key);
        // Relative to the value's size: y = x·s + (β − μ·s) rounds differently from (x − μ)·s + β.
        const error = worst(actual[key]!, want[key]!);
        assert.ok(error < (c.meanAt ? 1e-4 : 1e-5), `${key}: max relative |wasm − cpu| = ${error}`);
      }
    });
  }

  for (const c of SUM) {
    it(`sum: ${c.name}`, () => {
      const want = expected.get(`sum ${c.name}`)!['y']!;
      const actual = sumOf(c);
      assert.equal(actual.length, want.length);
      // Relative: summation order differs (XNNPACK's pooling against a plain loop).
      const error = worst(actual, want);
      assert.ok(error < (c.tolerance ?? 1e-5), `max relative |wasm − cpu| = ${error}`);
    });
  }

  for (const c of CLIP) {
    it(`clip gradient: ${c.name}`, () => {
      const want = expected.get(`clip ${c.name}`)!['dx']!;
      // Exactly: the mask is 0 or 1 and dy passes through unchanged (a zero may carry dy's sign).
      assert.deepEqual(
        Array.from(clipGradientOf(c), (v) => v + 0),
        Array.from(want, (v) => v + 0),
      );
    });
  }

  for (const c of REVERSE) {
    it(`reverse: ${c.name}`, () => {
      const actual = tf.tidy(
        () => tf.reverse(tf.tensor(values(size(c.shape), 7), c.shape), c.dims).dataSync() as Float32Array,
      );
      assert.deepEqual(actual, expected.get(`reverse ${c.name}`)!['y']);
    });
  }

  it('identity shares the buffer: a clone holds the same values, and each can be disposed first', () => {
    const x = tf.tensor2d(values(12, 8), [3, 4]);
    const buffers = tf.memory().numDataBuffers;
    const copy = tf.clone(x);
    assert.equal(tf.memory().numDataBuffers, buffers, 'no new buffer for a clone');
    const want = Array.from(x.dataSync());
    x.dispose();
    assert.deepEqual(Array.from(copy.dataSync()), want);
    const again = tf.clone(copy);
    copy.dispose();
    assert.deepEqual(Array.from(again.dataSync()), want);
    again.dispose();
    const ints = tf.tensor1d([1, 2, 3], 'int32');
    assert.deepEqual(Array.from(tf.clone(ints).dataSync()), [1, 2, 3]);
    assert.equal(tf.clone(ints).dtype, 'int32');
  });

  it('a variable assigned from a clone keeps its value when the original is disposed', () => {
    const v = tf.variable(tf.zeros([4]));
    const source = tf.tensor1d([1, 2, 3, 4]);
    v.assign(tf.clone(source));
    source.dispose();
    assert.deepEqual(Array.from(v.dataSync()), [1, 2, 3, 4]);
    v.dispose();
  });

  it('leaves no tensors or buffers behind', () => {
    batchNorm(BATCH_NORM[0]!);
    const before = tf.memory();
    for (const c of BATCH_NORM) batchNorm(c);
    for (const c of REVERSE) tf.tidy(() => void tf.reverse(tf.tensor(values(size(c.shape), 7), c.shape), c.dims));
    const after = tf.memory();
    assert.equal(after.numTensors, before.numTensors);
    assert.equal(after.numDataBuffers, before.numDataBuffers);
    assert.equal(after.numBytes, before.numBytes);
  });

  it("on the cpu backend the replaced gradients give exactly what tfjs-core's gave", async () => {
    await selectBackend('cpu');
    try {
      for (const c of BATCH_NORM) {
        const actual = batchNorm(c);
        const want = expected.get(`bn ${c.name}`)!;
        for (const key of Object.keys(want)) assert.deepEqual(actual[key], want[key], `${c.name}: ${key}`);
      }
      for (const c of CLIP) assert.deepEqual(clipGradientOf(c), expected.get(`clip ${c.name}`)!['dx']);
    } finally {
      await selectBackend('wasm');
    }
  });

  it('every replacement is registered for wasm alone: the cpu backend keeps its own kernels', () => {
    for (const name of REPLACED) {
      assert.notEqual(
        tf.getKernel(name, 'wasm')!.kernelFunc,
        kernelsBefore.get(`${name}/wasm`),
        `${name} replaced on wasm`,
      );
      assert.equal(tf.getKernel(name, 'cpu')!.kernelFunc, kernelsBefore.get(`${name}/cpu`), `${name} unchanged on cpu`);
    }
    // Gradients have one registry for all backends: the replacements are in it, and defer to the originals elsewhere (the cpu cases above).
    for (const name of GRADIENTS)
      assert.notEqual(tf.getGradient(name)!.gradFunc, gradientsBefore.get(name), `${name}'s gradient replaced`);
  });
});
