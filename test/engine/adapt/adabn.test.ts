import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  adaptBatchNorm,
  batchNormLayers,
  ChannelMoments,
  movingStatistics,
  plausibleStatistics,
} from '../../../src/engine/adapt/adabn.js';
import type { TargetSource } from '../../../src/engine/data/target-images.js';
import { selectBackend } from '../../../src/engine/kernels/backend.js';
import { buildBase } from '../../../src/engine/model/build-models.js';
import { enforceFrozenBatchNorm } from '../../../src/engine/model/frozen-batch-norm.js';
import { loadZooArtifacts } from '../../../src/engine/model/zoo.js';

/** Per-channel mean and population variance of rows of values, computed directly in float64. */
function direct(rows: number[][]): { mean: number[]; variance: number[] } {
  const channels = rows[0]!.length;
  const mean = Array.from({ length: channels }, (_, c) => rows.reduce((s, r) => s + r[c]!, 0) / rows.length);
  const variance = mean.map((m, c) => rows.reduce((s, r) => s + (r[c]! - m) ** 2, 0) / rows.length);
  return { mean, variance };
}

/** The batch's own per-channel mean and population variance: what a batch-norm layer reports for it. */
function batchMoments(rows: number[][]): { count: number; mean: number[]; variance: number[] } {
  return { count: rows.length, ...direct(rows) };
}

describe('AdaBN: the whole-set moments accumulated from batch moments', () => {
  const values = (n: number, seed: number, offset: number): number[][] =>
    Array.from({ length: n }, (_, i) => [Math.sin(i * 1.7 + seed) * 3 + offset, ((i * 37 + seed) % 11) - offset, 1e3]);
  const cases: { name: string; rows: number[][]; batches: number[] }[] = [
    { name: 'one batch', rows: values(10, 1, 0), batches: [10] },
    { name: 'equal batches', rows: values(12, 2, 5), batches: [4, 4, 4] },
    { name: 'a short last batch', rows: values(11, 3, -2), batches: [4, 4, 3] },
    { name: 'batches of one', rows: values(5, 4, 1), batches: [1, 1, 1, 1, 1] },
    {
      name: 'batches with very different means (the spread of the means counts)',
      rows: [...values(6, 5, 100), ...values(6, 6, -100)],
      batches: [6, 6],
    },
    { name: 'uneven sizes', rows: values(20, 7, 3), batches: [1, 12, 7] },
  ];
  for (const c of cases) {
    it(`${c.name}: equals the mean and variance of all values at once`, () => {
      const moments = new ChannelMoments(3);
      let at = 0;
      for (const size of c.batches) {
        const b = batchMoments(c.rows.slice(at, at + size));
        moments.add(b.count, b.mean, b.variance);
        at += size;
      }
      const want = direct(c.rows);
      assert.equal(moments.seen, c.rows.length);
      const variance = moments.variance();
      for (let ch = 0; ch < 3; ch++) {
        assert.ok(Math.abs(moments.mean[ch]! - want.mean[ch]!) <= 1e-9 * Math.max(1, Math.abs(want.mean[ch]!)));
        assert.ok(Math.abs(variance[ch]! - want.variance[ch]!) <= 1e-9 * Math.max(1, want.variance[ch]!));
      }
    });
  }
  it('the spread of the batch means counts: averaging the batch variances alone would miss it', () => {
    const rows = [...values(6, 5, 100), ...values(6, 6, -100)];
    const moments = new ChannelMoments(3);
    const halves = [rows.slice(0, 6), rows.slice(6)].map(batchMoments);
    for (const b of halves) moments.add(b.count, b.mean, b.variance);
    const averagedVariances = (halves[0]!.variance[0]! + halves[1]!.variance[0]!) / 2;
    // The halves' means are about 200 apart: the whole set's variance is about 100², each half's a few units.
    assert.ok(averagedVariances < 10, String(averagedVariances));
    assert.ok(Math.abs(moments.variance()[0]! - direct(rows).variance[0]!) < 1e-6);
    assert.ok(moments.variance()[0]! > 9000);
  });
});

describe('AdaBN on a real MobileNetV2 base', () => {
  before(async () => {
    await selectBackend('cpu');
  });

  it('re-estimates only moving statistics: the first layer’s are the moments of its inputs over every target image', async () => {
    const base = await buildBase(loadZooArtifacts('mobilenet_v2'), 'block_2_add', [32, 32, 3]);
    enforceFrozenBatchNorm(base);
    const images = tf.randomUniform([10, 32, 32, 3], -1, 0.2, 'float32', 11) as tf.Tensor4D;
    const target: TargetSource = {
      count: 10,
      batch: async (positions) => tf.gather(images, [...positions]),
    };
    try {
      const before = new Map(base.weights.map((w) => [w.name, w.read().dataSync().slice()]));
      const patchedCall = (base.getLayer('bn_Conv1') as unknown as { call: unknown }).call;
      const adapted = await adaptBatchNorm(base, target, 4);
      assert.deepEqual(adapted, { layers: batchNormLayers(base).length, images: 10 });
      assert.ok(adapted.layers > 5);
      // The frozen-batch-norm call is back: inference mode again.
      assert.equal((base.getLayer('bn_Conv1') as unknown as { call: unknown }).call, patchedCall);
      let moving = 0;
      for (const w of base.weights) {
        const now = w.read().dataSync();
        const was = before.get(w.name)!;
        const same = now.length === was.length && now.every((v, i) => Object.is(v, was[i]));
        if (/moving_(mean|variance)/.test(w.name)) {
          assert.ok(!same, `${w.name} was not re-estimated`);
          moving++;
        } else assert.ok(same, `${w.name} changed`);
      }
      assert.equal(moving, adapted.layers * 2);
      // bn_Conv1 reads Conv1's output: its new moving statistics are that output's per-channel moments over all 10 images.
      const conv = tf.model({ inputs: base.inputs, outputs: base.getLayer('Conv1').output as tf.SymbolicTensor });
      const { mean, variance } = tf.tidy(() => tf.moments(conv.predict(images) as tf.Tensor, [0, 1, 2]));
      const bn = base.getLayer('bn_Conv1').getWeights();
      const [movingMean, movingVariance] = [bn[2]!, bn[3]!];
      const close = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
      assert.ok(close(movingMean, mean) < 1e-4, `mean off by ${close(movingMean, mean)}`);
      assert.ok(close(movingVariance, variance) < 1e-4 * Math.max(1, tf.max(variance).dataSync()[0]!));
      tf.dispose([mean, variance]);
    } finally {
      images.dispose();
      base.dispose();
    }
  });

  it('statistics read back (the stage cache) are used only when they can be the model’s', async () => {
    const base = await buildBase(loadZooArtifacts('mobilenet_v2'), 'block_2_add', [32, 32, 3]);
    try {
      const own = movingStatistics(base);
      // bn_Conv1 is first: its 32 means, then its 32 variances.
      const changed = (at: number, value: number): Float32Array => {
        const values = own.slice();
        values[at] = value;
        return values;
      };
      const cases: { name: string; values: Float32Array; plausible: boolean }[] = [
        { name: 'the model’s own', values: own, plausible: true },
        { name: 'a negative mean (means may be anything finite)', values: changed(0, -3), plausible: true },
        { name: 'one value short', values: own.subarray(1), plausible: false },
        { name: 'one value too many', values: Float32Array.from([...own, 1]), plausible: false },
        { name: 'a NaN mean', values: changed(0, Number.NaN), plausible: false },
        { name: 'an infinite variance', values: changed(32, Number.POSITIVE_INFINITY), plausible: false },
        { name: 'a negative variance', values: changed(32, -0.5), plausible: false },
      ];
      for (const c of cases) assert.equal(plausibleStatistics(base, c.values), c.plausible, c.name);
    } finally {
      base.dispose();
    }
  });
});
