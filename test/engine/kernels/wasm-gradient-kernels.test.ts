import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { selectBackend } from '../../../src/engine/kernels/backend.js';

/** Deterministic pseudo-random values, the same on every backend. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = s / 2147483648 - 0.5;
  }
  return out;
}

interface Case {
  name: string;
  depthwise: boolean;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number;
  pad: 'same' | 'valid';
  fused?: boolean;
}

/** Gradients of a weighted sum of the convolution's output with respect to input and filter. */
function gradients(c: Case): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(
      values(
        c.x.reduce((a, b) => a * b),
        1,
      ),
      c.x,
    );
    const w = tf.tensor4d(
      values(
        c.filter.reduce((a, b) => a * b),
        2,
      ),
      c.filter,
    );
    const conv = (xx: tf.Tensor4D, ww: tf.Tensor4D): tf.Tensor4D =>
      c.depthwise
        ? c.fused
          ? tf.fused.depthwiseConv2d({ x: xx, filter: ww, strides: c.strides, pad: c.pad, activation: 'relu6' })
          : tf.depthwiseConv2d(xx, ww, c.strides, c.pad)
        : c.fused
          ? tf.fused.conv2d({ x: xx, filter: ww, strides: c.strides, pad: c.pad, activation: 'relu6' })
          : tf.conv2d(xx, ww, c.strides, c.pad);
    const outShape = conv(x, w).shape;
    const weights = tf.tensor(
      values(
        outShape.reduce((a, b) => a * b),
        3,
      ),
      outShape,
    );
    const [dx, dw] = tf.grads((xx: tf.Tensor, ww: tf.Tensor) =>
      tf.sum(tf.mul(conv(xx as tf.Tensor4D, ww as tf.Tensor4D), weights)),
    )([x, w]);
    return { dx: dx!.dataSync() as Float32Array, dw: dw!.dataSync() as Float32Array };
  });
}

const CASES: Case[] = [
  {
    name: 'conv 1×1 (pointwise), stride 1',
    depthwise: false,
    x: [2, 5, 5, 4],
    filter: [1, 1, 4, 6],
    strides: 1,
    pad: 'same',
  },
  { name: 'conv 3×3 same, stride 1', depthwise: false, x: [2, 6, 6, 3], filter: [3, 3, 3, 5], strides: 1, pad: 'same' },
  {
    name: 'conv 3×3 valid, stride 2 (MobileNet stem)',
    depthwise: false,
    x: [2, 9, 9, 3],
    filter: [3, 3, 3, 4],
    strides: 2,
    pad: 'valid',
  },
  {
    name: 'conv 3×3 same, stride 2, odd size',
    depthwise: false,
    x: [1, 7, 8, 2],
    filter: [3, 3, 2, 3],
    strides: 2,
    pad: 'same',
  },
  {
    name: 'conv 3×3 valid, stride 1, batch 3 (a small CNN)',
    depthwise: false,
    x: [3, 8, 8, 2],
    filter: [3, 3, 2, 4],
    strides: 1,
    pad: 'valid',
  },
  { name: 'conv 5×5 same, stride 1', depthwise: false, x: [1, 7, 7, 2], filter: [5, 5, 2, 3], strides: 1, pad: 'same' },
  {
    name: "conv 3×3 valid, one input channel (the seed CNN's first layer: the filter gradient from patches)",
    depthwise: false,
    x: [4, 12, 12, 1],
    filter: [3, 3, 1, 8],
    strides: 1,
    pad: 'valid',
  },
  {
    name: 'conv 3×3 same, stride 2, 4 input channels (36 values a window: the filter gradient as a convolution)',
    depthwise: false,
    x: [2, 9, 9, 4],
    filter: [3, 3, 4, 3],
    strides: 2,
    pad: 'same',
  },
  {
    name: 'conv 2×2 same, stride 2, even size',
    depthwise: false,
    x: [2, 8, 8, 3],
    filter: [2, 2, 3, 2],
    strides: 2,
    pad: 'same',
  },
  {
    name: 'conv 3×3 valid, stride 3, leftover rows',
    depthwise: false,
    x: [1, 10, 11, 2],
    filter: [3, 3, 2, 2],
    strides: 3,
    pad: 'valid',
  },
  {
    name: 'conv 1×3 same, stride 1 (non-square)',
    depthwise: false,
    x: [2, 5, 6, 2],
    filter: [1, 3, 2, 3],
    strides: 1,
    pad: 'same',
  },
  {
    name: 'fused conv with relu6',
    depthwise: false,
    x: [2, 6, 6, 3],
    filter: [3, 3, 3, 4],
    strides: 1,
    pad: 'same',
    fused: true,
  },
  {
    name: 'depthwise 3×3 same, stride 1',
    depthwise: true,
    x: [2, 6, 6, 4],
    filter: [3, 3, 4, 1],
    strides: 1,
    pad: 'same',
  },
  {
    name: 'depthwise 3×3 valid, stride 2',
    depthwise: true,
    x: [2, 9, 9, 3],
    filter: [3, 3, 3, 1],
    strides: 2,
    pad: 'valid',
  },
  {
    name: 'depthwise 3×3 same, stride 2, odd size',
    depthwise: true,
    x: [1, 7, 8, 3],
    filter: [3, 3, 3, 1],
    strides: 2,
    pad: 'same',
  },
  {
    name: 'depthwise with channel multiplier 2',
    depthwise: true,
    x: [2, 5, 5, 3],
    filter: [3, 3, 3, 2],
    strides: 1,
    pad: 'same',
  },
  {
    name: 'fused depthwise with relu6',
    depthwise: true,
    x: [2, 6, 6, 4],
    filter: [3, 3, 4, 1],
    strides: 1,
    pad: 'same',
    fused: true,
  },
  {
    name: 'depthwise 5×5 same, stride 2, even size',
    depthwise: true,
    x: [2, 10, 10, 3],
    filter: [5, 5, 3, 1],
    strides: 2,
    pad: 'same',
  },
  {
    name: 'depthwise 3×3 valid, stride 2, multiplier 3',
    depthwise: true,
    x: [3, 7, 7, 2],
    filter: [3, 3, 2, 3],
    strides: 2,
    pad: 'valid',
  },
  {
    name: 'depthwise 3×3 same on a 1×1 map (a top block at a small size)',
    depthwise: true,
    x: [4, 1, 1, 8],
    filter: [3, 3, 8, 1],
    strides: 1,
    pad: 'same',
  },
  {
    name: 'depthwise 3×3 same, batch 1',
    depthwise: true,
    x: [1, 4, 4, 5],
    filter: [3, 3, 5, 1],
    strides: 1,
    pad: 'same',
  },
];

describe("convolution gradients on wasm equal the cpu backend's", () => {
  const expected = new Map<string, { dx: Float32Array; dw: Float32Array }>();
  before(async () => {
    await selectBackend('cpu');
    for (const c of CASES) expected.set(c.name, gradients(c));
    await selectBackend('wasm');
  });

  for (const c of CASES) {
    it(c.name, () => {
      const actual = gradients(c);
      const want = expected.get(c.name)!;
      for (const key of ['dx', 'dw'] as const) {
        assert.equal(actual[key].length, want[key].length);
        const worst = actual[key].reduce((m, v, i) => Math.max(m, Math.abs(v - want[key][i]!)), 0);
        assert.ok(worst < 1e-4, `${key}: max |wasm − cpu| = ${worst}`);
      }
    });
  }

  it('leaves no tensors behind', () => {
    gradients(CASES[5]!);
    const before = tf.memory().numTensors;
    for (const c of CASES) gradients(c);
    assert.equal(tf.memory().numTensors, before);
  });

  it('training a real conv layer on wasm changes its weights', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, activation: 'relu' }),
        tf.layers.depthwiseConv2d({ kernelSize: 3 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2 }),
      ],
    });
    const before = model.getWeights().map((w) => Array.from(w.dataSync()));
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    await model.fit(tf.tensor4d(values(4 * 8 * 8 * 3, 5), [4, 8, 8, 3]), tf.tensor2d(values(8, 6), [4, 2]), {
      epochs: 1,
      verbose: 0,
    });
    const after = model.getWeights().map((w) => Array.from(w.dataSync()));
    assert.notDeepEqual(after[0], before[0], 'conv kernel trained');
    assert.notDeepEqual(after[2], before[2], 'depthwise kernel trained');
  });
});

describe("matrix products on wasm, transposed or taken the other way round, equal the cpu backend's", () => {
  const cases: { name: string; a: number[]; b: number[]; transposeA: boolean; transposeB: boolean }[] = [
    { name: 'aᵀ·b (a weight gradient)', a: [7, 5], b: [7, 3], transposeA: true, transposeB: false },
    { name: 'a·bᵀ (an input gradient)', a: [4, 6], b: [5, 6], transposeA: false, transposeB: true },
    { name: 'aᵀ·bᵀ', a: [6, 4], b: [5, 6], transposeA: true, transposeB: true },
    { name: 'batched aᵀ·b', a: [3, 7, 5], b: [3, 7, 2], transposeA: true, transposeB: false },
    { name: "batched a·b (wasm's own kernel)", a: [2, 3, 4], b: [2, 4, 5], transposeA: false, transposeB: false },
    // Right operands larger than the left: taken as (bᵀ·aᵀ)ᵀ, so the small operand is the one packed.
    {
      name: "a dense layer's forward product, weights larger than the batch",
      a: [4, 300],
      b: [300, 64],
      transposeA: false,
      transposeB: false,
    },
    {
      name: "a dense layer's input gradient, a·bᵀ with large weights",
      a: [4, 64],
      b: [300, 64],
      transposeA: false,
      transposeB: true,
    },
    { name: 'aᵀ·b with a wide right operand', a: [9, 2], b: [9, 200], transposeA: true, transposeB: false },
    { name: 'a single row', a: [1, 50], b: [50, 70], transposeA: false, transposeB: false },
    { name: 'leading axes of size 1', a: [1, 1, 4, 30], b: [1, 30, 40], transposeA: false, transposeB: false },
  ];
  const product = (c: (typeof cases)[number]): Float32Array =>
    tf.tidy(
      () =>
        tf
          .matMul(
            tf.tensor(
              values(
                c.a.reduce((x, y) => x * y),
                4,
              ),
              c.a,
            ),
            tf.tensor(
              values(
                c.b.reduce((x, y) => x * y),
                5,
              ),
              c.b,
            ),
            c.transposeA,
            c.transposeB,
          )
          .dataSync() as Float32Array,
    );
  const expected = new Map<string, Float32Array>();
  before(async () => {
    await selectBackend('cpu');
    for (const c of cases) expected.set(c.name, product(c));
    await selectBackend('wasm');
  });
  for (const c of cases) {
    it(c.name, () => {
      const actual = product(c);
      const want = expected.get(c.name)!;
      assert.equal(actual.length, want.length);
      assert.ok(actual.every((v, i) => Math.abs(v - want[i]!) < 1e-5));
    });
  }

  it('the same weights again (packed once, then reused by wasm) give the same bits as the first product, and nothing leaks', () => {
    const weights = tf.tensor2d(values(300 * 64, 6), [300, 64]);
    const batch = tf.tensor2d(values(4 * 300, 7), [4, 300]);
    const before = tf.memory().numTensors;
    const runs = [0, 1, 2].map(() => tf.tidy(() => tf.matMul(batch, weights).dataSync() as Float32Array));
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(runs[1], runs[0]);
    assert.deepEqual(runs[2], runs[0]);
    tf.dispose([weights, batch]);
  });
});
