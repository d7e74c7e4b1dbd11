import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '/work/main/dist/src/engine/backend.js';
import { buildBase, buildHeadLayers, composeModel } from '/work/main/dist/src/engine/models.js';
import { loadZooArtifacts } from '/work/main/dist/src/engine/zoo.js';
import { readDataset } from '/work/main/dist/src/engine/datasets.js';
import { imageBatch, oneHotBatch, preprocessingFor } from '/work/main/dist/src/engine/preprocess.js';
await selectBackend('wasm');
const base = await buildBase(loadZooArtifacts('mobilenet_v2'), 'block_2_add', [32, 32, 3]);
const topo = base.toJSON(null, false);
for (const l of topo.config.layers) if (l.class_name === 'BatchNormalization') l.config.momentum = 0.9;
const sb = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: topo }));
for (const l of sb.layers) l.trainable = true;
const model = composeModel(sb, buildHeadLayers([{ type: 'globalAveragePooling2d' }, { type: 'dense', units: 10, activation: 'softmax', useBias: true }], 1), 'x');
const mnist = await readDataset({ format: 'mnist', limit: {}, validation: 0, image: { size: [32, 32], channels: 3, fit: 'fill' } });
const pre = preprocessingFor({ mean: [0, 0, 0], std: [1, 1, 1], description: 'unit' }, { size: [32, 32], channels: 3, fit: 'fill' });
const idx = Array.from({ length: 200 }, (_, i) => i);
const x = imageBatch(await mnist.train.pixels(idx), pre); const y = oneHotBatch(mnist.train.labels, idx, 10);
const opt = tf.train.adam(0.01);
const acc = (training) => tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(model.apply(x, { training }), -1), tf.argMax(y, -1)), 'float32')).dataSync()[0]);
for (let e = 0; e < 30; e++) {
  for (let b = 0; b < 200; b += 20) { const xb = x.slice(b, 20), yb = y.slice(b, 20); opt.minimize(() => tf.mean(tf.metrics.categoricalCrossentropy(yb, model.apply(xb, { training: true })))); }
  if (e % 5 === 4) console.log(e, 'train-mode acc', acc(true).toFixed(3), 'inference acc', acc(false).toFixed(3), sb.weights.find(w => /bn_Conv1\/moving_var/.test(w.originalName)).read().dataSync().slice(0,2));
}
