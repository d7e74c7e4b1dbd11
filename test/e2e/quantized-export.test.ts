import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { modelFiles } from '../../src/api/index.js';
import { readJson, tlpipe, unwrapped, workspace, write } from './cli-harness.js';
import { SWEEP_PIPELINE } from './sweep-harness.js';

/** export.quantize: a copy of the model with uint8 or float16 weights that plain tfjs loads, its test accuracy measured. */
describe('a quantized export for the web', () => {
  const dir = workspace('quantize');
  const file = write(dir, 'q.yaml', SWEEP_PIPELINE('', 3).replace(/sweep:\n[\s\S]*$/, ''));
  const cases = [
    { dtype: 'uint8', ratio: 4 },
    { dtype: 'float16', ratio: 2 },
  ] as const;
  for (const c of cases) {
    it(`${c.dtype}: model-${c.dtype}/ is ${c.ratio}× smaller, loads with tf.loadLayersModel, and its test accuracy is in summary.json`, async () => {
      const runs = path.join(dir, c.dtype);
      const r = await tlpipe(['run', file, '--runs', runs, '--set', `export.quantize=${c.dtype}`], dir);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        unwrapped(r.stderr),
        new RegExp(`model-${c.dtype}/ with ${c.dtype} weights, ${c.ratio}\\.00× smaller: test accuracy [\\d.]+`),
      );
      const run = path.join(
        runs,
        'grid',
        readdirSync(path.join(runs, 'grid')).find((n) => /^\d{4}-/.test(n))!,
      );
      const summary = readJson(path.join(run, 'summary.json'));
      const q = summary.export.quantized;
      assert.equal(q.dtype, c.dtype);
      assert.equal(q.floatWeightBytes / q.weightBytes, c.ratio);
      assert.equal(statSync(path.join(run, `model-${c.dtype}`, 'weights.bin')).size, q.weightBytes);
      assert.ok(
        Math.abs(q.test.accuracy - summary.test.accuracy) <= 0.1,
        `${q.test.accuracy} vs ${summary.test.accuracy}`,
      );
      const [float, quantized] = await Promise.all([
        tf.loadLayersModel(modelFiles(path.join(run, 'model'))),
        tf.loadLayersModel(modelFiles(path.join(run, `model-${c.dtype}`))),
      ]);
      const x = tf.randomUniform([4, 32, 32, 3], 0, 1, 'float32', 5);
      const difference = tf
        .max(tf.abs(tf.sub(float.predict(x) as tf.Tensor, quantized.predict(x) as tf.Tensor)))
        .dataSync()[0]!;
      assert.ok(
        difference > 0 && difference < (c.dtype === 'uint8' ? 0.2 : 0.01),
        `largest probability difference ${difference}`,
      );
      assert.deepEqual(
        readJson(path.join(run, `model-${c.dtype}`, 'labels.json')),
        readJson(path.join(run, 'model', 'labels.json')),
      );
      x.dispose();
      float.dispose();
      quantized.dispose();
    });
  }
});
