import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { predictRows } from '../../../src/engine/evaluate/predict.js';
import type { TabularPreprocessing } from '../../../src/engine/data/preprocess.js';

const PRE: TabularPreprocessing = {
  kind: 'tabular',
  columns: ['a', 'b'],
  mean: [1, -2],
  std: [2, 0.5],
  description: 'test',
};

/** A fixed linear model: two columns in, three classes out. */
function linearModel(): tf.LayersModel {
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [2], units: 3, activation: 'softmax', useBias: true })],
  });
  model.layers[0]!.setWeights([tf.tensor2d([0.3, -1, 2, 0.5, 1.5, -0.7], [2, 3]), tf.tensor1d([0.1, 0, -0.2])]);
  return model;
}

describe('predictRows: rows in batches, each row standardised as training did', () => {
  const cases = [
    { name: 'fewer rows than a batch', rows: 7 },
    { name: 'exactly one batch', rows: 1024 },
    { name: 'several batches and a remainder', rows: 2500 },
  ];
  for (const c of cases)
    it(`${c.name} (${c.rows}): the same classes as the whole table at once`, async () => {
      await tf.setBackend('cpu');
      const model = linearModel();
      try {
        const data = Float32Array.from({ length: c.rows * 2 }, (_, i) => Math.sin(i * 0.37) * 5);
        const predictions = predictRows(
          model,
          ['x', 'y', 'z'],
          PRE,
          'probabilities',
          {
            names: Array.from({ length: c.rows }, (_, i) => `t.csv:${i + 2}`),
            rows: { data, count: c.rows, width: 2 },
          },
          3,
        );
        const whole = tf.tidy(() => {
          const x = tf.div(tf.sub(tf.tensor2d(data, [c.rows, 2]), tf.tensor1d(PRE.mean)), tf.tensor1d(PRE.std));
          return (model.predict(x) as tf.Tensor).arraySync() as number[][];
        });
        assert.equal(predictions.length, c.rows);
        for (const [i, p] of predictions.entries()) {
          assert.equal(p.file, `t.csv:${i + 2}`);
          const best = whole[i]!.indexOf(Math.max(...whole[i]!));
          assert.equal(p.top[0]!.label, ['x', 'y', 'z'][best]);
          assert.ok(Math.abs(p.top[0]!.probability - whole[i]![best]!) < 1e-6);
        }
      } finally {
        model.dispose();
      }
    });
});
