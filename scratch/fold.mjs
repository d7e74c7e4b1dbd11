import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '/work/main/dist/src/engine/backend.js';
import { buildBase } from '/work/main/dist/src/engine/models.js';
import { loadZooArtifacts } from '/work/main/dist/src/engine/zoo.js';
import { foldBatchNorm } from '/work/main/dist/src/engine/fold-batch-norm.js';
await selectBackend('wasm');
for (const [cut, size] of [['out_relu', 96], ['block_13_expand_relu', 64], ['block_2_add', 32]]) {
  const base = await buildBase(loadZooArtifacts('mobilenet_v2'), cut, [size, size, 3]);
  const folded = await foldBatchNorm(base);
  const x = tf.randomUniform([32, size, size, 3]);
  const a = base.predict(x), b = folded.predict(x);
  const diff = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0], scale = tf.max(tf.abs(a)).dataSync()[0];
  const time = (m) => { tf.dispose(m.predict(x)); const s = performance.now(); for (let i = 0; i < 3; i++) tf.dispose(m.predict(x)); return ((performance.now() - s) / 3).toFixed(0); };
  console.log(cut, size, 'layers', base.layers.length, '→', folded.layers.length, 'max|diff|', diff, 'max|out|', scale, 'ms', time(base), '→', time(folded));
}
