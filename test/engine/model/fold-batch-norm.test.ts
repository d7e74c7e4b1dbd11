import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../src/engine/kernels/backend.js';
import { foldBatchNorm } from '../../../src/engine/model/fold-batch-norm.js';
import { buildBase } from '../../../src/engine/model/build-models.js';
import { loadZooArtifacts } from '../../../src/engine/model/zoo.js';

describe('batch norm folded into the convolutions of a frozen base', () => {
  before(async () => {
    await selectBackend('wasm');
  });
  const cases: { cut: string; size: number }[] = [
    { cut: 'block_2_add', size: 32 },
    { cut: 'block_13_expand_relu', size: 64 },
    { cut: 'out_relu', size: 96 },
  ];
  for (const c of cases) {
    it(`MobileNetV2 cut at ${c.cut}, ${c.size}×${c.size}: the same outputs within 1e-4, no batch norm left`, async () => {
      const base = await buildBase(loadZooArtifacts('mobilenet_v2'), c.cut, [c.size, c.size, 3]);
      const folded = await foldBatchNorm(base);
      try {
        const bns = (m: tf.LayersModel): number =>
          m.layers.filter((l) => l.getClassName() === 'BatchNormalization').length;
        assert.ok(bns(base) > 0);
        assert.equal(bns(folded), 0);
        const x = tf.randomUniform([4, c.size, c.size, 3], 0, 1, 'float32', 7);
        const [worst, scale] = tf.tidy(() => {
          const a = base.predict(x) as tf.Tensor;
          const b = folded.predict(x) as tf.Tensor;
          return [tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!, Math.max(1, tf.max(tf.abs(a)).dataSync()[0]!)];
        });
        assert.ok(worst / scale <= 1e-4, `max |folded − unfolded| = ${worst} at output scale ${scale}`);
        x.dispose();
      } finally {
        folded.dispose();
        base.dispose();
      }
    });
  }
});
